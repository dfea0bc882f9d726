"""`/api/1/sessions`: list, get (id or 6-digit code), create, update/end, tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.errors import bad_request, forbidden, not_found
from cobrowse_cli.sandbox.store import random_id
from cobrowse_cli.sandbox.web import (
    caller,
    endpoint,
    is_admin,
    json_body,
    json_response,
    last_value,
    parse_date,
    parse_filters,
    parse_limit,
    parse_states,
    store_of,
)


@endpoint
async def list_sessions(request: Request):
    agent = caller(request)
    store = store_of(request)
    # validate every parameter before answering, so a bad one is a 400 whatever the data
    states = parse_states(request)
    limit = parse_limit(request)
    before = parse_date(request, "activated_before")
    after = parse_date(request, "activated_after")
    filters = parse_filters(request)
    which = last_value(request, "agent")
    if which in (None, "", "me") or which in (agent.id, agent.sub):
        owners = [agent.id]
    elif which == "all":
        if not is_admin(agent):
            raise forbidden("agent=all requires a token with role 'administrator'")
        owners = None
    else:
        if not is_admin(agent):
            raise forbidden("listing another agent's sessions requires a token with role 'administrator'")
        other = store.find_agent(which)
        owners = [other.id if other else which]
    rows = store.list_sessions(
        states=states, owner_ids=owners, filters=filters, before_us=before, after_us=after, limit=limit
    )
    return json_response(rows)


def _session_or_404(request: Request):
    key = request.path_params["id"]
    s = store_of(request).get_session(key)
    if s is None:
        raise not_found(f"no session with id or code {key!r}")
    return s


@endpoint
async def get_session(request: Request):
    caller(request)
    return json_response(_session_or_404(request).data)


@endpoint
async def create_session(request: Request):
    agent = caller(request)
    body = await json_body(request)
    custom = body.get("custom_data", {})
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        raise bad_request("custom_data must be an object", "invalid_value")
    custom = {k: v for k, v in custom.items() if v is not None}
    for key in ("remote_control", "full_device", "calling"):
        if key in body and body[key] not in ("requested", "off"):
            raise bad_request(f"{key} may only be set to 'requested' or 'off'", "invalid_value")
    s = store_of(request).create_session(agent=agent, custom_data=custom, fields=body)
    return json_response(s.data)


@endpoint
async def update_session(request: Request):
    caller(request)
    body = await json_body(request, required=True)
    s = _session_or_404(request)
    store_of(request).update_session(s, body)
    return json_response(s.data)


@endpoint
async def session_tokens(request: Request):
    caller(request)
    s = _session_or_404(request)
    # The live stream socket is not emulated; the shape is what the SDK reads.
    base = str(request.base_url).replace("http", "ws", 1)
    return json_response({"stream_token": random_id(32), "stream_url": f"{base}sockets/1/stream/{s.id}"})


ROUTES = [
    Route("/api/1/sessions", list_sessions, methods=["GET"]),
    Route("/api/1/sessions", create_session, methods=["POST"]),
    Route("/api/1/sessions/{id}", get_session, methods=["GET"]),
    Route("/api/1/sessions/{id}", update_session, methods=["PUT"]),
    Route("/api/1/sessions/{id}/tokens", session_tokens, methods=["GET"]),
]
