"""Recordings, accounts, the token's policy, regions; and their control endpoints.

  GET|DELETE /api/1/sessions/<id>/recording   video + actions as signed media URLs, events inline
  GET /api/1/accounts, /api/1/policy/current, /api/1/regions/closest
  GET|POST /_sandbox/media          media origin settings, faults and counters (bearer_seen!)
  GET /_sandbox/notifications       device pushes sent through POST /api/1/devices/<id>/notifications
  GET /_sandbox/recordings          ids whose recording was deleted

Policy: an administrator may read and delete any recording; an agent may read its own sessions'
recordings (another agent's session is a 404, as in routes_sessions) and delete none (403 naming the
permission).
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.control import control
from cobrowse_cli.sandbox.errors import ApiError, forbidden
from cobrowse_cli.sandbox.media import events_for, video_size
from cobrowse_cli.sandbox.routes_sessions import _session_or_404
from cobrowse_cli.sandbox.web import caller, endpoint, is_admin, json_body, json_response, store_of

FEATURES = ["recording", "remote_control", "full_device", "redaction", "notifications"]
REGION = {"id": "us", "type": "region"}


def policy_for(agent) -> dict:
    admin = is_admin(agent)
    return {
        "id": "administrator" if admin else "agent",
        "role": agent.role or "agent",
        "permissions": {
            "sessions:read": "all" if admin else "own",
            "sessions:end": "all" if admin else "own",
            "recordings:read": "all" if admin else "own",
            "recordings:delete": "all" if admin else "none",
            "devices:read": "all",
            "devices:notify": "all",
        },
    }


def _recording_session(request: Request, *, deleting: bool):
    agent = caller(request)
    if deleting and not is_admin(agent):
        raise forbidden("your policy does not allow recordings:delete")
    s = _session_or_404(request, agent)  # another agent's session reads like a missing one
    if not s.data.get("recorded") or s.id in store_of(request).deleted_recordings:
        raise ApiError(404, "recording_not_found", f"session {s.id} has no recording")
    return s


@endpoint
async def get_recording(request: Request):
    s = _recording_session(request, deleting=False)
    media = request.app.state.media
    data = s.data
    duration = None
    if data.get("activated") and data.get("ended"):
        from cobrowse_cli.sandbox.timeutil import parse_iso_us

        duration = round((parse_iso_us(data["ended"]) - parse_iso_us(data["activated"])) / 1e6, 3)
    return json_response({
        "session": s.id,
        "video": media.sign("video", s.id),
        "actions": media.sign("actions", s.id),
        "events": events_for(data),
        "size": video_size(s.id, media.config),
        "duration": duration,
    })


@endpoint
async def delete_recording(request: Request):
    s = _recording_session(request, deleting=True)
    store_of(request).deleted_recordings.add(s.id)
    return json_response({"session": s.id, "deleted": True})


@endpoint
async def accounts(request: Request):
    caller(request)
    license = request.app.state.auth.keys.license
    # A JWT is scoped to one account: the list has exactly one.
    return json_response([{"id": "acct_" + hashlib.sha256(license.encode()).hexdigest()[:12],  # per key pair
                           "name": "Sandbox account", "license_key": license, "features": FEATURES}])


@endpoint
async def policy(request: Request):
    return json_response(policy_for(caller(request)))


@endpoint
async def closest_region(request: Request):
    caller(request)
    return json_response(REGION)


@control
async def media_settings(request: Request):
    """read / change the media origin {url_ttl_s, video_bytes, drop_rate, drop_after_bytes, chunk_delay_ms, expire_next, seed, reset}; counters incl. bearer_seen"""
    media = request.app.state.media
    if request.method == "POST":
        body = await json_body(request)
        if body.pop("reset", False):
            media.reset()
        media.configure(body)
    return json_response(media.stats())


@control
async def notifications(request: Request):
    """device pushes received: [{device, session, attempt}]"""
    return json_response(store_of(request).notifications)


@control
async def deleted(request: Request):
    """ids of sessions whose recording was deleted"""
    return json_response(sorted(store_of(request).deleted_recordings))


ROUTES = [
    Route("/api/1/sessions/{id}/recording", get_recording, methods=["GET"]),
    Route("/api/1/sessions/{id}/recording", delete_recording, methods=["DELETE"]),
    Route("/api/1/accounts", accounts, methods=["GET"]),
    Route("/api/1/policy/current", policy, methods=["GET"]),
    Route("/api/1/regions/closest", closest_region, methods=["GET"]),
    Route("/_sandbox/media", media_settings, methods=["GET", "POST"]),
    Route("/_sandbox/notifications", notifications, methods=["GET"]),
    Route("/_sandbox/recordings", deleted, methods=["GET"]),
]
