"""`/api/1/users/me` and the staging server's `/api/1/demo/token`."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.routing import Route

from cobrowse_cli.sandbox.errors import bad_request, not_found
from cobrowse_cli.sandbox.web import caller, endpoint, json_response, last_value, store_of


@endpoint
async def user(request: Request):
    agent = caller(request)
    if request.path_params["id"] not in ("me", agent.id):
        raise not_found("only /api/1/users/me is available")
    return json_response(store_of(request).user_json(agent, str(request.base_url)))


@endpoint
async def demo_token(request: Request):
    """No auth, like the vendor's staging server: an administrator token for `<demo_id>@demo.sandbox.test`."""
    demo_id = last_value(request, "demo_id")
    if not demo_id or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", demo_id):
        raise bad_request("demo_id is required (letters, digits, '_', '.', '-')")
    token = request.app.state.auth.mint(sub=f"{demo_id}@demo.sandbox.test", role="administrator", name=f"Demo {demo_id}")
    return json_response({"token": token})


ROUTES = [
    Route("/api/1/users/{id}", user, methods=["GET"]),
    Route("/api/1/demo/token", demo_token, methods=["GET"]),
]
