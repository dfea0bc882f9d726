"""The client against a real sandbox server (tests/conftest.py): auth, errors, retries, faults, refresh."""

from __future__ import annotations

import io
import random
import socket
import time

import pytest

from cobrowse_cli import __version__
from cobrowse_cli.client import (
    AuthenticationError,
    BadRequestError,
    CobrowseError,
    Client,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TokenExpiredError,
)
from tests.support.stub import Quiet, StubServer

FAST = {"backoff": 0.001, "max_backoff": 0.01}  # retries without slowing the suite


def _client(sandbox, token=None, **kw) -> Client:
    return Client(sandbox.url, token=token if token is not None else sandbox.token(), **{**FAST, **kw})


def _requests(sandbox, method: str, path: str) -> dict:
    """{status: count} the sandbox saw for one route."""
    out: dict = {}
    for row in sandbox.stats()["requests"]["by_route"]:
        if row["method"] == method and row["path"] == path:
            out[str(row["status"])] = out.get(str(row["status"]), 0) + row["count"]
    return out


def test_me_and_socket_auth(sandbox):
    with _client(sandbox) as c:
        me = c.me()
        auth = c.socket_auth()
    assert me["id"] and isinstance(me.get("notification_token"), str)
    assert auth.url.startswith("ws://127.0.0.1:")
    assert auth.url.endswith(f"sockets/1/ws?X-CobrowsePlatform=cobrowse-cli&X-CobrowseSDKVersion={__version__}")
    assert auth.token == me["notification_token"] and auth.subprotocols[0] == "cbor"
    assert auth.token not in repr(auth)


def test_session_round_trip(sandbox):
    with _client(sandbox) as c:
        created = c.create_session({"custom_data": {"user_id": "42", "plan": "gold"}})
        assert created["state"] == "pending" and created["custom_data"]["user_id"] == "42"
        assert c.get_session(created["id"])["id"] == created["id"]
        assert c.get_session(created["code"])["id"] == created["id"]  # a 6-digit code works too
        updated = c.update_session(created["id"], {"custom_data": {"plan": None}})
        assert updated["custom_data"] == {"user_id": "42"}
        assert set(c.session_tokens(created["id"])) >= {"stream_token", "stream_url"}
        ended = c.end_session(created["id"])
        assert ended["state"] == "ended" and ended["ended_reason"] == "agent_ended"
    assert sandbox.stats()["ends"]["by_session"][created["id"]] == 1


def test_query_encoding_reaches_the_server_as_meant(sandbox):
    mine = sandbox.control("POST", "/_sandbox/sessions", {"count": 3, "state": "active", "agent": "admin@sandbox.test",
                                                          "custom_data": {"user_id": "42"}})
    with _client(sandbox, sandbox.admin_token()) as c:
        rows = c.list_sessions(state=["active", "pending"], agent="all", limit=1000)
        filtered = c.list_sessions(filter_user_id=42, state=["active"], limit=1000)
    truth = sandbox.stats()["sessions"]
    assert len(rows) == truth["active"] + truth["pending"]
    assert {r["state"] for r in rows} == {"active", "pending"}
    assert {r["id"] for r in filtered} == set(mine["ids"])


def test_devices(sandbox):
    with _client(sandbox) as c:
        devices = c.list_devices(limit=1000)
        assert len(devices) == sandbox.stats()["devices"] and devices
        one = c.get_device(next(d["id"] for d in devices if d["connectable"]))
        session = c.create_session()
        assert isinstance(c.notify_device(one["id"], session["id"]), dict)
        assert [d["id"] for d in c.iter_devices(page_size=3)] == [d["id"] for d in devices]


def test_error_types_and_statuses(sandbox):
    with _client(sandbox, sandbox.token(ttl=-60)) as c, pytest.raises(TokenExpiredError) as expired:
        c.me()
    assert expired.value.status == 401 and str(expired.value).startswith("401 jwt expired: the token expired at ")
    with _client(sandbox, "not-a-jwt") as c, pytest.raises(AuthenticationError) as bad:
        c.me()
    assert bad.value.status == 401 and not isinstance(bad.value, TokenExpiredError)
    with _client(sandbox) as c:
        with pytest.raises(ForbiddenError) as forbidden:
            c.list_sessions(agent="all")
        assert forbidden.value.status == 403 and "administrator" in str(forbidden.value)
        with pytest.raises(NotFoundError) as missing:
            c.get_session("nosuchsession123")
        assert missing.value.status == 404 and "nosuchsession123" in str(missing.value)
        assert missing.value.error_id and missing.value.method == "GET"
        with pytest.raises(BadRequestError) as bad_limit:
            c.list_sessions(limit=5000)
        assert bad_limit.value.status == 400 and "limit" in str(bad_limit.value)
    for e in (expired, bad, forbidden, missing, bad_limit):
        assert "\n" not in str(e.value)


