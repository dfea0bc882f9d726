"""The Cobrowse REST client: `from cobrowse_cli.client import Client`.

This package __init__ stays import-light: app.py imports `cobrowse_cli.client.errors` in its error
handler, which runs this file first, so httpx is loaded only when `Client` is first touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cobrowse_cli.client.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CobrowseError,
    DeadlineError,
    ForbiddenError,
    InsecureTransportError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    PagingError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    TLSError,
    TokenExpiredError,
)

if TYPE_CHECKING:
    from cobrowse_cli.client.client import Client
    from cobrowse_cli.client.socket import SocketAuth

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "CobrowseError",
    "DeadlineError",
    "ForbiddenError",
    "InsecureTransportError",
    "InvalidResponseError",
    "NetworkError",
    "NotFoundError",
    "PagingError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "ServerError",
    "SocketAuth",
    "TLSError",
    "TokenExpiredError",
]


def __getattr__(name: str):
    if name == "Client":
        from cobrowse_cli.client.client import Client

        return Client
    if name == "SocketAuth":
        from cobrowse_cli.client.socket import SocketAuth

        return SocketAuth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
