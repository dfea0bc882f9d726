"""In-memory sessions, devices and agents: their indexes, the one filter matcher, change listeners and
the counters tests trust. The objects themselves are in model.py, timeouts in lifecycle.py, the stats
report in stats.py; routes validate requests and hand the store clean changes.

All mutation happens on the server's asyncio loop (or before it starts), so no locks: a request
handler, the timeout task and the churn task never interleave inside one method.

Listeners: `store.add_listener(fn)`; `fn(kind, data)` is called synchronously after every change with
kind "session" (the full session JSON as served), "device" (full device JSON) or "presence"
(`{"id": device_id, "present": bool, "last_seen": iso}`). `data` is a fresh copy each time.
"""

from __future__ import annotations

import heapq
import secrets
from bisect import bisect_left, insort
from collections import Counter
from typing import Callable, Iterable

from cobrowse_cli.sandbox.lifecycle import Deadlines, Timeouts
from cobrowse_cli.sandbox.model import (  # noqa: F401 - re-exported: the names other modules import from here
    AGENT_TOGGLE_VALUES,
    CODE_VALIDITY_MS,
    COLOURS,
    STATES,
    Agent,
    Device,
    Session,
    agent_id_for,
    matches_filters,
    random_id,
    session_json,
    snapshot,
)
from cobrowse_cli.sandbox.timeutil import iso, now_ms

Listener = Callable[[str, dict], None]


