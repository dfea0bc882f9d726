"""Issue 13: no server can hang the CLI or exhaust its memory, TLS failures are not retried and name
the fix, and a token never goes through a plain-http proxy. Small hostile servers on 127.0.0.1 port 0,
deadlines of 1 s; the big bodies are streamed only until the client hangs up."""

from __future__ import annotations

import time
import zlib

import pytest

from cobrowse_cli.client import Client, DeadlineError, InsecureTransportError, ResponseTooLargeError
from tests.helpers import assert_one_line_error, isolated_env, run_in_process
from tests.security.hostile import HostileServer, peak_rss_mb, read_request
from tests.support.tls import self_signed_tls

MB = 1024 * 1024
CHUNKED_200 = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n")


def trickle_headers(conn, server):
    read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 10_000:
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def trickle_body(conn, server):
    read_request(conn)
    conn.sendall(CHUNKED_200 + b"\r\n")
    conn.sendall(b"1\r\n[\r\n")
    for _ in range(10_000):
        conn.sendall(b"1\r\n \r\n")
        time.sleep(0.05)


def no_headers(conn, server):
    read_request(conn)
    conn.recv(1)  # until the client hangs up


def endless_body(conn, server, limit=3 * 1024 * MB):
    read_request(conn)
    conn.sendall(CHUNKED_200 + b"\r\n")
    chunk = b"%x\r\n" % MB + b"[" * MB + b"\r\n"
    while server.sent < limit:
        conn.sendall(chunk)
        server.sent += MB


def gzip_bomb(conn, server, limit=1024 * MB):
    read_request(conn)
    conn.sendall(CHUNKED_200 + b"Content-Encoding: gzip\r\n\r\n")
    gz, zeros, decoded = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(MB), 0
    while decoded < limit:
        data = gz.compress(zeros)
        decoded += MB
        if data:
            conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
            server.sent += len(data)


