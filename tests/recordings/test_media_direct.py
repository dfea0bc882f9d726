"""The direct media transport (http.client) against small real servers on 127.0.0.1 port 0, for what the
sandbox does not serve: redirects, TLS, proxies, odd framing, stale kept-alive connections, stalls."""

from __future__ import annotations

import io
import time

import pytest

from cobrowse_cli.client.errors import InsecureTransportError
from cobrowse_cli.client.media import MediaError, MediaExpired, MediaFetcher
from tests.security.hostile import HostileServer, read_request
from tests.support.tls import self_signed_tls

PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


def answer(head: str, body: bytes = b"", *, then=None):
    """A handler answering every request on a connection with `head` + `body`; `then(conn)` after the first."""

    def handler(conn, server):
        while request := read_request(conn):
            server.requests.append(request)
            conn.sendall(head.encode() + b"\r\n\r\n" + body)
            if then is not None:
                return then(conn)

    return handler


@pytest.fixture
def serve(monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    servers = []

    def start(handler, **kw):
        server = HostileServer(handler, **kw)
        server.requests = []
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(params=["file", "memory"])
def sink(request, tmp_path):
    """Where a body goes: a real file (the fast path: socket -> one buffer -> file descriptor) or a file-like
    object with no descriptor (chunk by chunk through `write`)."""
    opened = []

    def make():
        if request.param == "memory":
            return io.BytesIO()
        opened.append(open(tmp_path / f"out{len(opened)}", "w+b"))  # noqa: SIM115 - closed below
        return opened[-1]

    yield make
    for f in opened:
        f.close()


def content(out) -> bytes:
    out.flush()
    out.seek(0)
    return out.read()


def ok(body: bytes, **headers) -> str:
    extra = "".join(f"\r\n{k.replace('_', '-')}: {v}" for k, v in headers.items())
    return f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(body)}{extra}"


def test_requests_are_bare_and_a_body_cut_short_fails_as_transient(serve, sink):
    body = b"x" * 1000
    server = serve(answer(ok(body), body[:400], then=lambda conn: None))  # then the connection closes
    fetcher = MediaFetcher("http://api.example")
    with pytest.raises(MediaError, match="failed") as info:
        fetcher.download(server.url + "/v?sig=s", sink())
    assert info.value.transient
    request = server.requests[0].lower()
    assert request.startswith(b"get /v?sig=s http/1.1") and b"authorization" not in request
    assert b"accept-encoding: identity" in request and b"user-agent: cobrowse-cli/" in request


