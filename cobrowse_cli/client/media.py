"""Fetching recording media (videos, action logs) from the signed URLs the API hands out.

Its own httpx client, on purpose: these URLs carry their own short-lived token and may live on another
host, so our bearer token, license and API headers are never attached (the SDK fetches them bare).
Redirects are followed by hand so every hop is checked: https anywhere, plain http only to loopback.
A body is streamed to the caller's file in chunks (flat memory, no size cap); the read timeout is an
idle timeout: a download that keeps making progress may take as long as it needs.
"""

from __future__ import annotations

import ipaddress
import os
from typing import BinaryIO, Callable
from urllib.parse import urljoin, urlsplit

from cobrowse_cli import __version__
from cobrowse_cli.client.client import httpx  # via client.py: it skips httpx's own CLI (~200 ms of start-up)
from cobrowse_cli.client.errors import CobrowseError, InsecureTransportError

MAX_REDIRECTS = 5
EXPIRED_STATUSES = (401, 403, 410)  # what a CDN answers for an expired or revoked signature
ERROR_BODY_CAP = 4096
RCVBUF = 4 * 1024 * 1024  # the kernel caps it at net.core.rmem_max
# Twice httpcore's 64 KiB: half the Python round trips, yet each chunk h11 copies (into its buffer and out
# again) stays cache-sized; 1 MiB chunks measured ~20% more CPU per GB (2.8-3.1 s vs 2.1-2.5 s).
READ_BYTES = 128 * 1024


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
        import threading

        self.api = api.rstrip("/") + "/"
        self._settings = (idle_timeout, max_connections, transport)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def _http(self) -> httpx.Client:
        """Built on first use: loading the CA bundle costs ~55 ms, wasted on a re-run that has
        nothing left to fetch (a cron job resuming, every file already complete)."""
        with self._lock:
            if self._client is None:
                self._client = self._build(*self._settings)
            return self._client

    @staticmethod
    def _build(idle_timeout: float, max_connections: int, transport: httpx.BaseTransport | None) -> httpx.Client:
        if transport is None:  # a big receive buffer: the sender keeps streaming while this thread writes
            import socket

            transport = _BigReads(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)])
        return httpx.Client(
            timeout=httpx.Timeout(connect=10.0, read=idle_timeout, write=30.0, pool=None),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": f"cobrowse-cli/{__version__}"},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    def resolve(self, url: str) -> str:
        """A media URL as the API gave it (relative to the API base, or absolute), checked."""
        if not isinstance(url, str) or not url.strip():
            raise MediaError(f"the API gave no usable media URL ({type(url).__name__})")
        absolute = urljoin(self.api, url.strip())
        check_media_url(absolute)
        return absolute

    def download(self, url: str, out: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> tuple[int, str]:
        """Stream `url` into `out`; returns (bytes written, content type). Raises MediaError/MediaExpired."""
        url = self.resolve(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with self._http.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        check_media_url(url)
                        continue
                    _raise_for_status(response, url)
                    written = _copy(response, out, on_bytes)
                    return written, response.headers.get("content-type", "")
            except httpx.TimeoutException as e:
                raise MediaError(f"media download stalled: no data from {_origin(url)} for too long ({type(e).__name__})",
                                 transient=True) from None
            except httpx.TransportError as e:  # includes a body cut short of its Content-Length
                raise MediaError(f"media download from {_origin(url)} failed: {e or type(e).__name__}",
                                 transient=True) from None
        raise MediaError(f"too many redirects fetching media from {_origin(url)}")


class _BigReads(httpx.HTTPTransport):
    """Reads of READ_BYTES instead of httpcore's 64 KiB on this client's own connections only (never a
    global patch): fewer Python round trips through httpcore/h11 per MB. Falls
    back silently to the default if httpcore's internals change."""

    def handle_request(self, request):
        response = super().handle_request(request)
        for connection in getattr(getattr(self, "_pool", None), "connections", ()):
            inner = getattr(connection, "_connection", None)
            if isinstance(getattr(inner, "READ_NUM_BYTES", None), int):
                inner.READ_NUM_BYTES = READ_BYTES
        return response


def _copy(response: httpx.Response, out: BinaryIO, on_bytes: Callable[[int], None] | None) -> int:
    """The body to `out` with as little Python per chunk as possible: an identity body is taken raw
    (no decoder pass) and written straight to the file descriptor (no buffer copy)."""
    raw = response.headers.get("content-encoding", "identity").strip().lower() in ("", "identity")
    raw = raw and not hasattr(response, "_content")  # a body already read (a test transport): iter_bytes
    chunks = response.iter_raw() if raw else response.iter_bytes()
    try:
        fd = out.fileno()
        out.flush()
    except (AttributeError, OSError, ValueError):  # not a real file: its own write
        fd = None
    written = 0
    for chunk in chunks:
        if fd is None:
            out.write(chunk)
        else:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        written += len(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
    return written


def check_media_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureTransportError(f"refusing media URL with scheme {parts.scheme or 'none'!r}: only http(s)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The URL's own signature is a credential too: never over plain http beyond this machine.
        raise InsecureTransportError(f"refusing to fetch media over plain http from {parts.hostname}")


def _raise_for_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = _short_body(response)
    where = _origin(url)
    if status in EXPIRED_STATUSES:
        raise MediaExpired(f"media URL refused by {where} ({status}{detail})", status=status)
    transient = status == 429 or status >= 500
    raise MediaError(f"media download from {where} failed ({status}{detail})", status=status, transient=transient)


def _short_body(response: httpx.Response) -> str:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_CAP:
            break
    try:
        import json

        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return ""
    text = " ".join(str(message).split())[:200] if message else ""
    return f": {text}" if text else ""


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
