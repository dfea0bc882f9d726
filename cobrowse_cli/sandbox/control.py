"""The control surface under `/_sandbox/`: no auth, loopback clients only, never faulted.

It plays the customer's side (devices joining, accepting, ending, going offline) and exposes the
truth the reliability tests compare against. Endpoints:

  POST /_sandbox/reset                      re-seed ({sessions, active, devices, seed, busy, now}); clears faults,
                                            churn and counters; restores the serve-time timeouts
  GET|POST /_sandbox/faults                 read / change fault settings (see faults.FaultConfig)
  GET|POST /_sandbox/timeouts               read / change {pending, authorizing, inactivity} seconds
  GET /_sandbox/stats                       request counts, end counts per session (the exactly-once truth)
  GET /_sandbox/truth/active-count          {"count": n}; ?agent=<id or sub>, ?filter_<key>=<value>
  POST /_sandbox/sessions                   {count, state, custom_data, agent, device, connected} as devices would
  POST /_sandbox/sessions/<id>/<action>     authorize | accept | reject | activate | end | connect | disconnect
  POST /_sandbox/devices                    {id?, custom_data, device, connectable, online}
  PUT /_sandbox/devices/<id>                {custom_data (merged), connectable, device}
  POST /_sandbox/devices/<id>/online|offline
  GET|POST /_sandbox/churn                  {create_per_s, end_per_s, agent?}: background creation and ending
  GET /_sandbox/sockets, POST /_sandbox/sockets/drop   open realtime sockets / close them all (code 1012)
"""

from __future__ import annotations

import asyncio
import ipaddress
import random

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.errors import bad_request, forbidden, not_found
from cobrowse_cli.sandbox.faults import FaultConfig
from cobrowse_cli.sandbox.seed import DEFAULT_AGENT, SeedParams, random_custom_data, seed_store
from cobrowse_cli.sandbox.store import STATES
from cobrowse_cli.sandbox.timeutil import parse_iso_us
from cobrowse_cli.sandbox.web import endpoint, json_body, json_response, last_value, parse_filters

MAX_CREATE = 100_000
RETURN_SESSIONS_UP_TO = 1000


def _loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host in ("localhost", "testclient")
    if not ok:
        raise forbidden("the control surface answers loopback clients only")


def control(fn):
    @endpoint
    async def wrapper(request: Request):
        _loopback_only(request)
        return await fn(request)

    wrapper.__name__ = fn.__name__
    return wrapper


def _int(body: dict, key: str, default: int, lo: int = 0, hi: int = 1_000_000) -> int:
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise bad_request(f"{key} must be an integer in [{lo}, {hi}]")
    return v


@control
async def reset(request: Request):
    body = await json_body(request)
    state = request.app.state
    anchor = None
    if body.get("now") is not None:
        try:
            anchor = parse_iso_us(str(body["now"])) // 1000
        except ValueError:
            raise bad_request("now must be an ISO-8601 date") from None
    params = SeedParams(
        sessions=_int(body, "sessions", 0),
        active=_int(body, "active", 0),
        devices=_int(body, "devices", 0),
        seed=_int(body, "seed", 1, -(2**62), 2**62),
        busy=bool(body.get("busy", False)),
        anchor_ms=anchor,
    )
    state.churn.stop()
    state.faults.set(FaultConfig())
    state.media.reset()
    serve_timeouts = state.options.timeouts  # the values serve started with, whatever tests changed since
    t = state.store.timeouts
    t.pending, t.authorizing, t.inactivity = serve_timeouts.pending, serve_timeouts.authorizing, serve_timeouts.inactivity
    state.store.clear()
    state.seed_params = seed_store(state.store, params)
    return json_response({"ok": True, "seed": state.seed_params.__dict__, "stats": state.store.stats()["sessions"]})


@control
async def faults(request: Request):
    state = request.app.state
    if request.method == "POST":
        body = await json_body(request)
        base = FaultConfig() if body.pop("reset", False) else state.faults.config
        state.faults.set(base.updated(body))
    return json_response(state.faults.config.to_json())


