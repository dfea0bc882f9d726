"""Fetching recording media (videos, action logs) from the signed URLs the API hands out.

Never through the API client: these URLs carry their own short-lived token and may live on another
host, so our bearer token, license and API headers are never attached (the SDK fetches them bare).
Redirects are followed by hand so every hop is checked: https anywhere, plain http only to loopback.
A body is streamed to the caller's file (flat memory, no size cap); the read timeout is an idle
timeout: a download that keeps making progress may take as long as it needs.

Two transports, one set of checks. Direct (no proxy applies): the stdlib's http.client for the request
and the headers; a body of known length into a real file is then read with `recv_into` straight from
the socket into one reused buffer per thread and `os.write`-n from it: one kernel copy in, one out,
like curl (h11 copies every chunk into its buffer and out again, in Python, per 64-128 KiB); any other
body goes through http.client's `readinto`.
TLS is verified with httpx's own context (its CA bundle, SSL_CERT_FILE/SSL_CERT_DIR). Through a proxy
from the environment (HTTP(S)_PROXY, ALL_PROXY, minus NO_PROXY), or with an injected transport: httpx.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urljoin, urlsplit

from cobrowse_cli import __version__
from cobrowse_cli.client.errors import CobrowseError, InsecureTransportError

if TYPE_CHECKING:
    import http.client
    import ssl

    import httpx

# httpx, http.client and ssl (~0.3 s of imports, cold) load on the first request, not at import: a re-run whose
# files are all complete fetches nothing.


def _httpx():
    # via client.py: it skips httpx's own CLI (~200 ms of start-up)
    from cobrowse_cli.client.client import httpx

    return httpx


MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
EXPIRED_STATUSES = (401, 403, 410)  # what a CDN answers for an expired or revoked signature
ERROR_BODY_CAP = 4096
CONNECT_TIMEOUT = 10.0
# Cache-sized on purpose: the bytes the kernel copies in are still in cache when os.write copies them
# out. Measured (50 x 20 MB, 4 threads, a busy 2-core machine): 128-256 KiB 0.9-1.2 s CPU per GB,
# 64 KiB 1.6 s, 512 KiB 1.2 s, 1 MiB 2.1 s.
BUFFER_BYTES = 256 * 1024
IDENTITY = ("", "identity")


class MediaError(CobrowseError):
    """The media URL failed; `transient` says a retry may help (network, 5xx, 429)."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


class MediaExpired(MediaError):
    """The signed URL was refused (expired or revoked): ask the API for a fresh one."""


class MediaFetcher:
    def __init__(self, api: str, *, idle_timeout: float = 60.0, max_connections: int = 8,
                 transport: httpx.BaseTransport | None = None):
        self.api = api.rstrip("/") + "/"
        self.idle_timeout = idle_timeout
        self._settings = (idle_timeout, max_connections, transport)
        self._direct = transport is None  # an injected transport (tests, embedding) gets every request
        self._client: httpx.Client | None = None
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: idle direct connections by origin, and the buffer
        self._opened: list[http.client.HTTPConnection] = []  # every direct connection, for close()
        self._proxied: dict[tuple, bool] = {}  # by origin: the environment does not change during a run
        self._headers = {"User-Agent": f"cobrowse-cli/{__version__}", "Accept-Encoding": "identity"}

    @property
    def _http(self) -> httpx.Client:
        """Built on first use: loading the CA bundle costs ~55 ms, wasted on a re-run that has
        nothing left to fetch (a cron job resuming, every file already complete)."""
        with self._lock:
            if self._client is None:
                idle_timeout, max_connections, transport = self._settings
                httpx = _httpx()
                self._client = httpx.Client(
                    timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=idle_timeout, write=30.0, pool=None),
                    follow_redirects=False, transport=transport, headers={"User-Agent": self._headers["User-Agent"]},
                    limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    def resolve(self, url: str) -> str:
        """A media URL as the API gave it (relative to the API base, or absolute), checked."""
        if not isinstance(url, str) or not url.strip():
            raise MediaError(f"the API gave no usable media URL ({type(url).__name__})")
        absolute = urljoin(self.api, url.strip())
        check_media_url(absolute)
        return absolute

    def download(self, url: str, out: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> tuple[int, str]:
        """Stream `url` into `out`; returns (bytes written, content type). Raises MediaError/MediaExpired;
        an OSError is the caller's file failing (disk full), never the network."""
        url = self.resolve(url)
        for _ in range(MAX_REDIRECTS + 1):
            with _network(url):
                response = self._open(url)
            try:
                location = response.header("location")
                if response.status in REDIRECT_STATUSES and location:
                    url = urljoin(url, location)
                    check_media_url(url)
                    continue
                with _network(url):
                    _raise_for_status(response, url)
                written = response.copy_to(out, on_bytes, url)
                response.complete = True
                return written, response.header("content-type") or ""
            finally:
                response.close()
        raise MediaError(f"too many redirects fetching media from {_origin(url)}")

    def _open(self, url: str) -> _Response:
        if self._direct and not self._through_proxy(url):
            return self._open_direct(url)
        return _HttpxResponse(self._http.stream("GET", url))

    def _through_proxy(self, url: str) -> bool:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxied:
            from cobrowse_cli.client.client import _proxy_for

            self._proxied[key] = _proxy_for(url) is not None
        return self._proxied[key]

    # -- the direct transport ------------------------------------------------------------------------
    def _open_direct(self, url: str) -> _DirectResponse:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        target = _target(parts)
        idle: dict = self._local.__dict__.setdefault("idle", {})
        conn = idle.pop(key, None)
        for reused in ((True, False) if conn is not None else (False,)):
            if not reused:
                conn = self._connect(parts)
            try:
                conn.request("GET", target, headers=self._headers)
                return _DirectResponse(conn.getresponse(), conn, idle, key, self._buffer())
            except ConnectionError:  # a kept-alive connection the server closed meanwhile: once more, fresh
                conn.close()
                if not reused:
                    raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def _connect(self, parts) -> http.client.HTTPConnection:
        import http.client

        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT,
                                               context=self._tls_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT)
        with self._lock:
            self._opened.append(conn)
        conn.connect()  # TCP (and the TLS handshake) under the connect timeout, then reads under the idle one
        conn.sock.settimeout(self.idle_timeout)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                self._tls = _httpx().create_ssl_context(verify=True, trust_env=True)
            return self._tls

    def _buffer(self) -> bytearray:
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = bytearray(BUFFER_BYTES)
        return buffer


