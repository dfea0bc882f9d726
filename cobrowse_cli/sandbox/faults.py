"""Fault injection and request counting: a pure ASGI middleware on the Cobrowse paths (`/api/`).

Not applied to `/_sandbox/` (the control surface must stay reliable) nor to websockets.
Order per request: latency, then 429 past the rate, then an injected 5xx, then a drop "before"
(never processed), else the app runs; a drop "after" lets it run (side effects applied) and then
cuts the response after its headers.

Dropping a connection: uvicorn gives the app no socket, but its `send` is a bound method of the
request cycle, whose `transport` we abort. This middleware must therefore receive uvicorn's own
`send` (be the outermost wrapper of send); without a transport it falls back to sending headers
and closing, which uvicorn also turns into a cut connection.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, fields

from cobrowse_cli.sandbox.errors import ApiError, bad_request

ERROR_STATUSES = (500, 502, 503, 429)  # 429 at random: a rate limit without waiting out windows
DROP_WHEN = ("before", "after")


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit: float = 0.0  # requests per second; 0 = unlimited
    retry_after: int = 1  # seconds, sent with 429
    drop_rate: float = 0.0
    drop_when: str = "before"
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    def updated(self, changes: dict) -> "FaultConfig":
        """A validated copy with `changes` applied; ApiError(400) names the bad field."""
        known = {f.name: f for f in fields(self)}
        data = self.to_json()
        for key, value in changes.items():
            if key not in known:
                raise bad_request(f"unknown fault {key!r}; known: {', '.join(known)}")
            data[key] = value
        cfg = FaultConfig(**data)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def number(name, lo, hi=None):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo or (hi is not None and v > hi):
                raise bad_request(f"{name} must be a number in [{lo}, {hi if hi is not None else 'inf'}]")

        number("latency_ms", 0, 60_000)
        number("error_rate", 0, 1)
        number("drop_rate", 0, 1)
        number("rate_limit", 0)
        number("retry_after", 0, 3600)
        if self.error_status not in ERROR_STATUSES:
            raise bad_request(f"error_status must be one of {ERROR_STATUSES}")
        if self.drop_when not in DROP_WHEN:
            raise bad_request(f"drop_when must be one of {DROP_WHEN}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad_request("seed must be an integer")


class Faults:
    """The live fault settings plus their RNG and rate window; swapped atomically by the control surface."""

    def __init__(self, config: FaultConfig | None = None):
        self.set(config or FaultConfig())

    def set(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self._window_start = 0.0
        self._window_count = 0

    def over_rate(self) -> bool:
        """Fixed one-second windows; refused requests do not use up the allowance."""
        limit = self.config.rate_limit
        if not limit:
            return False
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        if self._window_count >= limit:
            return True
        self._window_count += 1
        return False


def _json_bytes(err: ApiError) -> bytes:
    import json

    return json.dumps(err.body()).encode()


async def _send_error(send, err: ApiError, extra_headers: list | None = None) -> None:
    body = _json_bytes(err)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": err.status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})


async def _cut(send) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0)  # let uvicorn see connection_lost before the app returns
        await asyncio.sleep(0)
        return
    raise ConnectionAbortedError("sandbox fault: dropped connection")


class FaultsMiddleware:
    def __init__(self, app, faults: Faults, store_getter):
        self.app = app
        self.faults = faults
        self.store_getter = store_getter  # the Store is replaced on reset; look it up per request

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        count = self.store_getter().count_request
        faults, cfg = self.faults, self.faults.config
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if faults.over_rate():
            count(method, path, 429)
            err = ApiError(429, "rate_limited", f"too many requests: limit is {cfg.rate_limit:g} per second")
            return await _send_error(send, err, [(b"retry-after", str(cfg.retry_after).encode())])
        if cfg.error_rate and faults.rng.random() < cfg.error_rate:
            count(method, path, cfg.error_status)
            err = ApiError(cfg.error_status, "sandbox_fault", f"injected fault: HTTP {cfg.error_status}")
            retry_after = [(b"retry-after", str(cfg.retry_after).encode())] if cfg.error_status == 429 else None
            return await _send_error(send, err, retry_after)
        drop = bool(cfg.drop_rate) and faults.rng.random() < cfg.drop_rate
        if drop and cfg.drop_when == "before":
            count(method, path, "dropped_before")
            return await _cut(send)
        if drop:
            return await self._drop_after(scope, receive, send, count)
        status: list[int] = []

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            count(method, path, status[0] if status else "no_response")

    async def _drop_after(self, scope, receive, send, count):
        """Run the request for real, then send only the headers (with the full content-length) and cut."""
        start: dict | None = None

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start" and start is None:
                start = message

        await self.app(scope, receive, capture)
        count(scope["method"], scope["path"], "dropped_after")
        if start is not None:
            await send(start)
        await _cut(send)
