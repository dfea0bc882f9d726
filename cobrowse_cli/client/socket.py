"""Where and how to open the realtime socket, derived exactly like the SDK's SocketManager.#generateUrl."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import urljoin


@dataclass(frozen=True)
class SocketAuth:
    """`url` to open, WebSocket `subprotocols` to offer, and the `token` (the user's notification_token)."""

    url: str
    subprotocols: list[str] = field(default_factory=list)
    token: str = ""

    def __repr__(self) -> str:  # never print the token by accident
        return f"SocketAuth(url={self.url!r}, subprotocols=[…{len(self.subprotocols)}], token=[redacted])"


def socket_url(notification_url: str, api: str, headers: dict[str, str]) -> str:
    """Resolve the server's (maybe relative) notification_url against the API, switch to ws(s)://,
    then resolve `sockets/1/ws?...` RELATIVE to it (the SDK supports socket servers under a base path)."""
    query = "&".join(f"{key}={value}" for key, value in headers.items())  # the SDK does not encode these
    resolved = urljoin(api, notification_url or "")
    if resolved.count("/") == 2:  # `new URL()` always has a path: "https://host" -> "https://host/"
        resolved += "/"
    ws = resolved.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return urljoin(ws, f"sockets/1/ws?{query}")


def subprotocols(token: str) -> list[str]:
    """['cbor', 'cbio.http.headers.authorization.bearer.<base64(token) without "=">'] (cocom adds 'cbor')."""
    encoded = base64.b64encode(token.encode("utf-8")).decode("ascii").replace("=", "")
    return ["cbor", f"cbio.http.headers.authorization.bearer.{encoded}"]