@control
async def timeouts(request: Request):
    t = request.app.state.store.timeouts
    if request.method == "POST":
        body = await json_body(request)
        for key in ("pending", "authorizing", "inactivity"):
            if key in body:
                v = body[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise bad_request(f"{key} must be a positive number of seconds")
        for key in ("pending", "authorizing", "inactivity"):
            if key in body:
                setattr(t, key, float(body[key]))
        request.app.state.store.reschedule_all()
    return json_response({"pending": t.pending, "authorizing": t.authorizing, "inactivity": t.inactivity})


@control
async def stats(request: Request):
    return json_response(request.app.state.store.stats())


@control
async def active_count(request: Request):
    store = request.app.state.store
    who = last_value(request, "agent")
    owner = None
    if who:
        agent = store.find_agent(who)
        owner = agent.id if agent else who
    return json_response({"count": store.count_active(owner_id=owner, filters=parse_filters(request))})


@control
async def create_sessions(request: Request):
    body = await json_body(request)
    store = request.app.state.store
    count = _int(body, "count", 1, 1, MAX_CREATE)
    state = body.get("state", "pending")
    if state not in STATES:
        raise bad_request(f"state must be one of {STATES}")
    custom = body.get("custom_data") or {}
    if not isinstance(custom, dict):
        raise bad_request("custom_data must be an object")
    agent = None
    who = body.get("agent")
    if who is not None and (not isinstance(who, str) or not who):
        raise bad_request("agent must be an agent id or sub (string)")
    if who:
        agent = store.find_agent(who) or store.agent_for(who)
    device_id = body.get("device")
    if device_id is not None and not isinstance(device_id, str):
        raise bad_request("device must be a device id (string)")
    if device_id is not None and device_id not in store.devices:
        raise not_found(f"no device {device_id!r}")
    connected = body.get("connected", True)
    if not isinstance(connected, bool):
        raise bad_request("connected must be a boolean")
    created = [
        store.create_session(agent=agent, custom_data=custom, state=state, device_id=device_id, connected=connected)
        for _ in range(count)
    ]
    out = {"count": len(created), "ids": [s.id for s in created]}
    if count <= RETURN_SESSIONS_UP_TO:
        out["sessions"] = [s.data for s in created]
    return json_response(out)


@control
async def session_action(request: Request):
    store = request.app.state.store
    s = store.get_session(request.path_params["id"])
    if s is None:
        raise not_found(f"no session {request.path_params['id']!r}")
    action = request.path_params["action"]
    body = await json_body(request)
    live = s.state != "ended"
    if action == "authorize":
        if s.state != "pending":
            raise bad_request(f"cannot authorize a {s.state} session")
        store.set_state(s, "authorizing")
    elif action in ("accept", "activate"):
        # the device user says yes: to the session (pending/authorizing -> active) and to open requests
        if not live:
            raise bad_request("session has ended")
        if body.get("device") is not None:
            if not isinstance(body["device"], str):
                raise bad_request("device must be a device id (string)")
            _attach_device(store, s, body["device"])
        if s.state != "active":
            store.set_session_connected(s, True)
            store.set_state(s, "active")
        if action == "accept":
            store.apply_device_toggles(s, "on")
    elif action == "reject":
        if not live:
            raise bad_request("session has ended")
        store.apply_device_toggles(s, "rejected")
    elif action == "end":
        store.end_session(s, "device_ended")  # a no-op on an ended session, like the API
    elif action in ("connect", "disconnect"):
        store.set_session_connected(s, action == "connect")
    else:
        raise not_found(f"unknown action {action!r}")
    return json_response(s.data)


def _attach_device(store, s, device_id: str) -> None:
    d = store.devices.get(device_id)
    if d is None:
        raise not_found(f"no device {device_id!r}")
    s.device_id = d.id
    s.data["device"] = dict(d.data["device"])
    store.live_by_device.setdefault(d.id, set()).add(s.id)
    s.connected = d.present


@control
async def create_device(request: Request):
    body = await json_body(request)
    store = request.app.state.store
    if body.get("id") is not None and (not isinstance(body["id"], str) or body["id"] in store.devices):
        raise bad_request("id must be a new device id string")
    for key, kind, what in (("custom_data", dict, "an object"), ("device", dict, "an object"),
                            ("connectable", bool, "a boolean"), ("online", bool, "a boolean")):
        if body.get(key) is not None and not isinstance(body[key], kind):
            raise bad_request(f"{key} must be {what}")
    d = store.create_device(
        device_id=body.get("id"),
        custom_data=body.get("custom_data"),
        info=body.get("device"),
        connectable=bool(body.get("connectable", True)),
    )
    if body.get("online"):
        store.set_presence(d.id, True)
    return json_response(d.data)


@control
async def update_device(request: Request):
    store = request.app.state.store
    d = store.devices.get(request.path_params["id"])
    if d is None:
        raise not_found(f"no device {request.path_params['id']!r}")
    store.update_device(d, await json_body(request, required=True))
    return json_response(d.data)


@control
async def device_presence(request: Request):
    store = request.app.state.store
    action = request.path_params["action"]
    if action not in ("online", "offline"):
        raise not_found(f"unknown action {action!r}")
    info = store.set_presence(request.path_params["id"], action == "online")
    if info is None:
        raise not_found(f"no device {request.path_params['id']!r}")
    return json_response(info)


class Churn:
    """Keeps creating active sessions and ending random active ones, on the server loop."""

    TICK_S = 0.05

    def __init__(self, state):
        self.state = state
        self.create_per_s = 0.0
        self.end_per_s = 0.0
        self.agent: str | None = None
        self._task: asyncio.Task | None = None
        self._rng = random.Random(7)

    def to_json(self) -> dict:
        return {"create_per_s": self.create_per_s, "end_per_s": self.end_per_s, "agent": self.agent, "running": self._task is not None}

    def start(self, create_per_s: float, end_per_s: float, agent: str | None) -> None:
        self.stop()
        self.create_per_s, self.end_per_s, self.agent = create_per_s, end_per_s, agent
        if create_per_s or end_per_s:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.create_per_s = self.end_per_s = 0.0

    async def _run(self) -> None:
        owed_create = owed_end = 0.0
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.TICK_S)
            now = loop.time()
            dt, last = now - last, now
            owed_create += self.create_per_s * dt
            owed_end += self.end_per_s * dt
            store = self.state.store  # looked up each tick: reset replaces the data, not this task
            agent = store.agent_for(self.agent or DEFAULT_AGENT)
            while owed_create >= 1:
                owed_create -= 1
                store.create_session(agent=agent, custom_data=random_custom_data(self._rng), state="active")
            n_end = int(owed_end)
            if n_end:
                owed_end -= n_end
                active = list(store.by_state["active"].values())
                for s in self._rng.sample(active, min(n_end, len(active))):
                    store.end_session(s, "device_ended")


