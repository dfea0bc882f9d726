"""In-memory sessions, devices and agents, with change listeners and the counters tests trust.

All mutation happens on the server's asyncio loop (or before it starts), so no locks: a request
handler, the timeout task and the churn task never interleave inside one method.

Listeners: `store.add_listener(fn)`; `fn(kind, data)` is called synchronously after every change with
kind "session" (the full session JSON as served), "device" (full device JSON) or "presence"
(`{"id": device_id, "present": bool, "last_seen": iso}`). `data` is a fresh copy each time.
"""

from __future__ import annotations

import heapq
import secrets
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from cobrowse_cli.sandbox.errors import bad_request
from cobrowse_cli.sandbox.timeutil import iso, now_ms, parse_iso_us

STATES = ("pending", "authorizing", "active", "ended")
ENDED_REASONS = (
    "device_ended",
    "agent_ended",
    "pending_timeout",
    "authorizing_timeout",
    "active_timeout",
    "limit_enforcement",
)
TOGGLE_VALUES = ("on", "off", "requested", "rejected")
AGENT_TOGGLE_VALUES = ("requested", "off")  # an agent asks; only the device user turns things on
CODE_VALIDITY_MS = 20 * 60 * 1000
COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#469990")
_ID_ALPHABET = string.ascii_letters + string.digits

Listener = Callable[[str, dict], None]


def random_id(n: int = 20) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(n))


@dataclass
class Timeouts:
    """Seconds before the server ends a session on its own (see the API doc's lifecycle)."""

    pending: float = 900.0
    authorizing: float = 300.0
    inactivity: float = 300.0


@dataclass
class Agent:
    id: str
    sub: str
    name: str
    email: str | None
    colour: str
    role: str | None = None
    notification_token: str = field(default_factory=lambda: random_id(32))

    def ref(self) -> dict:
        return {"id": self.id, "name": self.name, "colour": self.colour, "email": self.email}


class Session:
    """`data` is the wire JSON; the rest is bookkeeping the API does not show."""

    __slots__ = ("data", "key_ms", "sort_key", "owner_id", "device_id", "connected", "since_ms", "_created_key")

    def __init__(self, data: dict, key_ms: int, owner_id: str | None, device_id: str | None, connected: bool, since_ms: int):
        self.data = data
        self.owner_id = owner_id
        self.device_id = device_id
        self.connected = connected
        self.since_ms = since_ms  # entered the current state, or lost its device (active)
        self._created_key: tuple | None = None
        self.set_key(key_ms)

    def set_key(self, key_ms: int) -> None:
        # Newest first by activated (else created); ties by id so the order is total.
        self.key_ms = key_ms
        self.sort_key = (-key_ms, self.data["id"])

    def created_sort_key(self) -> tuple:
        """Newest first by `created` (the order=created variant); computed on first use, created never changes."""
        if self._created_key is None:
            self._created_key = (-parse_iso_us(self.data["created"]), self.data["id"])
        return self._created_key

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def state(self) -> str:
        return self.data["state"]


class Device:
    __slots__ = ("data", "last_active_ms", "sort_key", "present", "last_seen_ms")

    def __init__(self, data: dict, last_active_ms: int, present: bool = False):
        self.data = data
        self.present = present
        self.last_seen_ms = last_active_ms
        self.set_last_active(last_active_ms)

    def set_last_active(self, ms: int) -> None:
        self.last_active_ms = ms
        self.sort_key = (-ms, self.data["id"])
        self.data["last_active"] = iso(ms)

    @property
    def id(self) -> str:
        return self.data["id"]


def snapshot(data: dict) -> dict:
    """A copy deep enough that later in-place updates do not leak into an emitted event."""
    out = dict(data)
    for k, v in out.items():
        if isinstance(v, dict):
            out[k] = dict(v)
        elif isinstance(v, list):
            out[k] = [dict(x) if isinstance(x, dict) else x for x in v]
    return out