def test_every_redirect_hop_is_checked(serve, sink):
    body = b"video" * 1000
    cdn = serve(answer(ok(body), body))
    hop = serve(answer(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {cdn.url}/v?sig=2\r\nContent-Length: 0"))
    out = sink()
    assert MediaFetcher("http://api.example").download(hop.url + "/v", out) == (len(body), "video/mp4")
    assert content(out) == body
    leak = serve(answer("HTTP/1.1 302 Found\r\nLocation: http://cdn.example/v\r\nContent-Length: 0"))
    with pytest.raises(InsecureTransportError, match="plain http from cdn.example"):
        MediaFetcher("http://api.example").download(leak.url + "/v", io.BytesIO())


@pytest.mark.parametrize("head, expected, transient", [
    ('HTTP/1.1 410 Gone\r\nContent-Length: 27\r\n\r\n{"message": "link expired"}', MediaExpired, False),
    ("HTTP/1.1 503 Busy\r\nContent-Length: 0", MediaError, True),
    ("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd", MediaError, False),
    ("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nabcd", MediaError, False),
], ids=["expired", "unavailable", "encoded", "bad-length"])
def test_statuses_and_bodies_we_cannot_trust_whole(serve, sink, head, expected, transient):
    head, _, body = head.partition("\r\n\r\n")
    server = serve(answer(head, body.encode()))
    with pytest.raises(expected) as info:
        MediaFetcher("http://api.example").download(server.url + "/v", sink())
    assert type(info.value) is expected and info.value.transient is transient
    if expected is MediaExpired:
        assert "link expired" in str(info.value)


def test_a_kept_alive_connection_the_server_closed_is_replaced_once(serve, sink):
    body = b"v" * 5000
    server = serve(answer(ok(body), body, then=lambda conn: None))  # keep-alive promised, then closed
    fetcher = MediaFetcher("http://api.example")
    for _ in range(2):
        out = sink()
        assert fetcher.download(server.url + "/v", out)[0] == len(body) and content(out) == body
    assert server.connections == 2
    fetcher.close()


def test_a_stalled_body_hits_the_idle_timeout(serve, sink):
    server = serve(answer(ok(b"0123456789"), b"01", then=lambda conn: conn.recv(1)))
    started = time.monotonic()
    with pytest.raises(MediaError, match="stalled") as info:
        MediaFetcher("http://api.example", idle_timeout=0.3).download(server.url + "/v", sink())
    assert info.value.transient and time.monotonic() - started < 3


def test_tls_is_verified_and_ssl_cert_file_is_honoured(serve, sink, tmp_path, monkeypatch):
    body = bytes(range(256)) * 2000  # TLS records are 16 KiB: many reads per buffer
    context, cert_file = self_signed_tls(tmp_path)
    server = serve(answer(ok(body), body), tls_context=context)
    with pytest.raises(MediaError, match="SSL_CERT_FILE") as info:
        MediaFetcher("https://api.example").download(server.url + "/v", sink())
    assert not info.value.transient and not server.requests  # nothing sent over an unverified channel
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    out = sink()
    assert MediaFetcher("https://api.example").download(server.url + "/v", out)[0] == len(body)
    assert content(out) == body


def test_a_proxy_from_the_environment_is_used_and_no_proxy_bypasses_it(serve, monkeypatch):
    body = b"via proxy"
    origin = serve(answer(ok(b"direct"), b"direct"))
    proxy = serve(answer(ok(body), body))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    out = io.BytesIO()
    MediaFetcher("http://api.example").download(origin.url + "/v?sig=1", out)
    assert out.getvalue() == body and proxy.requests[0].startswith(f"GET {origin.url}/v?sig=1 ".encode())
    assert b"authorization" not in proxy.requests[0].lower() and not origin.requests
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    out = io.BytesIO()
    MediaFetcher("http://api.example").download(origin.url + "/v", out)
    assert out.getvalue() == b"direct" and len(proxy.requests) == 1



def test_odd_urls_are_encoded_or_refused_never_a_crash(serve):
    server = serve(answer(ok(b"ok"), b"ok"))
    MediaFetcher("http://api.example").download(server.url + "/a b/é?x=1 2", io.BytesIO())
    assert server.requests[0].startswith(b"GET /a%20b/%C3%A9?x=1%202 HTTP/1.1")
    with pytest.raises(MediaError, match="unusable media URL") as info:
        MediaFetcher("http://api.example").download("http://127.0.0.1:99999/v", io.BytesIO())
    assert not info.value.transient


def test_a_body_that_came_with_the_headers_and_one_read_across_the_buffer_land_whole(serve, tmp_path):
    from cobrowse_cli.client.media import BUFFER_BYTES

    small, large = b"tiny body", bytes(range(251)) * (BUFFER_BYTES // 251 * 2 + 3)  # not a multiple of the buffer
    server = serve(answer(ok(small), small, then=lambda conn: None))  # in the headers' packet: http.client has it
    big = serve(answer(ok(large), large))
    fetcher = MediaFetcher("http://api.example")
    for url, body in ((server.url, small), (big.url, large), (big.url, large)):
        with open(tmp_path / "out", "w+b") as out:
            assert fetcher.download(url + "/v", out) == (len(body), "video/mp4")
            assert content(out) == body
    assert big.connections == 1  # read to its exact end: the connection was kept and reused


def test_a_file_that_cannot_take_the_body_is_the_callers_oserror_not_a_network_error(serve, tmp_path):
    body = b"v" * 100_000
    server = serve(answer(ok(body), body))
    (tmp_path / "ro").write_bytes(b"")
    with open(tmp_path / "ro", "rb") as read_only, pytest.raises(OSError) as info:  # write(2) fails: EBADF
        MediaFetcher("http://api.example").download(server.url + "/v", read_only)
    assert not isinstance(info.value, MediaError)