@control
async def churn(request: Request):
    c: Churn = request.app.state.churn
    if request.method == "POST":
        body = await json_body(request)
        rates = []
        for key in ("create_per_s", "end_per_s"):
            v = body.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 10_000:
                raise bad_request(f"{key} must be a number in [0, 10000]")
            rates.append(float(v))
        agent = body.get("agent")
        if agent is not None and not isinstance(agent, str):
            raise bad_request("agent must be an agent id or sub (string)")
        c.start(rates[0], rates[1], agent)
    return json_response(c.to_json())


@control
async def sockets(request: Request):
    """GET: how many realtime sockets are open (and subscribed to something); POST .../drop: close them all (1012)."""
    from cobrowse_cli.sandbox import realtime

    store = request.app.state.store
    if request.url.path.endswith("/drop"):
        return json_response({"dropped": realtime.drop_all_sockets(store)})
    return json_response({"open": realtime.open_socket_count(store), "subscribed": realtime.subscribed_socket_count(store)})


@control
async def health(request: Request):
    return json_response({"ok": True})


ROUTES = [
    Route("/_sandbox/health", health, methods=["GET"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
    Route("/_sandbox/timeouts", timeouts, methods=["GET", "POST"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/truth/active-count", active_count, methods=["GET"]),
    Route("/_sandbox/sessions", create_sessions, methods=["POST"]),
    Route("/_sandbox/sessions/{id}/{action}", session_action, methods=["POST"]),
    Route("/_sandbox/devices", create_device, methods=["POST"]),
    Route("/_sandbox/devices/{id}", update_device, methods=["PUT"]),
    Route("/_sandbox/devices/{id}/{action}", device_presence, methods=["POST"]),
    Route("/_sandbox/churn", churn, methods=["GET", "POST"]),
    Route("/_sandbox/sockets", sockets, methods=["GET"]),
    Route("/_sandbox/sockets/drop", sockets, methods=["POST"]),
]