class Store:
    def __init__(self, timeouts: Timeouts | None = None, clock: Callable[[], int] = now_ms):
        self.timeouts = timeouts or Timeouts()
        self.clock = clock
        self._listeners: list[Listener] = []
        self.clear()

    # ------------------------------------------------------------------ bookkeeping
    def clear(self) -> None:
        """Forget all data and counters (listeners stay)."""
        self.sessions: dict[str, Session] = {}
        self.by_state: dict[str, dict[str, Session]] = {s: {} for s in STATES}
        self.by_owner: dict[str | None, dict[str, Session]] = {}
        self.by_code: dict[str, Session] = {}
        self.by_control_token: dict[str, Session] = {}
        self.live_by_device: dict[str, set[str]] = {}
        self.devices: dict[str, Device] = {}
        self.devices_by_token: dict[str, Device] = {}
        self.agents: dict[str, Agent] = {}
        self.agents_by_sub: dict[str, Agent] = {}
        self.agents_by_token: dict[str, Agent] = {}
        self._deadlines: list[tuple[int, str]] = []
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
        self.by_owner.setdefault(s.owner_id, {})[s.id] = s
        self.by_code[s.data["code"]] = s
        self.by_control_token[s.data["control_token"]] = s
        if s.state != "ended" and s.device_id:
            self.live_by_device.setdefault(s.device_id, set()).add(s.id)
        self._schedule(s)

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
        data = {
            "id": random_id(),
            "code": self.new_code(),
            "state": "pending",
            "custom_data": dict(custom_data or {}),
            "agent": agent.ref() if agent else None,
            "agents": [agent.ref()] if agent else [],
            "created": iso(now),
            "updated": iso(now),
            "activated": None,
            "ended": None,
            "expires": iso(now + CODE_VALIDITY_MS),
            "ended_reason": None,
            "recorded": False,
            "device": dict(device.data["device"]) if device else {},
            "full_device": "off",
            "remote_control": "off",
            "calling": "off",
            "virtual": False,
            "control_token": random_id(32),
        }
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
        s.data["updated"] = iso(now)
        self._schedule(s)
        if emit:
            self._emit("session", s.data)
        return True

    def end_session(self, s: Session, reason: str) -> bool:
        return self.set_state(s, "ended", reason=reason)

    def update_session(self, s: Session, body: dict) -> Session:
        """An agent's PUT: validate everything first, then apply, so a 400 changes nothing."""
        if "id" in body and body["id"] != s.id:
            raise bad_request("id in body does not match the session in the path")
        changes: dict[str, Any] = {}
        new_state = body.get("state")
        if "state" in body:
            if new_state not in STATES:
                raise bad_request(f"invalid state {new_state!r}; expected one of {', '.join(STATES)}", "invalid_state")
            if new_state not in (s.state, "ended"):
                raise bad_request(f"cannot change state from {s.state} to {new_state}", "invalid_state_transition")
        for key in ("remote_control", "full_device", "calling"):
            if key in body:
                value = body[key]
                if value not in AGENT_TOGGLE_VALUES:
                    raise bad_request(f"{key} may only be set to 'requested' or 'off'", "invalid_value")
                if s.state == "ended" and value != s.data[key]:
                    raise bad_request("session has ended", "session_ended")
                if value != s.data[key]:
                    changes[key] = value
        custom = None
        if "custom_data" in body:
            patch = body["custom_data"]
            if not isinstance(patch, dict):
                raise bad_request("custom_data must be an object", "invalid_value")
            custom = dict(s.data["custom_data"])
            for k, v in patch.items():
                if v is None:
                    custom.pop(k, None)
                else:
                    custom[k] = v
            if custom == s.data["custom_data"]:
                custom = None
        if s.state == "ended" and (changes or custom is not None):
            raise bad_request("session has ended", "session_ended")

        changed = False
        if changes or custom is not None:
            s.data.update(changes)
            if custom is not None:
                s.data["custom_data"] = custom
            s.data["updated"] = iso(self.clock())
            changed = True
        if new_state == "ended" and s.state != "ended":
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
        self._schedule(s)

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
            if filters:
                custom = s.data["custom_data"]
                for key, values in filters.items():
                    if key not in custom or _as_filter_string(custom[key]) not in values:
                        return False
            return True

        candidates = (s for pool in pools for s in pool.values() if keep(s))
        order = Session.created_sort_key if order_created else (lambda s: s.sort_key)
        top = heapq.nsmallest(limit, candidates, key=order)
        return [s.data for s in top]

    def count_active(self, *, owner_id: str | None = None, filters: dict[str, list[str]] | None = None) -> int:
        n = 0
        for s in self.by_state["active"].values():
            if owner_id is not None and s.owner_id != owner_id:
                continue
            if filters and any(
                k not in s.data["custom_data"] or _as_filter_string(s.data["custom_data"][k]) not in v
                for k, v in filters.items()
            ):
                continue
            n += 1
        return n

    # ------------------------------------------------------------------ timeouts
    def _deadline(self, s: Session) -> int | None:
        t = self.timeouts
        if s.state == "pending":
            return s.since_ms + int(t.pending * 1000)
        if s.state == "authorizing":
            return s.since_ms + int(t.authorizing * 1000)
        if s.state == "active" and not s.connected:
            return s.since_ms + int(t.inactivity * 1000)
        return None

    def _schedule(self, s: Session) -> None:
        deadline = self._deadline(s)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, s.id))

    def reschedule_all(self) -> None:
        """After the timeouts change: rebuild the deadline heap from scratch."""
        self._deadlines = []
        for pool in (self.by_state["pending"], self.by_state["authorizing"], self.by_state["active"]):
            for s in pool.values():
                self._schedule(s)

    def expire_due(self) -> int:
        """End every session whose timeout has passed; returns how many ended. Called by a background task."""
        now = self.clock()
        ended = 0
        while self._deadlines and self._deadlines[0][0] <= now:
            _, sid = heapq.heappop(self._deadlines)
            s = self.sessions.get(sid)
            if s is None:
                continue
            deadline = self._deadline(s)  # stale heap entries recompute to None or later
            if deadline is None or deadline > now:
                continue
            reason = f"{s.state}_timeout" if s.state != "active" else "active_timeout"
            if self.end_session(s, reason):
                ended += 1
        return ended

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

    def update_device(self, d: Device, body: dict) -> Device:
        if "custom_data" in body:
            patch = body["custom_data"]
            if not isinstance(patch, dict):
                raise bad_request("custom_data must be an object", "invalid_value")
            custom = dict(d.data["custom_data"])
            for k, v in patch.items():
                if v is None:
                    custom.pop(k, None)
                else:
                    custom[k] = v
            d.data["custom_data"] = custom
        if "connectable" in body:
            if not isinstance(body["connectable"], bool):
                raise bad_request("connectable must be a boolean", "invalid_value")
            d.data["connectable"] = body["connectable"]
        if "device" in body and isinstance(body["device"], dict):
            d.data["device"] = {**d.data["device"], **body["device"]}
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
            custom = d.data["custom_data"]
            return all(k in custom and _as_filter_string(custom[k]) in v for k, v in filters.items())

        top = heapq.nsmallest(limit, (d for d in self.devices.values() if keep(d)), key=lambda d: d.sort_key)
        return [d.data for d in top]

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
        by_method: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        rows = []
        for (method, path, status), n in sorted(self.requests.items(), key=lambda kv: (kv[0][1], kv[0][0], str(kv[0][2]))):
            by_method[method] += n
            by_status[str(status)] += n
            rows.append({"method": method, "path": path, "status": status, "count": n})
        return {
            "requests": {"total": sum(by_method.values()), "by_method": dict(by_method), "by_status": dict(by_status), "by_route": rows},
            "ends": {
                "total": sum(self.end_counts.values()),
                "by_reason": dict(self.end_reasons),
                "by_session": dict(self.end_counts),
                "max_per_session": max(self.end_counts.values(), default=0),
            },
            "sessions": {st: len(pool) for st, pool in self.by_state.items()},
            "devices": len(self.devices),
            "agents": len(self.agents),
        }


def agent_id_for(sub: str) -> str:
    """Stable per sub, so seeded data and freshly minted tokens agree on who owns what."""
    import hashlib

    return "ag_" + hashlib.sha256(sub.encode()).hexdigest()[:16]


def _as_filter_string(value: Any) -> str:
    # Query strings are strings: compare custom_data values the way they would be written in a URL.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
