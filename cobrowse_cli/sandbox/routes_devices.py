"""`/api/1/devices`: list, get, notifications."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.errors import bad_request, not_found
from cobrowse_cli.sandbox.web import (
    caller,
    endpoint,
    json_body,
    json_response,
    parse_date,
    parse_filters,
    parse_limit,
    store_of,
    variants_of,
)


@endpoint
async def list_devices(request: Request):
    caller(request)
    limit = parse_limit(request)
    before = parse_date(request, "seen_before")
    after = parse_date(request, "seen_after")
    filters = parse_filters(request)
    v = variants_of(request)
    rows = store_of(request).list_devices(
        filters={} if v.ignore_filters else filters,
        before_us=before,
        after_us=after,
        limit=v.page_limit(limit, bounded=before is not None or after is not None),
        before_inclusive=v.inclusive_cursor,
        after_inclusive=v.after_inclusive,
    )
    return json_response(rows)


def _device_or_404(request: Request):
    d = store_of(request).device(request.path_params["id"])
    if d is None:
        raise not_found(f"no device with id {request.path_params['id']!r}")
    return d


@endpoint
async def get_device(request: Request):
    caller(request)
    return json_response(_device_or_404(request).data)


@endpoint
async def notify_device(request: Request):
    caller(request)
    body = await json_body(request, required=True)
    d = _device_or_404(request)
    session_id = body.get("session")
    attempt = body.get("attempt", 1)
    if not isinstance(session_id, str) or not session_id:
        raise bad_request("body needs 'session': the id of the session to invite the device to")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise bad_request("'attempt' must be a positive integer")
    if store_of(request).get_session(session_id) is None:
        raise not_found(f"no session with id {session_id!r}")
    store_of(request).notifications.append({"device": d.id, "session": session_id, "attempt": attempt})
    # The vendor does not document a failure for unreachable devices; we accept and say whether a push went out.
    return json_response({"device": d.id, "session": session_id, "attempt": attempt, "sent": d.data["connectable"]})


ROUTES = [
    Route("/api/1/devices", list_devices, methods=["GET"]),
    Route("/api/1/devices/{id}", get_device, methods=["GET"]),
    Route("/api/1/devices/{id}/notifications", notify_device, methods=["POST"]),
]