def test_injected_5xx_is_retried_for_get_then_reported(sandbox):
    sandbox.faults(error_rate=1.0, error_status=503)
    with _client(sandbox, retries=3) as c, pytest.raises(ServerError) as e:
        c.me()
    assert e.value.status == 503
    assert _requests(sandbox, "GET", "/api/1/users/me") == {"503": 4}


def test_500_retried_for_get_but_not_for_put(sandbox):
    with _client(sandbox) as c:
        sid = c.create_session()["id"]
        sandbox.faults(error_rate=1.0, error_status=500)
        with pytest.raises(ServerError):
            c.get_session(sid)
        with pytest.raises(ServerError):
            c.end_session(sid)
    assert _requests(sandbox, "GET", f"/api/1/sessions/{sid}") == {"500": 6}
    assert _requests(sandbox, "PUT", f"/api/1/sessions/{sid}") == {"500": 1}


def test_post_is_never_retried_after_it_was_sent(sandbox):
    sandbox.faults(error_rate=1.0, error_status=503)
    with _client(sandbox) as c, pytest.raises(ServerError):
        c.create_session({"custom_data": {"x": 1}})
    sandbox.faults(reset=True, drop_rate=1.0, drop_when="after")
    with _client(sandbox) as c, pytest.raises(NetworkError):
        c.create_session()
    assert _requests(sandbox, "POST", "/api/1/sessions") == {"503": 1, "dropped_after": 1}


def test_429_honours_retry_after(sandbox):
    sandbox.faults(rate_limit=1, retry_after=1)
    log = io.StringIO()
    waits: list[float] = []
    with _client(sandbox, debug=log) as c:
        c._sleep = lambda s: (waits.append(s), time.sleep(s))  # the sandbox's window is real time: really wait
        c.me()  # uses the one request of this second
        c.me()  # 429 Retry-After: 1, then succeeds
    # Each wait is the server's Retry-After plus up to 1 s of spread; a loaded machine may meet the
    # limiter's real-time window twice.
    assert waits and all(1.0 <= w <= 2.0 for w in waits), waits
    assert _requests(sandbox, "GET", "/api/1/users/me") == {"200": 2, "429": len(waits)}
    assert "after 429 (retry 1 of 20)" in log.getvalue()


def test_a_429_is_retried_more_often_than_other_failures_within_the_budget(sandbox):
    """A 429 was refused, not processed: 20 retries (processes sharing one limit could lose 6 races in a
    row), where a 503 gets 5. `delivered` counts the sends the server may have acted on: no 429."""
    for status, retries, delivered in ((429, 20, 0), (503, 5, 6)):
        sandbox.faults(error_rate=1.0, error_status=status, retry_after=0)
        waits: list[float] = []
        with _client(sandbox) as c:
            c._sleep = waits.append
            with pytest.raises(CobrowseError) as e:
                c.me()
        assert (len(waits), e.value.delivered, e.value.status) == (retries, delivered, status)
        assert _requests(sandbox, "GET", "/api/1/users/me").get(str(status)) == retries + 1
        sandbox.reset()


def test_429_with_a_long_retry_after_fails_at_once(sandbox):
    sandbox.faults(rate_limit=1, retry_after=120)
    waits: list[float] = []
    with _client(sandbox) as c:
        c._sleep = waits.append
        c.me()
        with pytest.raises(RateLimitedError) as e:
            c.me()
    assert waits == []  # no wait at all
    assert e.value.status == 429 and e.value.retry_after == 120 and "retry after 120 s" in str(e.value)


def _seed_with(first_drops: bool, then_ok: int) -> int:
    """A fault seed whose RNG drops (p=0.5) the first request iff `first_drops`, then lets `then_ok` through."""
    for seed in range(10_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(1 + then_ok)]
        if (draws[0] < 0.5) == first_drops and all(d >= 0.5 for d in draws[1:]):
            return seed
    raise AssertionError("no seed found")


@pytest.mark.parametrize("when", ["before", "after"])
def test_dropped_put_is_retried_and_ends_exactly_once(sandbox, when):
    with _client(sandbox) as c:
        sid = c.create_session()["id"]
        sandbox.faults(drop_rate=0.5, drop_when=when, seed=_seed_with(True, 1))
        ended = c.end_session(sid)
    assert ended["state"] == "ended"
    stats = sandbox.stats()
    assert stats["ends"]["by_session"][sid] == 1
    assert _requests(sandbox, "PUT", f"/api/1/sessions/{sid}") == {f"dropped_{when}": 1, "200": 1}