class _DirectResponse:
    def __init__(self, response: http.client.HTTPResponse, conn, idle: dict, key, buffer: bytearray):
        self.response, self.conn, self.idle, self.key, self.buffer = response, conn, idle, key, buffer
        self.status = response.status
        self.complete = False

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def _check_body(self) -> None:
        encoding = (self.header("content-encoding") or "").strip().lower()
        if encoding not in IDENTITY:  # asked for identity; decoding here would be a second, unbounded path
            raise MediaError(f"the media server sent a {encoding[:40]!r}-encoded body although none was asked for")
        if self.header("content-length") is not None and self.response.length is None and not self.response.chunked:
            raise MediaError("the media server sent an invalid Content-Length")  # a cut body would look whole

    def copy_to(self, out: BinaryIO, on_bytes: Callable[[int], None] | None, url: str) -> int:
        self._check_body()
        fd = _fileno(out)
        if fd is None or self.response.chunked or self.response.length is None:
            return _copy(self.chunks(), out, on_bytes, url, fd)
        return self._copy_exact(fd, on_bytes, url)

    def _copy_exact(self, fd: int, on_bytes: Callable[[int], None] | None, url: str) -> int:
        """Content-Length bytes from the socket into the buffer and from there to the file, with as little
        Python as possible between the two system calls, plain or TLS alike. Measured with perf (4 threads,
        50 x 20 MB): behind http.client's readinto layers and a generator per chunk, the kernel's copy into
        the file cost ~2x per byte what it costs here or in a bare recv_into/write loop (CPU per GB of the
        fetcher 1.4-1.9 s -> 0.75-0.9 s), with the same system calls in number; why (the GIL hand-offs
        between read and write leaving the buffer cold?) is not pinned down."""
        response, buffer = self.response, self.buffer
        view, size, left, written = memoryview(buffer), len(buffer), response.length, 0
        writing = False
        try:
            # what http.client's reader already holds past the headers, else one read of the socket
            n = response.fp.readinto1(view[:min(size, left)]) if left else 0
            recv_into = self.conn.sock.recv_into
            while left:
                if not n:
                    import http.client

                    raise http.client.IncompleteRead(b"", left)  # the body was cut short of Content-Length
                left -= n
                writing = True
                done = os.write(fd, view[:n] if n < size else buffer)
                while done < n:
                    done += os.write(fd, view[done:n])
                writing = False
                written += n
                if on_bytes is not None:
                    on_bytes(n)
                if left:
                    n = recv_into(buffer, min(size, left))
        except Exception as e:
            mapped = None if writing or isinstance(e, CobrowseError) else _as_media_error(url, e)
            if mapped is None:
                raise  # the caller's file failing (an OSError: disk full), or our own error
            raise mapped from None
        response.length = 0  # read to the end: http.client may reuse the connection
        return written

    def chunks(self) -> Iterator[memoryview]:
        read, view, buffer = self.response.readinto, memoryview(self.buffer), self.buffer
        while n := read(buffer):
            yield view[:n]
        if self.response.length:  # readinto (unlike read) ends quietly at EOF short of Content-Length
            import http.client

            raise http.client.IncompleteRead(b"", self.response.length)

    def read_some(self, cap: int) -> bytes:
        return self.response.read(cap)

    def close(self) -> None:
        self.response.close()
        if self.complete and self.conn.sock is not None and self.key not in self.idle:
            self.idle[self.key] = self.conn  # read to the end and kept alive: the next file reuses it
        else:
            self.conn.close()


