"""The sandbox as one ASGI app: Cobrowse REST routes, the realtime socket, the control surface.

`build_app(options)` returns the outer ASGI callable (give it to uvicorn). Its `.starlette` is the
Starlette app, whose `state` holds `store` (Store), `auth` (Verifier), `faults` (Faults),
`seed_params` (SeedParams), `options` (SandboxOptions) and `variants` (the active Variants).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import WebSocketRoute

from cobrowse_cli.sandbox import control, routes_devices, routes_misc, routes_sessions
from cobrowse_cli.sandbox.auth import SandboxKeys, Verifier, load_or_create_keys
from cobrowse_cli.sandbox.errors import ApiError
from cobrowse_cli.sandbox.faults import FaultConfig, Faults, FaultsMiddleware
from cobrowse_cli.sandbox.seed import SeedParams, seed_store
from cobrowse_cli.sandbox.store import Store, Timeouts
from cobrowse_cli.sandbox.variants import Variants
from cobrowse_cli.sandbox.web import error_response

log = logging.getLogger("cobrowse.sandbox")
TIMEOUT_TICK_S = 0.1


@dataclass
class SandboxOptions:
    seed: SeedParams = field(default_factory=SeedParams)
    timeouts: Timeouts = field(default_factory=Timeouts)
    faults: FaultConfig = field(default_factory=FaultConfig)
    state_dir: str | None = None
    keys: SandboxKeys | None = None  # loaded from state_dir (or made in memory) when None
    variants: Variants = field(default_factory=Variants)  # serve-time; reset without `variants` restores them


async def _http_error(request, exc: HTTPException):
    ids = {404: "not_found", 405: "method_not_allowed"}
    message = {404: f"no such endpoint: {request.method} {request.url.path}", 405: f"method {request.method} not allowed here"}
    err = ApiError(exc.status_code, ids.get(exc.status_code, "http_error"), message.get(exc.status_code, str(exc.detail)))
    return error_response(err, getattr(exc, "headers", None))


async def _server_error(request, exc: Exception):
    # A bug, not bad input: still answer JSON so clients see {id, message}. Tests assert this never happens.
    return error_response(ApiError(500, "internal_error", f"sandbox bug: {type(exc).__name__}: {exc}"))


async def _expire_loop(state) -> None:
    while True:
        await asyncio.sleep(TIMEOUT_TICK_S)
        try:
            state.store.expire_due()
        except Exception:  # noqa: BLE001 - keep the timer alive whatever one session did
            log.exception("timeout sweep failed")


class StripTrailingSlash:
    """The SDK strips trailing slashes; accept both forms without a redirect."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope, path=path.rstrip("/") or "/", raw_path=None)
        await self.app(scope, receive, send)


def _realtime_routes() -> list:
    from cobrowse_cli.sandbox import realtime

    return [WebSocketRoute("/sockets/1/ws", realtime.websocket_endpoint)]


def build_app(options: SandboxOptions | None = None):
    options = options or SandboxOptions()
    keys = options.keys or load_or_create_keys(options.state_dir)
    store = Store(dataclasses.replace(options.timeouts))  # a copy: reset restores the original
    seed_params = seed_store(store, options.seed)
    faults = Faults(options.faults)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(_expire_loop(app.state))
        try:
            yield
        finally:
            app.state.churn.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = routes_sessions.ROUTES + routes_devices.ROUTES + routes_misc.ROUTES + control.ROUTES + _realtime_routes()
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.auth = Verifier(keys)
    app.state.faults = faults
    app.state.seed_params = seed_params
    app.state.options = options
    app.state.variants = options.variants
    app.state.churn = control.Churn(app.state)
    outer = StripTrailingSlash(FaultsMiddleware(app, faults, lambda: app.state.store))
    outer.starlette = app
    return outer