@pytest.fixture
def serve():
    servers = []

    def start(handler, **kw):
        server = HostileServer(handler, **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("handler", [trickle_headers, trickle_body, no_headers], ids=lambda h: h.__name__)
def test_a_slow_server_is_cut_at_the_request_deadline_and_not_retried(serve, handler):
    server = serve(handler)
    client = Client(api=server.url, deadline=1.0, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(DeadlineError, match=r"within 1 s \(raise it with --request-timeout"):
        client.list_sessions()
    elapsed = time.monotonic() - started
    client.close()
    print(f"{handler.__name__}: ended after {elapsed:.2f} s (deadline 1 s)")
    assert elapsed < 10.0  # the 1 s deadline plus a margin for a loaded machine; before: 185 s (no headers) or never (trickle)
    assert server.connections == 1


def test_the_cli_reports_a_deadline_in_one_line_with_exit_1(serve, tmp_path):
    server = serve(trickle_body)
    env = isolated_env(tmp_path, COBROWSE_API=server.url, COBROWSE_TOKEN="t")
    result = run_in_process(env, "--request-timeout", "1", "sessions", "list", timeout=30)
    assert_one_line_error(result, 1, "no complete answer from", "within 1 s")
    env["COBROWSE_REQUEST_TIMEOUT"] = "nan"
    assert_one_line_error(run_in_process(env, "sessions", "list"), 2, "invalid request_timeout")


def test_retries_share_one_budget(serve):
    def unavailable(conn, server):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")

    server = serve(unavailable)
    client = Client(api=server.url, deadline=0.5, budget=1.0, retries=100, backoff=0.2, max_backoff=0.2)
    started = time.monotonic()
    # The last answer (503), or, on a loaded machine, the budget running out during the last attempt.
    with pytest.raises(Exception, match="503|within 1 s, retries included"):
        client.list_sessions()
    assert time.monotonic() - started < 3.0 and 1 < server.connections < 100
    client.close()


@pytest.mark.parametrize("handler", [endless_body, gzip_bomb], ids=lambda h: h.__name__)
def test_a_huge_answer_stops_at_the_cap_with_flat_memory(serve, tmp_path, handler):
    server = serve(handler)
    env = isolated_env(tmp_path, COBROWSE_API=server.url, COBROWSE_TOKEN="t")
    started = time.monotonic()
    code, err, peak = peak_rss_mb(["sessions", "list"], env)
    elapsed = time.monotonic() - started
    print(f"{handler.__name__}: peak RSS {peak:.0f} MB, server sent {server.sent / MB:.1f} MB, {elapsed:.1f} s")
    assert code == 1 and "more than 32 MB" in err and len(err.strip().splitlines()) == 1, err
    assert peak < 200  # before: 12.2 GB (3 GB body) and 3.2 GB (gzip bomb)
    assert server.sent < 3 * 1024 * MB  # the client hung up long before the end


def test_a_legitimate_thousand_session_page_is_far_below_the_cap(sandbox):
    sandbox.control("POST", "/_sandbox/sessions", {"count": 1000, "state": "active", "custom_data": {"k": "v" * 200}})
    with Client(api=sandbox.url, token=sandbox.admin_token()) as client:
        page = client.list_sessions(limit=1000, agent="all")
    assert len(page) == 1000


def test_the_cap_applies_to_success_bodies_in_process(serve):
    server = serve(endless_body)
    with Client(api=server.url, max_body=2 * MB) as client, pytest.raises(ResponseTooLargeError):
        client.list_sessions()


def test_tls_verification_failure_is_not_retried_and_names_the_fix(serve, tmp_path):
    server = serve(no_headers, tls_context=self_signed_tls(tmp_path)[0])
    env = isolated_env(tmp_path, COBROWSE_API=server.url, COBROWSE_TOKEN="t")
    result = run_in_process(env, "sessions", "list")
    assert_one_line_error(result, 1, "TLS with https://127.0.0.1", "SSL_CERT_FILE")
    assert server.connections == 1  # before: 6 attempts over ~5 s
    missing = run_in_process({**env, "SSL_CERT_FILE": str(tmp_path / "nonexistent.pem")}, "sessions", "list")
    assert_one_line_error(missing, 1, "cannot load the trusted certificates", "SSL_CERT_FILE")


def test_a_token_never_goes_through_a_plain_http_proxy(serve, tmp_path, monkeypatch):
    seen = []

    def proxy(conn, server):
        seen.append(read_request(conn))
        conn.recv(1)  # then never answer

    api = serve(no_headers)
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")  # a non-loopback proxy
    with pytest.raises(InsecureTransportError, match="via the plain-http proxy proxy.invalid"):
        Client(api=api.url, token="secret").list_sessions()
    env = isolated_env(tmp_path, COBROWSE_API=api.url, COBROWSE_TOKEN="secret", HTTP_PROXY="http://proxy.invalid:3128")
    assert_one_line_error(run_in_process(env, "sessions", "list"), 2, "proxy.invalid", "--insecure")
    # NO_PROXY for the API host: the proxy is not used, so the loopback API is fine (no answer: deadline).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(DeadlineError):
        Client(api=api.url, token="secret", deadline=0.5).list_sessions()
    # A loopback proxy for a loopback API stays on this machine: allowed.
    local = serve(proxy)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("HTTP_PROXY", local.url)
    with pytest.raises(DeadlineError):
        Client(api=api.url, token="secret", deadline=0.5).list_sessions()
    assert seen and seen[0].startswith(b"GET http://127.0.0.1")


def test_a_download_has_no_cap_but_an_idle_timeout(serve):
    """Client.stream is the opt-out for large media (recordings): no size cap, no overall deadline."""
    from cobrowse_cli.client import NetworkError

    def recording(conn, server):
        endless_body(conn, server, limit=48 * MB)
        conn.sendall(b"0\r\n\r\n")

    big = serve(recording)
    with Client(api=big.url, max_body=2 * MB, deadline=60) as client:
        assert sum(len(chunk) for chunk in client.stream("/recording")) == 48 * MB
    silent = serve(no_headers)
    started = time.monotonic()
    with Client(api=silent.url) as client, pytest.raises(NetworkError, match="no answer"):
        for _ in client.stream("/recording", idle_timeout=0.5):
            pass
    assert time.monotonic() - started < 3.0