class Store:
    def __init__(self, timeouts: Timeouts | None = None, clock: Callable[[], int] = now_ms):
        self.timeouts = timeouts or Timeouts()
        self.deadlines = Deadlines(self.timeouts)
        self.clock = clock
        self._listeners: list[Listener] = []
        self.clear()

    # ------------------------------------------------------------------ bookkeeping
    def clear(self) -> None:
        """Forget all data and counters (listeners stay)."""
        self.sessions: dict[str, Session] = {}
        self.by_state: dict[str, dict[str, Session]] = {s: {} for s in STATES}
        # Per state, every session's sort_key (-key_ms, id) kept sorted: a bounded page is a bisect plus
        # the page (a real API has an index), not a scan of the state, so windowed clients pay O(log N + page).
        self.order_by_state: dict[str, list[tuple[int, str]]] = {s: [] for s in STATES}
        self.by_owner: dict[str | None, dict[str, Session]] = {}
        self.by_code: dict[str, Session] = {}
        self.by_control_token: dict[str, Session] = {}
        self.live_by_device: dict[str, set[str]] = {}
        self.devices: dict[str, Device] = {}
        self.devices_by_token: dict[str, Device] = {}
        self.agents: dict[str, Agent] = {}
        self.agents_by_sub: dict[str, Agent] = {}
        self.agents_by_token: dict[str, Agent] = {}
        self.deadlines.clear()
        self.end_counts: Counter[str] = Counter()
        self.end_reasons: Counter[str] = Counter()
        self.requests: Counter[tuple[str, str, int | str]] = Counter()
        self.deleted_recordings: set[str] = set()  # routes_recordings
        self.notifications: list[dict] = []  # device pushes, shown by /_sandbox/notifications

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, kind: str, data: dict) -> None:
        for fn in list(self._listeners):
            try:
                fn(kind, snapshot(data))
            except Exception:  # noqa: BLE001 - a broken listener must not break the API
                import logging

                logging.getLogger("cobrowse.sandbox").exception("store listener failed")

    def count_request(self, method: str, path: str, status: int | str) -> None:
        self.requests[(method, path, status)] += 1

    # ------------------------------------------------------------------ agents
    def agent_for(self, sub: str, *, name: str | None = None, role: str | None = None) -> Agent:
        """The agent behind a token's `sub`, created on first sight; name/role follow the latest token."""
        agent = self.agents_by_sub.get(sub)
        if agent is None:
            agent = Agent(
                id=agent_id_for(sub),
                sub=sub,
                name=name or sub.split("@")[0].replace(".", " ").title(),
                email=sub if "@" in sub else None,
                colour=COLOURS[len(self.agents) % len(COLOURS)],
                role=role,
            )
            self.agents[agent.id] = agent
            self.agents_by_sub[sub] = agent
            self.agents_by_token[agent.notification_token] = agent
        else:
            if name:
                agent.name = name
            agent.role = role
        return agent

    def find_agent(self, id_or_sub: str) -> Agent | None:
        return self.agents.get(id_or_sub) or self.agents_by_sub.get(id_or_sub)

    def user_json(self, agent: Agent, base_url: str) -> dict:
        return {
            "id": agent.id,
            "name": agent.name,
            "email": agent.email,
            "role": agent.role,
            "notification_token": agent.notification_token,
            "notification_url": base_url,
        }

    # ------------------------------------------------------------------ sessions
    def add_session(self, s: Session) -> None:
        """Insert a fully built session (seeding and creation both end here)."""
        self.sessions[s.id] = s
        self.by_state[s.state][s.id] = s
        insort(self.order_by_state[s.state], s.sort_key)
        self.by_owner.setdefault(s.owner_id, {})[s.id] = s
        self.by_code[s.data["code"]] = s
        self.by_control_token[s.data["control_token"]] = s
        if s.state != "ended" and s.device_id:
            self.live_by_device.setdefault(s.device_id, set()).add(s.id)
        self.deadlines.schedule(s)

    def new_code(self) -> str:
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            if code not in self.by_code:
                return code

    def create_session(
        self,
        *,
        agent: Agent | None,
        custom_data: dict | None = None,
        state: str = "pending",
        device_id: str | None = None,
        connected: bool = True,
        fields: dict | None = None,
    ) -> Session:
        now = self.clock()
        device = self.devices.get(device_id) if device_id else None
        data = session_json(
            id=random_id(),
            code=self.new_code(),
            state="pending",
            custom_data=dict(custom_data or {}),
            agent=agent.ref() if agent else None,
            agents=[agent.ref()] if agent else [],
            created_ms=now,
            control_token=random_id(32),
            device=dict(device.data["device"]) if device else None,
        )
        for k, v in (fields or {}).items():
            if k in ("full_device", "remote_control", "calling") and v in AGENT_TOGGLE_VALUES:
                data[k] = v
            elif k in ("recorded", "virtual") and isinstance(v, bool):
                data[k] = v
        s = Session(data, now, agent.id if agent else None, device_id, connected, now)
        self.add_session(s)
        if state != "pending":
            self.set_state(s, state, reason="device_ended", emit=False)
        self._emit("session", s.data)
        return s

    def get_session(self, id_or_code: str) -> Session | None:
        s = self.sessions.get(id_or_code)
        if s is None and len(id_or_code) == 6 and id_or_code.isdigit():
            s = self.by_code.get(id_or_code)
        return s

    def set_state(self, s: Session, state: str, *, reason: str | None = None, emit: bool = True) -> bool:
        """Move a session along its lifecycle. Returns False when nothing changed (e.g. already ended)."""
        old = s.state
        if state == old or old == "ended":
            return False
        now = self.clock()
        del self.by_state[old][s.id]
        self.by_state[state][s.id] = s
        order = self.order_by_state[old]
        del order[bisect_left(order, s.sort_key)]
        s.data["state"] = state
        s.since_ms = now
        if state == "active":
            s.data["activated"] = iso(now)
            s.set_key(now)
        elif state == "ended":
            s.data["ended"] = iso(now)
            s.data["ended_reason"] = reason
            # the exactly-once truth for the reliability tests
            self.end_counts[s.id] += 1
            self.end_reasons[reason or "unknown"] += 1
            if s.device_id and s.device_id in self.live_by_device:
                self.live_by_device[s.device_id].discard(s.id)
        insort(self.order_by_state[state], s.sort_key)
        s.data["updated"] = iso(now)
        self.deadlines.schedule(s)
        if emit:
            self._emit("session", s.data)
        return True

    def end_session(self, s: Session, reason: str) -> bool:
        return self.set_state(s, "ended", reason=reason)

    def update_session(self, s: Session, *, changes: dict | None = None, custom_data: dict | None = None,
                       end: bool = False) -> Session:
        """Apply an agent's validated PUT (routes_sessions validates): toggles, the new custom_data, ending."""
        changed = False
        if changes or custom_data is not None:
            s.data.update(changes or {})
            if custom_data is not None:
                s.data["custom_data"] = custom_data
            s.data["updated"] = iso(self.clock())
            changed = True
        if end and s.state != "ended":
            self.set_state(s, "ended", reason="agent_ended")  # emits with every change included
        elif changed:
            self._emit("session", s.data)
        return s

    def apply_device_toggles(self, s: Session, answer: str) -> None:
        """The device user answers pending requests for remote control / full device ('on' or 'rejected')."""
        changed = False
        for key in ("remote_control", "full_device"):
            if s.data[key] == "requested":
                s.data[key] = answer
                changed = True
        if changed:
            s.data["updated"] = iso(self.clock())
            self._emit("session", s.data)

    def set_session_connected(self, s: Session, connected: bool) -> None:
        if s.connected == connected:
            return
        s.connected = connected
        if s.state == "active":
            s.since_ms = self.clock()
        self.deadlines.schedule(s)

    def list_sessions(
        self,
        *,
        states: Iterable[str] | None,
        owner_ids: Iterable[str | None] | None,
        filters: dict[str, list[str]],
        before_us: int | None,
        after_us: int | None,
        limit: int,
        before_inclusive: bool = False,
        after_inclusive: bool = False,
        order_created: bool = False,
    ) -> list[dict]:
        """owner_ids None means every agent. Dates compare strictly (unless *_inclusive, a server variant)
        against activated-else-created; newest first by that, or by `created` with order_created."""
        # Scan the smaller of the state indexes and the owner indexes, then check the other condition.
        state_pools = [self.by_state[st] for st in states] if states else [self.sessions]
        state_set: set[str] | None = None
        owners_check: set[str | None] | None = None
        pools = state_pools
        if owner_ids is not None:
            owner_ids = list(owner_ids)
            owner_pools = [self.by_owner.get(o, {}) for o in owner_ids]
            if sum(map(len, owner_pools)) <= sum(map(len, state_pools)):
                pools, state_set = owner_pools, (set(states) if states else None)
            else:
                owners_check = set(owner_ids)

        def keep(s: Session) -> bool:
            if state_set is not None and s.data["state"] not in state_set:
                return False
            if owners_check is not None and s.owner_id not in owners_check:
                return False
            if before_us is not None and not (s.key_ms * 1000 <= before_us if before_inclusive else s.key_ms * 1000 < before_us):
                return False
            if after_us is not None and not (s.key_ms * 1000 >= after_us if after_inclusive else s.key_ms * 1000 > after_us):
                return False
            return not filters or matches_filters(s.data["custom_data"], filters)

        if order_created or pools is not state_pools:  # by created, or a few owners' sessions: scan those
            candidates = (s for pool in pools for s in pool.values() if keep(s))
            order = Session.created_sort_key if order_created else (lambda s: s.sort_key)
            return [s.data for s in heapq.nsmallest(limit, candidates, key=order)]
        # Newest first from the per-state indexes, starting at the `before` bound: only the page is read
        # (plus what owners/filters reject), so a window deep in a big account costs what the first page does.
        hi_ms = None if before_us is None else (before_us // 1000 if before_inclusive else (before_us - 1) // 1000)
        lo_ms = None if after_us is None else (-(-after_us // 1000) if after_inclusive else after_us // 1000 + 1)
        runs = [self._indexed(st, hi_ms, lo_ms) for st in (states or STATES)]
        rows: list[dict] = []
        if limit <= 0:
            return rows
        for key in heapq.merge(*runs) if len(runs) > 1 else runs[0]:
            s = self.sessions[key[1]]
            if (owners_check is None or s.owner_id in owners_check) and (
                    not filters or matches_filters(s.data["custom_data"], filters)):
                rows.append(s.data)
                if len(rows) >= limit:
                    break
        return rows

    def _indexed(self, state: str, hi_ms: int | None, lo_ms: int | None):
        """Sort keys of one state with lo_ms <= key_ms <= hi_ms (either side open when None), newest first."""
        order = self.order_by_state[state]
        start = 0 if hi_ms is None else bisect_left(order, (-hi_ms, ""))
        stop = len(order) if lo_ms is None else bisect_left(order, (-lo_ms + 1, ""))
        return (order[i] for i in range(start, stop))

    def count_active(self, *, owner_id: str | None = None, filters: dict[str, list[str]] | None = None) -> int:
        n = 0
        for s in self.by_state["active"].values():
            if owner_id is not None and s.owner_id != owner_id:
                continue
            if filters and not matches_filters(s.data["custom_data"], filters):
                continue
            n += 1
        return n

    # ------------------------------------------------------------------ timeouts (lifecycle.py)
    def set_timeouts(self, **seconds: float) -> None:
        """Change {pending, authorizing, inactivity}; every live session's deadline follows."""
        for key, value in seconds.items():
            setattr(self.timeouts, key, value)
        self.reschedule_all()

    def reschedule_all(self) -> None:
        """After the timeouts change."""
        live = (s for st in ("pending", "authorizing", "active") for s in self.by_state[st].values())
        self.deadlines.reschedule(live)

    def expire_due(self) -> int:
        """End every session whose timeout has passed; returns how many ended. Called by a background task."""
        return sum(self.end_session(s, reason) for s, reason in self.deadlines.pop_due(self.clock(), self.sessions))

    # ------------------------------------------------------------------ devices
    def add_device(self, d: Device) -> None:
        self.devices[d.id] = d
        self.devices_by_token[d.data["notification_token"]] = d

    def create_device(
        self, *, device_id: str | None = None, custom_data: dict | None = None, info: dict | None = None,
        connectable: bool = True, online: bool = False,
    ) -> Device:
        now = self.clock()
        data = {
            "id": device_id or random_id(),
            "custom_data": dict(custom_data or {}),
            "device": {
                "platform": "web",
                "device": "Chrome",
                "os_version": "",
                "app_name": "Sandbox app",
                "sdk_version": "2.40.0",
                **(info or {}),
            },
            "connectable": connectable,
            "last_active": None,
            "notification_token": random_id(32),
        }
        d = Device(data, now, present=online)
        self.add_device(d)
        self._emit("device", d.data)
        return d

    def update_device(self, d: Device, changes: dict) -> Device:
        """Apply validated changes ({custom_data, connectable, device}: whole new values); the device was active now."""
        d.data.update(changes)
        d.set_last_active(self.clock())
        self._emit("device", d.data)
        return d

    def list_devices(
        self, *, filters: dict[str, list[str]], before_us: int | None, after_us: int | None, limit: int,
        before_inclusive: bool = False, after_inclusive: bool = False,
    ) -> list[dict]:
        def keep(d: Device) -> bool:
            t = d.last_active_ms * 1000
            if before_us is not None and not (t <= before_us if before_inclusive else t < before_us):
                return False
            if after_us is not None and not (t >= after_us if after_inclusive else t > after_us):
                return False
            return matches_filters(d.data["custom_data"], filters)

        top = heapq.nsmallest(limit, (d for d in self.devices.values() if keep(d)), key=lambda d: d.sort_key)
        return [d.data for d in top]

    def device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def attach_device(self, s: Session, d: Device) -> None:
        """The device a session runs on (the customer's side joining); connected when the device is online."""
        s.device_id = d.id
        s.data["device"] = dict(d.data["device"])
        self.live_by_device.setdefault(d.id, set()).add(s.id)
        s.connected = d.present

    def active_sessions(self) -> list[Session]:
        return list(self.by_state["active"].values())

    def presence(self, device_id: str) -> dict | None:
        d = self.devices.get(device_id)
        if d is None:
            return None
        return {"id": d.id, "present": d.present, "last_seen": iso(d.last_seen_ms)}

    def set_presence(self, device_id: str, present: bool) -> dict | None:
        """A device's socket came or went: presence event, and its live sessions (dis)connect."""
        d = self.devices.get(device_id)
        if d is None:
            return None
        now = self.clock()
        changed = d.present != present
        d.present = present
        d.last_seen_ms = now
        if changed:
            d.set_last_active(now)
        for sid in list(self.live_by_device.get(device_id, ())):
            s = self.sessions.get(sid)
            if s is not None:
                self.set_session_connected(s, present)
        info = self.presence(device_id)
        self._emit("presence", info)
        return info

    # ------------------------------------------------------------------ the realtime socket's look-ups
    def session_by_control_token(self, token: str) -> dict | None:
        s = self.by_control_token.get(token)
        return snapshot(s.data) if s else None

    def device_by_notification_token(self, token: str) -> dict | None:
        d = self.devices_by_token.get(token)
        return snapshot(d.data) if d else None

    def agent_by_notification_token(self, token: str) -> dict | None:
        a = self.agents_by_token.get(token)
        return {**a.ref(), "sub": a.sub, "role": a.role} if a else None

    # ------------------------------------------------------------------ counters
    def stats(self) -> dict:
        from cobrowse_cli.sandbox.stats import stats

        return stats(self)