def test_expired_token_is_refreshed_once_through_the_provider(sandbox):
    tokens = iter([sandbox.token(ttl=-60), sandbox.token()])
    calls: list[str] = []

    def provider():
        calls.append("called")
        return next(tokens)

    with _client(sandbox, provider) as c:
        assert c.me()["id"]
    assert len(calls) == 2 and _requests(sandbox, "GET", "/api/1/users/me") == {"401": 1, "200": 1}
    stale = sandbox.token(ttl=-60)
    with _client(sandbox, lambda: stale) as c, pytest.raises(TokenExpiredError):
        c.me()  # the provider gave the same expired token: no pointless retry


def test_debug_log_shows_requests_but_never_the_token(sandbox):
    token, log = sandbox.admin_token(), io.StringIO()
    sandbox.faults(error_rate=0.5, error_status=503, seed=_seed_with(True, 5))
    with _client(sandbox, token, debug=log, license="LICENSE123") as c:
        c.list_sessions(state=["active"], limit=5, agent="all")
        me = c.me()
        with pytest.raises(NotFoundError):
            c.get_session("missing-one")
    text = log.getvalue()
    assert token not in text and token.split(".")[2][:20] not in text and me["notification_token"] not in text
    assert "> GET " in text and "/api/1/sessions?state[]=active&limit=5&agent=all" in text
    assert "< 200 GET /api/1/sessions (" in text and "5 items)" in text
    assert "retrying in" in text and "after 503" in text
    assert "< 404 GET /api/1/sessions/missing-one" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_errors_are_retried_even_for_post_then_reported():
    log = io.StringIO()
    port = _closed_port()
    with Client(f"http://127.0.0.1:{port}", token="t", retries=2, debug=log, **FAST) as c:
        with pytest.raises(NetworkError) as e:
            c.create_session()
    assert str(e.value) == f"network error: cannot connect to http://127.0.0.1:{port} (connection refused) after 3 attempts"
    assert log.getvalue().count("> POST ") == 3


class _HeaderEcho(Quiet):
    def do_GET(self):  # noqa: N802
        self.server.hits.append(dict(self.headers))
        self.answer(200, "application/json", b"[]")


def test_header_set_and_token_callable_evaluated_per_request():
    tokens = iter(["one", "two"])
    with StubServer(_HeaderEcho) as server:
        with Client(server.url, token=lambda: next(tokens), license="LIC") as c:
            c.list_sessions()
            c.list_devices()
    first, second = ({k.lower(): v for k, v in h.items()} for h in server.hits[-2:])
    assert first["content-type"] == "application/json"
    assert first["x-cobrowseapiversion"] == "1.2.0" and first["x-cobrowseplatform"] == "cobrowse-cli"
    assert first["x-cobrowsesdkversion"] == __version__ and first["user-agent"] == f"cobrowse-cli/{__version__}"
    assert first["x-cobrowselicense"] == "LIC"
    assert (first["authorization"], second["authorization"]) == ("Bearer one", "Bearer two")


def test_raw_request_for_the_api_command(sandbox):
    with _client(sandbox, sandbox.admin_token()) as c:
        assert len(c.request("get", "/api/1/sessions?limit=2&agent=all")) == 2
        rows = c.request("GET", "/api/1/sessions", query={"state": ["active"], "agent": "all", "limit": 1000})
        assert rows and {r["state"] for r in rows} == {"active"}
        with pytest.raises(CobrowseError, match="only http://127.0.0.1"):
            c.request("GET", "http://192.0.2.1/api/1/sessions")
    with pytest.raises(CobrowseError, match="invalid API URL"):
        Client("cobrowse.io")


def test_read_timeout_is_retried_then_a_network_error(sandbox):
    sandbox.faults(latency_ms=400)
    waits: list[float] = []
    with _client(sandbox, timeout=0.1, retries=1) as c, pytest.raises(NetworkError, match="no answer from .* in time after 2 attempts"):
        c._sleep = waits.append
        c.me()
    assert len(waits) == 1 and waits[0] <= FAST["max_backoff"]  # one short backoff, not the 400 ms answer


def test_importing_errors_stays_light():
    import subprocess
    import sys

    code = "import sys, cobrowse_cli.client.errors, cobrowse_cli.client.redact; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
