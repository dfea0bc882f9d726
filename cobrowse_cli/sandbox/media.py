"""The recordings' media origin: a second port serving videos and action logs behind signed URLs.

Like a CDN in front of the real API's recordings: URLs carry their own short-lived signature
(`?exp=<epoch s>&sig=<hmac>`), a request with an Authorization header is refused (and counted in
`bearer_seen`: the client must never send its token here), an expired or bad signature is a 403.
Content is generated from the session id (flat memory whatever the size), so tests can check every byte.
Faults here are separate from the API's: `drop_rate` cuts a body after `drop_after_bytes`,
`chunk_delay_ms` slows every chunk, `expire_next` makes the next N requests see an expired URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from urllib.parse import parse_qs

from cobrowse_cli.sandbox.errors import bad_request

PREFIX = "/_media/"
CHUNK = 256 * 1024
KINDS = ("video", "actions")


@dataclass
class MediaConfig:
    url_ttl_s: float = 300.0
    video_bytes: int = 0  # 0: a size between 20 and 300 KB derived from the session id
    drop_rate: float = 0.0
    drop_after_bytes: int = 100_000
    chunk_delay_ms: float = 0.0
    expire_next: int = 0
    seed: int = 0

    def updated(self, changes: dict) -> "MediaConfig":
        known = {f.name: f.type for f in fields(self)}
        data = asdict(self)
        for key, value in changes.items():
            if key not in known:
                raise bad_request(f"unknown media setting {key!r}; known: {', '.join(known)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise bad_request(f"{key} must be a number >= 0")
            data[key] = value
        if data["drop_rate"] > 1:
            raise bad_request("drop_rate must be in [0, 1]")
        for key in ("video_bytes", "drop_after_bytes", "expire_next", "seed"):
            data[key] = int(data[key])
        return MediaConfig(**data)


def video_size(session_id: str, config: MediaConfig) -> int:
    if config.video_bytes:
        return config.video_bytes
    return 20_000 + int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:4], "big") % 280_000


def video_block(session_id: str) -> bytes:
    """The 64 KB pattern a session's video repeats (distinct per session, cheap to stream)."""
    seed = hashlib.sha256(b"video:" + session_id.encode()).digest()
    return (seed * (65536 // len(seed)))[:65536]


def video_bytes_at(session_id: str, start: int, length: int, block: bytes | None = None) -> bytes:
    block = block or video_block(session_id)
    out = bytearray()
    pos = start
    while len(out) < length:
        offset = pos % len(block)
        take = min(len(block) - offset, length - len(out))
        out += block[offset:offset + take]
        pos += take
    return bytes(out)


def actions_for(session: dict) -> list[dict]:
    """A few user actions between activation and end (what the `actions` URL serves)."""
    rng = random.Random(session["id"])
    start = session.get("activated") or session.get("created")
    return [{"type": kind, "timestamp": _shift(start, (i + 1) * 7_000 + rng.randint(0, 999)), "target": f"#el{i}"}
            for i, kind in enumerate(["click", "scroll", "keypress", "click", "navigation"][: rng.randint(2, 5)])]


def events_for(session: dict) -> list[dict]:
    """Session events served inline with the recording (merged with the actions by the client)."""
    start = session.get("activated") or session.get("created")
    return [{"type": "session.activated", "timestamp": start},
            {"type": "remote_control.requested", "timestamp": _shift(start, 10_500)},
            {"type": "session.ended", "timestamp": session.get("ended") or start}]


def _shift(iso_text: str, ms: int) -> str:
    from datetime import datetime, timedelta

    t = datetime.fromisoformat(iso_text.replace("Z", "+00:00")) + timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class MediaOrigin:
    """Signing key, settings and counters of the media port; `origin` is its base URL once bound."""

    def __init__(self) -> None:
        self.secret = secrets.token_bytes(32)
        self.origin: str | None = None
        self.port: int | None = None
        self.reset()

    def reset(self) -> None:
        self.config = MediaConfig()
        self.rng = random.Random(0)
        self.counts: Counter[str] = Counter()

    def configure(self, changes: dict) -> None:
        self.config = self.config.updated(changes)
        self.rng = random.Random(self.config.seed)

    def bind(self, origin: str, port: int) -> None:
        self.origin, self.port = origin, port

    def sign(self, kind: str, session_id: str) -> str:
        """Absolute on the media port; relative to the API base when no media port is bound (in-process)."""
        exp = int(time.time() + self.config.url_ttl_s)
        sig = self._sig(kind, session_id, exp)
        return f"{self.origin or ''}{PREFIX}{kind}/{session_id}?exp={exp}&sig={sig}"

    def _sig(self, kind: str, session_id: str, exp: int) -> str:
        return hmac.new(self.secret, f"{kind}:{session_id}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def stats(self) -> dict:
        return {"origin": self.origin, **asdict(self.config), "counts": dict(self.counts),
                "bearer_seen": self.counts["bearer_seen"]}

    # -- the ASGI handler for PREFIX paths --------------------------------------------------------
    async def handle(self, scope, receive, send, store) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        self.counts["requests"] += 1
        if "authorization" in headers:
            self.counts["bearer_seen"] += 1  # the CLI leaked its credential to another origin
            return await _json(send, 400, "authorization_not_allowed",
                               "signed media URLs take no Authorization header")
        if scope["method"] not in ("GET", "HEAD"):
            return await _json(send, 405, "method_not_allowed", "media is read-only")
        parts = scope["path"][len(PREFIX):].split("/")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if len(parts) != 2 or parts[0] not in KINDS:
            return await _json(send, 404, "not_found", "no such media")
        kind, session_id = parts
        try:
            exp = int(query.get("exp", ["0"])[0])
        except ValueError:
            exp = 0
        if not hmac.compare_digest(query.get("sig", [""])[0], self._sig(kind, session_id, exp)):
            self.counts["bad_signature"] += 1
            return await _json(send, 403, "invalid_signature", "media URL signature is invalid")
        if self.config.expire_next > 0 or exp < time.time():
            if self.config.expire_next > 0:
                self.config.expire_next -= 1
            self.counts["expired"] += 1
            return await _json(send, 403, "url_expired", "media URL has expired; fetch the recording again")
        session = store.get_session(session_id)
        if session is None or not session.data.get("recorded") or session_id in store.deleted_recordings:
            return await _json(send, 404, "not_found", "recording not found")
        self.counts[f"served_{kind}"] += 1
        if kind == "actions":
            body = json.dumps(actions_for(session.data)).encode()
            return await _send(send, 200, "application/json", body)
        await self._stream_video(send, session_id, scope["method"] == "HEAD")

    async def _stream_video(self, send, session_id: str, head: bool) -> None:
        cfg = self.config
        size = video_size(session_id, cfg)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"video/mp4"), (b"content-length", str(size).encode())]})
        if head:
            return await send({"type": "http.response.body", "body": b""})
        drop_at = cfg.drop_after_bytes if cfg.drop_rate and self.rng.random() < cfg.drop_rate else None
        block = video_block(session_id)
        wide = block * (CHUNK // len(block) + 1)  # any chunk is one slice of this: no per-byte work
        sent = 0
        while sent < size:
            n = min(CHUNK, size - sent)
            if drop_at is not None and sent + n >= drop_at:
                n = max(0, drop_at - sent)
                if n:
                    await send({"type": "http.response.body", "body": _slice(wide, len(block), sent, n), "more_body": True})
                self.counts["dropped"] += 1
                return await _cut(send)
            if cfg.chunk_delay_ms:
                await asyncio.sleep(cfg.chunk_delay_ms / 1000)
            await send({"type": "http.response.body", "body": _slice(wide, len(block), sent, n), "more_body": True})
            sent += n
        await send({"type": "http.response.body", "body": b""})


def _slice(wide: bytes, period: int, start: int, n: int) -> bytes:
    offset = start % period
    return wide[offset:offset + n]


async def _send(send, status: int, content_type: str, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _json(send, status: int, error_id: str, message: str) -> None:
    await _send(send, status, "application/json", json.dumps({"id": error_id, "message": message}).encode())


async def _cut(send) -> None:
    from cobrowse_cli.sandbox.faults import _cut as cut

    await cut(send)


class MediaRouter:
    """Outermost ASGI wrapper: `/_media/` requests on the media port (or, unbound, on any) go to the origin."""

    def __init__(self, app, state):
        self.app = app
        self.state = state
        self.starlette = getattr(app, "starlette", None)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            media: MediaOrigin = self.state.media
            port = (scope.get("server") or (None, None))[1]
            on_media_port = media.port is not None and port == media.port
            if on_media_port or (media.port is None and scope["path"].startswith(PREFIX)):
                if scope["path"].startswith(PREFIX):
                    return await media.handle(scope, receive, send, self.state.store)
                return await _json(send, 404, "not_found", "this is the media origin; the API is on another port")
            if scope["path"].startswith(PREFIX):
                return await _json(send, 404, "not_found", "media is served on the media origin")
        await self.app(scope, receive, send)
