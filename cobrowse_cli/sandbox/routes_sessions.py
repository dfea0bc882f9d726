"""`/api/1/sessions`: list, get (id or 6-digit code), create, update/end, tokens.

Permissions (the documented model): an administrator (token `role: administrator`) reads and ends every
session; an agent only its own (the session's agent, else the agent that created it). Another agent's
session answers exactly like a missing one (404), so ids cannot be probed; `agent=all` from an agent is a
403. Server variants (variants.py) change some of these answers on purpose.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.errors import bad_request, forbidden, not_found
from cobrowse_cli.sandbox.model import AGENT_TOGGLE_VALUES, STATES, random_id
from cobrowse_cli.sandbox.web import (
    caller,
    endpoint,
    is_admin,
    json_body,
    json_response,
    last_value,
    merged_custom_data,
    parse_date,
    parse_filters,
    parse_limit,
    parse_states,
    store_of,
    variants_of,
)

SESSION_NOT_FOUND = "no session with id or code {key!r}"


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
    v = variants_of(request)
    which = last_value(request, "agent")
    admin = is_admin(agent)
    if which in (None, "", "me") or which in (agent.id, agent.sub):
        owners = [agent.id]
    elif which == "all":
        if admin:
            owners = None
        elif v.non_admin_own:
            owners = [agent.id]
        else:
            raise forbidden("agent=all requires a token with role 'administrator'")
    elif v.ignore_agent:
        owners = None if admin else [agent.id]
    else:
        if not admin:
            raise forbidden("listing another agent's sessions requires a token with role 'administrator'")
        other = store.find_agent(which)
        owners = [other.id if other else which]
    rows = store.list_sessions(
        states=None if v.ignore_state else states,
        owner_ids=owners,
        filters={} if v.ignore_filters else filters,
        before_us=before,
        after_us=after,
        limit=v.page_limit(limit, bounded=before is not None or after is not None),
        before_inclusive=v.inclusive_cursor,
        after_inclusive=v.after_inclusive,
        order_created=v.order_created,
    )
    return json_response([_shown(request, row) for row in rows])


def _shown(request: Request, data: dict) -> dict:
    """A session as this server variant serves it."""
    if variants_of(request).no_ended_reason:
        return {k: v for k, v in data.items() if k != "ended_reason"}
    return data


def _session_or_404(request: Request, agent):
    """The session in the path if the caller may see it; another agent's is a 404 (403 with agent-scope)."""
    key = request.path_params["id"]
    s = store_of(request).get_session(key)
    if s is None:
        raise not_found(SESSION_NOT_FOUND.format(key=key))
    if not is_admin(agent) and s.owner_id != agent.id:
        if variants_of(request).agent_scope:
            raise forbidden("this session belongs to another agent: only administrators may access it")
        raise not_found(SESSION_NOT_FOUND.format(key=key))
    return s


@endpoint
async def get_session(request: Request):
    agent = caller(request)
    return json_response(_shown(request, _session_or_404(request, agent).data))


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
    return json_response(_shown(request, s.data))


@endpoint
async def update_session(request: Request):
    agent = caller(request)
    body = await json_body(request, required=True)
    s = _session_or_404(request, agent)
    if variants_of(request).end_ended_404 and s.state == "ended" and body.get("state") == "ended":
        raise not_found(SESSION_NOT_FOUND.format(key=request.path_params["id"]))
    changes, custom, end = _validated_update(s, body)
    store_of(request).update_session(s, changes=changes, custom_data=custom, end=end)
    return json_response(_shown(request, s.data))


def _validated_update(s, body: dict) -> tuple[dict, dict | None, bool]:
    """An agent's PUT checked whole before anything changes, so a 400 changes nothing.
    Returns (toggle changes, the new custom_data or None when unchanged, whether to end)."""
    if "id" in body and body["id"] != s.id:
        raise bad_request("id in body does not match the session in the path")
    changes: dict = {}
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
        if not isinstance(body["custom_data"], dict):
            raise bad_request("custom_data must be an object", "invalid_value")
        custom = merged_custom_data(s.data["custom_data"], body["custom_data"])
        if custom == s.data["custom_data"]:
            custom = None
    if s.state == "ended" and (changes or custom is not None):
        raise bad_request("session has ended", "session_ended")
    return changes, custom, new_state == "ended"


@endpoint
async def session_tokens(request: Request):
    agent = caller(request)
    s = _session_or_404(request, agent)
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
