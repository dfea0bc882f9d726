"""The control surface under `/_sandbox/`: no auth, loopback clients only, never faulted.

It plays the customer's side (devices joining, accepting, ending, going offline), switches server
variants, expires tokens, and exposes the truth the reliability tests compare against.
`GET /_sandbox/` lists every endpoint with a one-line description (the ENDPOINTS table at the bottom).
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
from cobrowse_cli.sandbox.model import STATES
from cobrowse_cli.sandbox.timeutil import parse_iso_us
from cobrowse_cli.sandbox.variants import DESCRIPTIONS, UnknownVariant, parse_variants
from cobrowse_cli.sandbox.web import endpoint, json_body, json_response, last_value, merged_custom_data, parse_filters

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
    wrapper.__doc__ = fn.__doc__  # the index's description for routes other modules add
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
    variants = state.options.variants
    if "variants" in body:
        variants = _variants(body["variants"])
    state.churn.stop()
    state.faults.set(FaultConfig())
    serve_timeouts = state.options.timeouts  # the values serve started with, whatever tests changed since
    t = state.store.timeouts
    t.pending, t.authorizing, t.inactivity = serve_timeouts.pending, serve_timeouts.authorizing, serve_timeouts.inactivity
    state.store.clear()
    state.auth.forget_expiries()
    state.variants = variants
    state.seed_params = seed_store(state.store, params)
    return json_response(
        {"ok": True, "seed": state.seed_params.__dict__, "variants": variants.names(), "stats": state.store.stats()["sessions"]}
    )


def _variants(raw):
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise bad_request("variants must be a list of variant names, e.g. [\"page-cap=50\", \"ignore-state\"]")
    try:
        return parse_variants(items)
    except UnknownVariant as e:
        raise bad_request(str(e), "unknown_variant") from None


@control
async def variants(request: Request):
    return json_response({"active": request.app.state.variants.names(), "available": DESCRIPTIONS})


@control
async def expire_tokens(request: Request):
    body = await json_body(request)
    sub = body.get("sub")
    if sub is not None and (not isinstance(sub, str) or not sub):
        raise bad_request("sub must be a non-empty string (a token's sub claim)")
    request.app.state.auth.expire_issued(sub)
    return json_response({"expired": "all tokens issued so far" if sub is None else f"tokens issued so far to {sub}"})


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
    store = request.app.state.store
    if request.method == "POST":
        body = await json_body(request)
        for key in ("pending", "authorizing", "inactivity"):
            if key in body:
                v = body[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise bad_request(f"{key} must be a positive number of seconds")
        store.set_timeouts(**{k: float(body[k]) for k in ("pending", "authorizing", "inactivity") if k in body})
    t = store.timeouts
    return json_response({"pending": t.pending, "authorizing": t.authorizing, "inactivity": t.inactivity})


@control
async def stats(request: Request):
    return json_response({**request.app.state.store.stats(), "variants": request.app.state.variants.names()})


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
    if device_id is not None and store.device(device_id) is None:
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
    d = store.device(device_id)
    if d is None:
        raise not_found(f"no device {device_id!r}")
    store.attach_device(s, d)


@control
async def create_device(request: Request):
    body = await json_body(request)
    store = request.app.state.store
    if body.get("id") is not None and (not isinstance(body["id"], str) or store.device(body["id"]) is not None):
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
    d = store.device(request.path_params["id"])
    if d is None:
        raise not_found(f"no device {request.path_params['id']!r}")
    store.update_device(d, _device_changes(d, await json_body(request, required=True)))
    return json_response(d.data)


def _device_changes(d, body: dict) -> dict:
    """A device PUT checked whole: {custom_data (merged), connectable, device (merged)} as new values."""
    changes: dict = {}
    if "custom_data" in body:
        if not isinstance(body["custom_data"], dict):
            raise bad_request("custom_data must be an object", "invalid_value")
        changes["custom_data"] = merged_custom_data(d.data["custom_data"], body["custom_data"])
    if "connectable" in body:
        if not isinstance(body["connectable"], bool):
            raise bad_request("connectable must be a boolean", "invalid_value")
        changes["connectable"] = body["connectable"]
    if "device" in body and isinstance(body["device"], dict):
        changes["device"] = {**d.data["device"], **body["device"]}
    return changes


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
                active = store.active_sessions()
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

    sockets = realtime.registry(request.app.state)
    if request.url.path.endswith("/drop"):
        return json_response({"dropped": realtime.drop_all_sockets(sockets)})
    return json_response({"open": realtime.open_socket_count(sockets), "subscribed": realtime.subscribed_socket_count(sockets)})


@control
async def health(request: Request):
    return json_response({"ok": True})


@control
async def index(request: Request):
    rows = [{"method": m, "path": p, "description": d} for m, p, _, d in ENDPOINTS]
    # control routes other modules register (recordings, media, ...) are listed too, from their docstrings
    known = {(p.rstrip("/"), m) for m, p, _, _ in ENDPOINTS}
    for route in request.app.routes:
        path, methods = getattr(route, "path", ""), getattr(route, "methods", None) or set()
        shown = ",".join(m for m in ("GET", "POST", "PUT", "DELETE") if m in methods)
        if path.startswith("/_sandbox") and shown and (path, shown) not in known:
            doc = (route.endpoint.__doc__ or "").strip().splitlines()
            rows.append({"method": shown, "path": path, "description": doc[0] if doc else "(undocumented)"})
    return json_response({"endpoints": rows, "variants": DESCRIPTIONS})


# (methods, path, handler, description): the routes and GET /_sandbox/ come from this one table
ENDPOINTS = [
    ("GET", "/_sandbox/", index, "this index"),
    ("GET", "/_sandbox/health", health, "liveness: {ok: true}"),
    ("POST", "/_sandbox/reset", reset,
     "re-seed {sessions, active, devices, seed, busy, now, variants}; clears faults, churn, counters, token "
     "expiries; restores serve-time timeouts, and serve-time variants unless `variants` is given"),
    ("GET", "/_sandbox/variants", variants, "the active server variants and every available one"),
    ("POST", "/_sandbox/tokens/expire", expire_tokens,
     "{sub?}: every token issued so far (or that sub's) answers 401 'jwt expired'; later tokens work"),
    ("GET,POST", "/_sandbox/faults", faults,
     "read / change faults {latency_ms, error_rate, error_status, rate_limit, drop_rate, drop_when, seed, reset}"),
    ("GET,POST", "/_sandbox/timeouts", timeouts, "read / change {pending, authorizing, inactivity} seconds"),
    ("GET", "/_sandbox/stats", stats, "request counts, end counts per session (the exactly-once truth), variants"),
    ("GET", "/_sandbox/truth/active-count", active_count, "{count}: active sessions; ?agent=<id or sub>, ?filter_<key>=<value>"),
    ("POST", "/_sandbox/sessions", create_sessions, "create sessions as devices would {count, state, custom_data, agent, device, connected}"),
    ("POST", "/_sandbox/sessions/{id}/{action}", session_action,
     "action: authorize | accept | reject | activate | end | connect | disconnect (body {device?} to attach one)"),
    ("POST", "/_sandbox/devices", create_device, "create a device {id?, custom_data, device, connectable, online}"),
    ("PUT", "/_sandbox/devices/{id}", update_device, "change a device {custom_data (merged), connectable, device}"),
    ("POST", "/_sandbox/devices/{id}/{action}", device_presence, "action: online | offline"),
    ("GET,POST", "/_sandbox/churn", churn, "background creation and ending {create_per_s, end_per_s, agent?}"),
    ("GET", "/_sandbox/sockets", sockets, "open realtime sockets and how many are subscribed"),
    ("POST", "/_sandbox/sockets/drop", sockets, "close every realtime socket (code 1012)"),
]

# StripTrailingSlash serves "/_sandbox/" as "/_sandbox"
ROUTES = [Route(path.rstrip("/"), fn, methods=methods.split(",")) for methods, path, fn, _ in ENDPOINTS]
