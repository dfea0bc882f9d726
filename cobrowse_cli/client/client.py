"""The Cobrowse REST client: headers, auth, retries, error mapping, debug log, paging entry points.

Usable without the CLI: `with Client(api=..., token=...) as c: c.list_sessions(state=["active"])`.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import sys
import time
from datetime import date, datetime
from typing import Any, Callable, Iterator, TextIO
from urllib.parse import quote, urlsplit

import orjson

# httpx imports its own command-line tool (httpx._main: rich, pygments, click) whenever click is
# installed, and the sandbox extra installs click. Our CLI never runs it; skipping it saves ~140 ms
# of start-up on every cron run. httpx falls back to a stub `main` when the import fails.
if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    import httpx

    del sys.modules["httpx._main"]
else:
    import httpx

from cobrowse_cli import __version__
from cobrowse_cli.client import paging, retry
from cobrowse_cli.client.errors import (
    CobrowseError,
    InsecureTransportError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    ServerError,
    TokenExpiredError,
    api_error,
    describe_body,
)
from cobrowse_cli.client.query import build_url, iso_ms
from cobrowse_cli.client.redact import redact
from cobrowse_cli.client.socket import SocketAuth, socket_url, subprotocols

API_VERSION = "1.2.0"
DEFAULT_API = "https://cobrowse.io"
# Explicit on purpose: httpx's default is 5 s for everything, too short to read 1000 sessions on a slow link.
ERROR_BODY_CAP = 64 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)



class Client:
    """One API endpoint + credentials. Thread-safe for reads as far as httpx.Client is; close() when done."""

    def __init__(
        self,
        api: str = DEFAULT_API,
        token: str | Callable[[], str | None] | None = None,
        license: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 5,
        backoff: float = 0.25,
        max_backoff: float = 10.0,
        debug: TextIO | None = None,
        insecure: bool = False,
        platform: str = "cobrowse-cli",
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 20,
    ):
        self.api = api or DEFAULT_API
        parts = urlsplit(self.api)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CobrowseError(f"invalid API URL {self.api!r}: expected http(s)://host[:port]")
        self.license = license
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.debug = debug
        self.insecure = insecure
        self.platform = platform
        self._token = token
        self._warned_insecure = False
        self._sleep: Callable[[float], None] = retry.sleep  # replaceable in tests
        self._http = httpx.Client(
            timeout=timeout,
            verify=_needs_tls(parts.scheme),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the bearer token to another host
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def token(self) -> str | None:
        """The token the next request would send (a callable source is asked again each time)."""
        return self._token() if callable(self._token) else self._token

    # -- resources -------------------------------------------------------------------------------
    def me(self) -> dict:
        return self._call("GET", "/api/1/users/me", expect=dict)

    def list_sessions(self, **query: Any) -> list[dict]:
        """One page of sessions (`state=[...]`, `agent="all"`, `filter_<key>=...`, `activated_before`, `limit`)."""
        return self._call("GET", "/api/1/sessions", query=query, expect=list)

    def iter_sessions(
        self,
        query: dict | None = None,
        *,
        page_size: int = paging.MAX_PAGE,
        limit: int | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> Iterator[dict]:
        """Every matching session once, newest first, fetched `page_size` at a time (see paging.py)."""
        return self._iter("/api/1/sessions", paging.SESSIONS, query, page_size, limit, on_page)

    def get_session(self, id_or_code: str) -> dict:
        return self._call("GET", f"/api/1/sessions/{_segment(id_or_code)}", expect=dict)

    def create_session(self, body: dict | None = None) -> dict:
        """POST: never retried once sent (a retry could create a second session)."""
        return self._call("POST", "/api/1/sessions", json=body or {}, expect=dict)

    def update_session(self, id: str, changes: dict) -> dict:
        """PUT the changed fields plus `id`, as the SDK does; returns the whole session."""
        return self._call("PUT", f"/api/1/sessions/{_segment(id)}", json={**changes, "id": id}, expect=dict)

    def end_session(self, id: str) -> dict:
        return self.update_session(id, {"state": "ended"})

    def session_tokens(self, id: str) -> dict:
        return self._call("GET", f"/api/1/sessions/{_segment(id)}/tokens", expect=dict)

    def list_devices(self, **query: Any) -> list[dict]:
        return self._call("GET", "/api/1/devices", query=query, expect=list)

    def iter_devices(
        self,
        query: dict | None = None,
        *,
        page_size: int = paging.MAX_PAGE,
        limit: int | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> Iterator[dict]:
        """Every matching device once, most recently active first, paged by `seen_before` on `last_active`."""
        return self._iter("/api/1/devices", paging.DEVICES, query, page_size, limit, on_page)

    def _iter(self, path: str, cursor: paging.Cursor, query, page_size, limit, on_page) -> Iterator[dict]:
        fetch = lambda q: self._call("GET", path, query=q, expect=list)  # noqa: E731
        return paging.iter_paged(fetch, cursor, query, page_size=page_size, limit=limit, on_page=on_page)

    def get_device(self, id: str) -> dict:
        return self._call("GET", f"/api/1/devices/{_segment(id)}", expect=dict)

    def notify_device(self, id: str, session_id: str, attempt: int = 1) -> dict:
        body = {"session": session_id, "attempt": attempt}
        return self._call("POST", f"/api/1/devices/{_segment(id)}/notifications", json=body)

    def socket_auth(self) -> SocketAuth:
        """Where to open the realtime socket, from /users/me (the SDK's #getSocketAuth + #generateUrl)."""
        user = self.me()
        url, token = user.get("notification_url"), user.get("notification_token")
        if not isinstance(token, str) or not token:
            raise InvalidResponseError("/api/1/users/me has no notification_token", method="GET", path="/api/1/users/me")
        headers = {"X-CobrowsePlatform": self.platform, "X-CobrowseSDKVersion": __version__}
        auth = SocketAuth(socket_url(url if isinstance(url, str) else "", self.api, headers), subprotocols(token), token)
        # The socket carries a credential too: the same plain-text refusal as for REST (ws:// is http://).
        self._check_transport(auth.url.replace("ws://", "http://", 1))
        return auth

    def on_response(self, hook: Callable[[httpx.Response], None]) -> None:
        """Call `hook(response)` for every HTTP response, retries included (e.g. `cobrowse api --include`)."""
        hooks = dict(self._http.event_hooks)
        hooks["response"] = [*hooks.get("response", []), hook]
        self._http.event_hooks = hooks

    def request(self, method: str, path: str, *, query: dict | None = None, json: Any = None) -> Any:
        """Any API call (for `cobrowse api`): same auth, retries, errors and redaction; returns parsed JSON
        (None for an empty body)."""
        return self._call(method.upper(), path, query=query, json=json)

    # -- the one request loop --------------------------------------------------------------------
    def _call(
        self, method: str, path: str, *, query: dict | None = None, json: Any = None, expect: type | None = None
    ) -> Any:
        url = build_url(self.api, path, query)
        self._check_origin(url)
        token = self.token
        if token:
            self._check_transport(url)
        content = None if json is None else jsonlib.dumps(json, default=_json_default).encode("utf-8")
        short = urlsplit(url).path
        attempt, refreshed = 0, False
        while True:
            self._log(f"> {method} {_display(url)}")
            started = time.monotonic()
            try:
                response, body = self._send(method, url, token, content)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                if attempt < self.retries and retry.retry_error(method, sent=sent):
                    self._wait(attempt, None, _describe_exc(exc))
                    attempt += 1
                    continue
                raise NetworkError(_network_message(exc, url, attempt), url=url) from exc
            ms = (time.monotonic() - started) * 1000
            status = response.status_code
            if status < 400:
                data = self._parse(response, body, method, short, expect)
                self._log(f"< {status} {method} {short} ({ms:.0f} ms{_size(data)})")
                return data
            self._log(f"< {status} {method} {short} ({ms:.0f} ms)")
            wait = retry.parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
            if retry.retry_status(method, status) and attempt < self.retries:
                if wait is None or wait <= retry.RETRY_AFTER_CAP:
                    self._wait(attempt, wait, str(status))
                    attempt += 1
                    continue
            error = self._error(response, body, method, short, query, token, wait)
            if isinstance(error, TokenExpiredError) and callable(self._token) and not refreshed:
                refreshed = True  # the provider may re-mint; try once with what it gives now
                fresh = self.token
                if fresh and fresh != token:
                    self._log("  token expired; retrying once with a fresh token")
                    token = fresh
                    continue
            raise error

    def _send(self, method: str, url: str, token: str | None, content: bytes | None) -> tuple[httpx.Response, bytes]:
        """One HTTP exchange. A success body is read whole; an error body only up to ERROR_BODY_CAP, so a
        huge error page (a proxy's, say) can never balloon memory: we only ever describe it in one line."""
        request = self._http.build_request(method, url, headers=self._headers(token), content=content)
        response = self._http.send(request, stream=True)
        try:
            if response.status_code < 400:
                return response, response.read()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= ERROR_BODY_CAP:
                    break
            return response, bytes(body[:ERROR_BODY_CAP])
        finally:
            response.close()

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-CobrowseAPIVersion": API_VERSION,
            "X-CobrowsePlatform": self.platform,
            "X-CobrowseSDKVersion": __version__,
            "User-Agent": f"cobrowse-cli/{__version__}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.license:
            headers["X-CobrowseLicense"] = self.license
        return headers

    def _wait(self, attempt: int, server_wait: float | None, reason: str) -> None:
        if server_wait is not None:
            delay = server_wait
        else:
            delay = retry.backoff_delay(attempt, self.backoff, self.max_backoff)
        self._log(f"  retrying in {delay:.1f}s after {reason} (retry {attempt + 1} of {self.retries})")
        self._sleep(delay)

    def _parse(self, response: httpx.Response, body: bytes, method: str, path: str, expect: type | None) -> Any:
        if not body.strip():
            if expect is None:
                return None
            raise InvalidResponseError(
                f"{method} {path} answered {response.status_code} with an empty body", status=response.status_code,
                method=method, path=path,
            )
        try:
            data = orjson.loads(body)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            raise InvalidResponseError(
                f"{method} {path} answered {response.status_code} with "
                f"{describe_body(_text(body), response.headers.get('content-type', ''))} instead of JSON; "
                f"is {self.api} the Cobrowse API?",
                status=response.status_code, method=method, path=path,
            ) from None
        if expect is not None and not isinstance(data, expect):
            raise InvalidResponseError(
                f"{method} {path} returned {_json_type(data)}, expected {_json_type(expect())}",
                status=response.status_code, method=method, path=path,
            )
        return data

    def _error(
        self, response: httpx.Response, body: bytes, method: str, path: str, query: dict | None, token: str | None,
        wait: float | None,
    ) -> CobrowseError:
        status = response.status_code
        try:
            parsed = orjson.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "message" in parsed:
            return api_error(status, parsed, method=method, path=path, query=query, token=token, retry_after=wait)
        what = describe_body(_text(body), response.headers.get("content-type", ""))
        if status == 429:
            return RateLimitedError(status, f"rate limited ({what})", method=method, path=path, retry_after=wait)
        if status >= 500:
            return ServerError(status, f"server error ({what})", method=method, path=path)
        # A 4xx that is not a Cobrowse error body usually means the base URL points somewhere else.
        return InvalidResponseError(
            f"{method} {path} answered {status} with {what}; is {self.api} the Cobrowse API?",
            status=status, method=method, path=path,
        )

    # -- safety ----------------------------------------------------------------------------------
    def _check_origin(self, url: str) -> None:
        target, base = urlsplit(url), urlsplit(self.api)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise InsecureTransportError(  # the token must only ever go to the configured API
                f"refusing to send a request to {target.scheme}://{target.netloc}: "
                f"only {base.scheme}://{base.netloc} (the configured API) is allowed"
            )

    def _check_transport(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
            return
        host = parts.hostname or parts.netloc
        if not self.insecure:
            raise InsecureTransportError(
                f"refusing to send a token over plain http to {host}; use https or --insecure"
            )
        if not self._warned_insecure:
            self._warned_insecure = True
            stream = self.debug or sys.stderr
            stream.write(
                f"WARNING: --insecure: sending the token over plain http to {host}; "
                "anyone on the network path can read and reuse it\n"
            )
            stream.flush()

    def _log(self, line: str) -> None:
        if self.debug is not None:
            self.debug.write(redact(line) + "\n")
            self.debug.flush()


def _segment(value: str) -> str:
    """One path segment; an empty id would silently turn a `get` into a `list`."""
    text = str(value or "").strip()
    if not text or text in (".", ".."):  # "." and ".." would be normalised away and address another path
        raise CobrowseError(f"invalid id {value!r}")
    return quote(text, safe="")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost",) or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _display(url: str) -> str:
    # Brackets are sent percent-encoded (like the SDK) but read better decoded in a log.
    return url.replace("%5B", "[").replace("%5D", "]")


def _size(data: Any) -> str:
    return f", {len(data)} items" if isinstance(data, list) else ""


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return iso_ms(value if isinstance(value, datetime) else datetime(value.year, value.month, value.day))
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _needs_tls(scheme: str) -> bool:
    """A plain-http API with no proxy never makes a TLS handshake, so skip loading the CA bundle (~100 ms).

    With a proxy configured (it may itself speak TLS), keep full verification.
    """
    import os

    proxied = any(os.environ.get(k) for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"))
    return scheme != "http" or proxied


def _describe_exc(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    # "[Errno 111] Connection refused" -> "connection refused"
    if "] " in text and text.startswith("[Errno"):
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:]


def _network_message(exc: httpx.TransportError, url: str, retries: int) -> str:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    after = f" after {retries + 1} attempts" if retries else ""
    if isinstance(exc, httpx.ConnectTimeout):
        what = f"timed out connecting to {origin}"
    elif isinstance(exc, httpx.ConnectError):
        what = f"cannot connect to {origin} ({_reason(exc)})"
    elif isinstance(exc, httpx.ReadTimeout):
        what = f"no answer from {origin} in time"
    elif isinstance(exc, httpx.TimeoutException):
        what = f"timed out talking to {origin}"
    else:
        what = f"connection to {origin} failed ({_reason(exc)})"
    return what + after
