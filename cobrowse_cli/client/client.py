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
from cobrowse_cli.client.deadline import bounded, install as install_deadline
from cobrowse_cli.client.errors import (
    CobrowseError,
    DeadlineError,
    InsecureTransportError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    TLSError,
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
# One request, connect to last byte, however slowly the server trickles (--request-timeout).
DEFAULT_DEADLINE = 60.0
# Every attempt and wait of one call together (retries included), as a multiple of the deadline.
BUDGET_FACTOR = 2.0
# Decoded size of an answer we accept: a 1,000-session page with big custom_data is a few MB.
MAX_BODY = 32 * 1024 * 1024



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
        deadline: float = DEFAULT_DEADLINE,
        budget: float | None = None,
        max_body: int = MAX_BODY,
        concurrency: int = 4,  # requests at once for a windowed listing (issue 18); 1 = sequential paging
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
        self._proxies: dict[str, str | None] = {}  # origin -> the environment's proxy for it (read once)
        self.deadline = deadline
        self.budget = budget if budget is not None else deadline * BUDGET_FACTOR
        self.max_body = max_body
        self.concurrency = max(1, concurrency)  # requests at once for an unordered (windowed) listing
        self.rate_limited = 0  # 429s met so far: a windowed listing lowers its concurrency on one
        self._sleep: Callable[[float], None] = retry.sleep  # replaceable in tests
        try:
            self._http = httpx.Client(
                timeout=timeout,
                verify=_needs_tls(parts.scheme),
                transport=transport,
                follow_redirects=False,  # a redirect could carry the bearer token to another host
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            )
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: SSL_CERT_FILE=/nonexistent, a bad PEM
            raise TLSError(_ca_message(f"cannot load the trusted certificates ({_reason(exc)})")) from None
        install_deadline(self._http)

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

    # recordings, account, policy, regions (media itself is fetched by client/media.py, without our token)
    def get_recording(self, session_id: str) -> dict:
        """`video` and `actions` (signed URLs, relative to the API or absolute) and `events` (a list)."""
        return self._call("GET", f"/api/1/sessions/{_segment(session_id)}/recording", expect=dict)

    def delete_recording(self, session_id: str) -> Any:
        return self._call("DELETE", f"/api/1/sessions/{_segment(session_id)}/recording")

    def accounts(self) -> list[dict]:
        return self._call("GET", "/api/1/accounts", expect=list)

    def current_policy(self) -> dict:
        return self._call("GET", "/api/1/policy/current", expect=dict)

    def closest_region(self) -> dict:
        return self._call("GET", "/api/1/regions/closest", expect=dict)

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
        attempt, limited, refreshed = 0, 0, False  # retries after failures; after 429s (see retry.py)
        delivered = 0  # sends the server may have acted on (CobrowseError.delivered)
        give_up = time.monotonic() + self.budget
        while True:
            self._log(f"> {method} {_display(url)}")
            started = time.monotonic()
            ends = min(started + self.deadline, give_up)
            try:
                with bounded(ends):
                    response, body = self._send(method, url, token, content, ends)
            except httpx.TransportError as exc:
                if time.monotonic() >= ends:  # a slow server stays slow: the deadline is not retried
                    raise DeadlineError(self._deadline_message(url, ends >= give_up and attempt > 0), url=url) from None
                if _tls_failure(exc):
                    raise TLSError(_ca_message(f"TLS with {_origin(url)} failed ({_tls_failure(exc)})"), url=url) from None
                sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
                delivered += sent
                if attempt < self.retries and retry.retry_error(method, sent=sent) and self._wait(
                    attempt, None, _describe_exc(exc), give_up
                ):
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
            self.rate_limited += status == 429
            delivered += status != 429
            wait = retry.parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
            bearable = wait is None or wait <= retry.RETRY_AFTER_CAP
            if status == 429 and self.retries and retry.retry_status(method, status):
                if bearable and limited < retry.RATE_LIMITED_RETRIES and self._wait(
                    limited, None if wait is None else retry.spread(wait), "429", give_up, of=retry.RATE_LIMITED_RETRIES
                ):
                    limited += 1
                    continue
            elif retry.retry_status(method, status) and attempt < self.retries:
                if bearable and self._wait(attempt, wait, str(status), give_up):
                    attempt += 1
                    continue
            error = self._error(response, body, method, short, query, token, wait)
            if isinstance(error, TokenExpiredError) and callable(self._token) and not refreshed and time.monotonic() < give_up:
                refreshed = True  # the provider may re-mint; try once with what it gives now
                fresh = self.token
                if fresh and fresh != token:
                    self._log("  token expired; retrying once with a fresh token")
                    token = fresh
                    continue
            error.delivered = delivered
            raise error

    def _send(
        self, method: str, url: str, token: str | None, content: bytes | None, ends: float
    ) -> tuple[httpx.Response, bytes]:
        """One HTTP exchange, read as it is decoded (a gzip bomb stops at the cap, not at its size). A
        success body may be up to max_body; an error body is read only up to ERROR_BODY_CAP, as we only
        ever describe it in one line."""
        request = self._http.build_request(method, url, headers=self._headers(token), content=content)
        response = self._http.send(request, stream=True)
        try:
            cap = self.max_body if response.status_code < 400 else ERROR_BODY_CAP
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    if response.status_code >= 400:
                        break
                    raise ResponseTooLargeError(
                        f"{method} {urlsplit(url).path} answered more than {cap // (1024 * 1024)} MB; "
                        f"stopped reading (is {self.api} the Cobrowse API?)",
                        status=response.status_code, method=method, path=urlsplit(url).path,
                    )
                if time.monotonic() >= ends:  # also bounds transports DeadlineBackend cannot wrap
                    raise httpx.ReadTimeout("the request deadline passed", request=request)
            return response, bytes(body[:cap])
        finally:
            response.close()

    def stream(self, path: str, *, idle_timeout: float = 30.0, query: dict | None = None) -> Iterator[bytes]:
        """GET a large download (e.g. a recording) chunk by chunk: no size cap and no overall deadline,
        but it fails when no byte arrives for `idle_timeout` seconds. Same origin/transport checks and
        headers as every call; not retried (the caller knows whether a partial file can resume)."""
        url = build_url(self.api, path, query)
        self._check_origin(url)
        token = self.token
        if token:
            self._check_transport(url)
        idle = httpx.Timeout(connect=DEFAULT_TIMEOUT.connect, read=idle_timeout, write=idle_timeout, pool=DEFAULT_TIMEOUT.pool)
        self._log(f"> GET {_display(url)} (download)")
        try:
            with self._http.stream("GET", url, headers=self._headers(token), timeout=idle) as response:
                if response.status_code >= 400:
                    body = response.read()[:ERROR_BODY_CAP] if int(response.headers.get("content-length") or 0) <= ERROR_BODY_CAP else b""
                    raise self._error(response, body, "GET", urlsplit(url).path, query, token, None)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            if _tls_failure(exc):
                raise TLSError(_ca_message(f"TLS with {_origin(url)} failed ({_tls_failure(exc)})"), url=url) from None
            raise NetworkError(_network_message(exc, url, 0), url=url) from exc

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

    def _wait(self, attempt: int, server_wait: float | None, reason: str, give_up: float, of: int | None = None) -> bool:
        """Sleep before a retry; False (no retry) when the wait would overrun the call's budget."""
        if server_wait is not None:
            delay = server_wait
        else:
            delay = retry.backoff_delay(attempt, self.backoff, self.max_backoff)
        if time.monotonic() + delay >= give_up:
            self._log(f"  not retrying after {reason}: the call's {self.budget:g} s budget would run out")
            return False
        self._log(f"  retrying in {delay:.1f}s after {reason} (retry {attempt + 1} of {of or self.retries})")
        self._sleep(delay)
        return True

    def _deadline_message(self, url: str, budget: bool) -> str:
        if budget:
            return f"no complete answer from {_origin(url)} within {self.budget:g} s, retries included"
        return (
            f"no complete answer from {_origin(url)} within {self.deadline:g} s "
            "(raise it with --request-timeout or COBROWSE_REQUEST_TIMEOUT)"
        )

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
    def check_transport(self) -> None:
        """Raise InsecureTransportError now, before a bulk operation starts, if the token would go over
        plain http to a non-loopback host (every request checks this too)."""
        if self.token:
            self._check_transport(self.api)

    def _check_origin(self, url: str) -> None:
        target, base = urlsplit(url), urlsplit(self.api)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise InsecureTransportError(  # the token must only ever go to the configured API
                f"refusing to send a request to {target.scheme}://{target.netloc}: "
                f"only {base.scheme}://{base.netloc} (the configured API) is allowed"
            )

    def _check_transport(self, url: str) -> None:
        """A token never crosses a network in clear text: not to a plain-http API, and not through a
        plain-http proxy (which sees the whole request) unless the API and the proxy are both loopback."""
        parts = urlsplit(url)
        if parts.scheme != "http":
            return  # https: a proxy only tunnels (CONNECT) and never sees the token
        host = parts.hostname or parts.netloc
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:  # the environment is read once per origin, not on every request
            self._proxies[origin] = _proxy_for(url)
        proxy = self._proxies[origin]
        proxy_host = (urlsplit(proxy).hostname or proxy) if proxy and urlsplit(proxy).scheme == "http" else None
        if _is_loopback(host) and (proxy is None or (proxy_host is not None and _is_loopback(proxy_host))):
            return
        if proxy is not None and proxy_host is None:
            return  # an https proxy: the hop to it is encrypted; a loopback API behind it is the user's setup
        where = f"{host} via the plain-http proxy {proxy_host} (HTTP_PROXY; NO_PROXY={host} bypasses it)" if proxy_host else host
        if not self.insecure:
            raise InsecureTransportError(f"refusing to send a token over plain http to {where}; use https or --insecure")
        if not self._warned_insecure:
            self._warned_insecure = True
            stream = self.debug or sys.stderr
            stream.write(
                f"WARNING: --insecure: sending the token over plain http to {where}; "
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


def _proxy_for(url: str) -> str | None:
    """The proxy httpx will use for `url` from the environment (HTTP_PROXY, ALL_PROXY, NO_PROXY), if any."""
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(parts.netloc, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _tls_failure(exc: BaseException) -> str | None:
    """The certificate problem behind a connect error (walking the cause chain), or None."""
    import ssl

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return _reason(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _ca_message(what: str) -> str:
    return (
        f"{what}; if a private CA or an intercepting proxy signs the certificate, point SSL_CERT_FILE "
        "(or SSL_CERT_DIR) at its CA bundle"
    )


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