class _HttpxResponse:
    def __init__(self, stream):
        self._stream = stream
        self.response: httpx.Response = stream.__enter__()
        self.status = self.response.status_code
        self.complete = False

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name)

    def chunks(self) -> Iterator[bytes]:
        encoding = self.response.headers.get("content-encoding", "identity").strip().lower()
        raw = encoding in IDENTITY and not hasattr(self.response, "_content")  # a body read up front: iter_bytes
        return self.response.iter_raw() if raw else self.response.iter_bytes()

    def copy_to(self, out: BinaryIO, on_bytes: Callable[[int], None] | None, url: str) -> int:
        return _copy(self.chunks(), out, on_bytes, url, _fileno(out))

    def read_some(self, cap: int) -> bytes:
        body = b""
        for chunk in self.response.iter_bytes():
            body += chunk
            if len(body) >= cap:
                break
        return body[:cap]

    def close(self) -> None:
        self._stream.__exit__(None, None, None)


_Response = _DirectResponse | _HttpxResponse


class _network:
    """Network failures of one media URL as MediaError (an OSError from the caller's file is not one)."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        mapped = None if kind is None or issubclass(kind, CobrowseError) else _as_media_error(self.url, error)
        if mapped is not None:
            raise mapped from None
        return False


def _as_media_error(url: str, error: BaseException) -> MediaError | None:
    """A network failure fetching `url` as a MediaError; None for anything else."""
    kind, where = type(error), _origin(url)
    # an error from a module not loaded yet cannot be one of its classes
    httpx, client = sys.modules.get("httpx"), sys.modules.get("http.client")
    timeouts = (TimeoutError, httpx.TimeoutException) if httpx else (TimeoutError,)
    failures = (OSError, *((client.HTTPException,) if client else ()), *((httpx.TransportError,) if httpx else ()))
    if issubclass(kind, timeouts):
        return MediaError(f"media download stalled: no data from {where} for too long ({kind.__name__})", transient=True)
    ssl = sys.modules.get("ssl")
    if ssl is not None and issubclass(kind, ssl.SSLCertVerificationError):  # not transient: retrying cannot fix it
        return MediaError(f"TLS with {where} failed: {error.verify_message or 'certificate verify failed'}; if a "
                          "private CA signs it, point SSL_CERT_FILE at its CA bundle")
    if issubclass(kind, failures):
        # includes a body cut short of its Content-Length (IncompleteRead, RemoteProtocolError)
        return MediaError(f"media download from {where} failed: {_reason(error)}", transient=True)
    if issubclass(kind, ValueError):  # http.client refusing the URL: a bad port, a host with controls
        return MediaError(f"unusable media URL for {where}: {_reason(error)}")
    return None


def _fileno(out: BinaryIO) -> int | None:
    """`out`'s file descriptor, with anything it buffered flushed first; None for a file-like object."""
    try:
        fd = out.fileno()
        out.flush()
    except (AttributeError, OSError, ValueError):  # not a real file: its own write
        return None
    return fd


def _copy(chunks: Iterator, out: BinaryIO, on_bytes: Callable[[int], None] | None, url: str, fd: int | None) -> int:
    """The body to `out` chunk by chunk: straight to the file descriptor when there is one."""
    written = 0
    chunks = iter(chunks)
    while True:
        with _network(url):
            chunk = next(chunks, None)
        if chunk is None:
            return written
        if fd is None:
            out.write(chunk)
        else:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        written += len(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))


def check_media_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureTransportError(f"refusing media URL with scheme {parts.scheme or 'none'!r}: only http(s)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The URL's own signature is a credential too: never over plain http beyond this machine.
        raise InsecureTransportError(f"refusing to fetch media over plain http from {parts.hostname}")


def _raise_for_status(response: _Response, url: str) -> None:
    status = response.status
    if status < 400:
        return
    detail = _short_body(response.read_some(ERROR_BODY_CAP))
    where = _origin(url)
    if status in EXPIRED_STATUSES:
        raise MediaExpired(f"media URL refused by {where} ({status}{detail})", status=status)
    transient = status == 429 or status >= 500
    raise MediaError(f"media download from {where} failed ({status}{detail})", status=status, transient=transient)


def _short_body(body: bytes) -> str:
    try:
        import json

        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return ""
    text = " ".join(str(message).split())[:200] if message else ""
    return f": {text}" if text else ""


def _target(parts) -> str:
    """Path and query as sent: characters http.client refuses (spaces, controls, non-ASCII) percent-encoded,
    as httpx would; existing escapes kept."""
    from urllib.parse import quote

    return quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="!#$%&'()*+,/:;=?@[]~")


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_loopback(host: str) -> bool:
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
