"""Typed client errors, each rendering as ONE line a user understands.

Stdlib only: app.py imports this module in its error handler, so it must stay cheap.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

MAX_DETAIL = 200  # characters of an odd error body we are willing to show


class CobrowseError(Exception):
    """Base class of everything the client raises on purpose."""

    # How many of the failed call's sends may have been acted on (retries included; a connection never made
    # and a 429 refusal do not count): a 404 to a DELETE delivered once means someone else took the
    # resource; delivered twice, our own first delivery may have.
    delivered: int = 1


class APIError(CobrowseError):
    """The API answered with an error status (>= 400) and a JSON `{id, message}` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_id: str | None = None,
        method: str = "",
        path: str = "",
        hint: str | None = None,
    ):
        self.status = status
        self.message = message
        self.error_id = error_id
        self.method = method
        self.path = path
        self.hint = hint
        super().__init__(self._line())

    def _line(self) -> str:
        line = f"{self.status} {self.message or 'error'}"
        return f"{line}: {self.hint}" if self.hint else line


class AuthenticationError(APIError):
    """401: missing, invalid or expired token."""


class TokenExpiredError(AuthenticationError):
    """The API said exactly "jwt expired" (the SDK's TokenExpiredError)."""


class ForbiddenError(APIError):
    """403: the token is valid but not allowed (e.g. agent=all without the administrator role)."""


class NotFoundError(APIError):
    """404: unknown session, device or path."""


class RateLimitedError(APIError):
    """429, after retries; `retry_after` is the server's wait in seconds, when it said one."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kw: Any):
        self.retry_after = retry_after
        super().__init__(*args, **kw)


class ServerError(APIError):
    """5xx, after retries."""


class BadRequestError(APIError):
    """400 / 422: the request itself is wrong (bad limit, bad date, bad field)."""


class NetworkError(CobrowseError):
    """Could not connect, the connection dropped, or a timeout passed (after retries)."""

    def __init__(self, message: str, *, url: str = ""):
        self.url = url
        super().__init__(f"network error: {message}")


class DeadlineError(NetworkError):
    """One request (connect to last byte) or all its retries took longer than allowed."""


class TLSError(NetworkError):
    """The server's certificate could not be verified (never retried: it will not fix itself)."""


class InvalidResponseError(CobrowseError):
    """The answer is not what the API sends: not JSON, an HTML page, or the wrong JSON type."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "", path: str = ""):
        self.status = status
        self.method = method
        self.path = path
        super().__init__(f"invalid response: {message}")


class ResponseTooLargeError(InvalidResponseError):
    """An answer larger (decoded) than the client accepts; reading stopped at the cap."""


class PagingError(CobrowseError):
    """A list page could not advance (more items share one timestamp than fit in a page)."""


class RoleError(CobrowseError):
    """The token's role cannot reach the selection (checked before asking, e.g. agent=all without administrator)."""


class InsecureTransportError(CobrowseError):
    """A token would have gone over plain http to a non-loopback host."""


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitedError,
}

_RESOURCE_PATH = re.compile(r"^/api/1/(sessions|devices|users)/([^/?]+)")


def api_error(
    status: int,
    body: Any,
    *,
    method: str,
    path: str,
    query: dict | None = None,
    token: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed error for an error status whose body parsed as JSON."""
    error_id = body.get("id") if isinstance(body, dict) else None
    raw = body.get("message") if isinstance(body, dict) else None
    message = one_line(str(raw if raw is not None else body))
    kw: dict[str, Any] = {"error_id": error_id if isinstance(error_id, str) else None, "method": method, "path": path}
    if message == "jwt expired":
        return TokenExpiredError(status, message, hint=_expired_hint(token), **kw)
    cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIError)
    hint = _hint(cls, message, path, query or {})
    if cls is RateLimitedError:
        if retry_after is not None:
            hint = f"rate limited; retry after {retry_after:g} s"
        return RateLimitedError(status, message, hint=hint, retry_after=retry_after, **kw)
    return cls(status, message, hint=hint, **kw)


def _hint(cls: type[APIError], message: str, path: str, query: dict) -> str | None:
    if cls is AuthenticationError:
        return "the token was rejected; check it with `cobrowse auth status`"
    if cls is ForbiddenError:
        if "administrator" in message:
            return None  # the server already said what is needed
        if str(query.get("agent", "")) == "all":
            return "agent=all needs an administrator token"
        return "the token's agent is not allowed to do this"
    if cls is NotFoundError:
        m = _RESOURCE_PATH.match(path)
        if m and m.group(2) != "me":
            ident = unquote(m.group(2))
            return None if ident in message else f"{m.group(1).rstrip('s')} {ident}"
        return f"no such path {path}" if path else None
    if cls is ServerError:
        return "the API failed; try again later"
    return None


def _expired_hint(token: str | None) -> str:
    exp = jwt_expiry(token) if token else None
    when = f"the token expired at {exp:%Y-%m-%d %H:%M} UTC" if exp else "the token has expired"
    return f"{when}; mint a new one (cobrowse auth token)"


def jwt_claims(token: str) -> dict | None:
    """A JWT's claims, decoded WITHOUT verifying (only to explain and warn); None when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT as a datetime (unverified); None if absent or unreadable."""
    try:
        return datetime.fromtimestamp(float((jwt_claims(token) or {})["exp"]), tz=timezone.utc)
    except (KeyError, ValueError, TypeError, OverflowError):
        return None


def one_line(text: str, limit: int = MAX_DETAIL) -> str:
    """Collapse whitespace and truncate, so an odd server body never floods the terminal."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_body(text: str, content_type: str = "") -> str:
    """A short description of a body that is not the JSON we expected: an HTML title, or its first chars."""
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        return f"an HTML page ({one_line(title.group(1), 80)!r})" if title else "an HTML page"
    if not text.strip():
        return "an empty body"
    return repr(one_line(text, 80))
