"""Answers the sandbox never gives on purpose (HTML pages, garbage, wrong JSON types), from a tiny
local http.server on 127.0.0.1, and the plain-http refusal (which must happen before any connection)."""

from __future__ import annotations

import io

import httpx
import pytest

from cobrowse_cli.client import Client, InsecureTransportError, InvalidResponseError, ServerError
from tests.support.stub import Routes, StubServer

HUGE_HTML = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 20000 + "</body></html>"
ROUTES = {
    "/api/1/users/me": (200, "text/html", "<!doctype html><html><title>Welcome</title>hello</html>"),
    "/api/1/sessions": (200, "application/json", '{"not": "a list"}'),
    "/api/1/sessions/abc": (200, "text/plain", "\x00\x01garbage{"),
    "/api/1/devices/x": (404, "text/html", "<html><title>Not Found</title></html>"),
    "/api/1/devices": (502, "text/html", HUGE_HTML),
}


@pytest.fixture(scope="module")
def odd_server():
    with StubServer(Routes, routes=ROUTES) as server:
        yield server


@pytest.fixture
def client(odd_server):
    with Client(odd_server.url, token="t", retries=1, backoff=0.001) as c:
        yield c


def test_html_instead_of_json_is_an_invalid_response(client):
    with pytest.raises(InvalidResponseError) as e:
        client.me()
    assert "an HTML page ('Welcome')" in str(e.value) and "is http://127.0.0.1" in str(e.value)
    assert e.value.status == 200


def test_object_where_a_list_is_expected_is_rejected_like_the_sdk(client):
    with pytest.raises(InvalidResponseError, match="returned an object, expected a list"):
        client.list_sessions()


def test_garbage_body_is_rejected_without_dumping_it(client):
    with pytest.raises(InvalidResponseError) as e:
        client.get_session("abc")
    assert "\x00" not in str(e.value) and "\n" not in str(e.value)


def test_html_404_is_not_mistaken_for_an_unknown_id(client):
    with pytest.raises(InvalidResponseError, match="answered 404 with an HTML page"):
        client.get_device("x")


def test_huge_html_gateway_page_is_a_short_server_error_after_retrying(client, odd_server):
    before = len(odd_server.hits)
    with pytest.raises(ServerError) as e:
        client.list_devices()
    assert e.value.status == 502 and "502 Bad Gateway" in str(e.value)
    assert len(str(e.value)) < 200
    assert len(odd_server.hits) - before == 2  # retries=1: one retry of a GET


class _Spy(httpx.BaseTransport):
    """Records requests instead of sending them; used only for hosts that must never be contacted."""

    def __init__(self):
        self.requests: list[httpx.Request] = []

    def handle_request(self, request):
        self.requests.append(request)
        return httpx.Response(200, json={"id": "me"})


def test_plain_http_to_a_remote_host_is_refused_before_any_connection():
    spy = _Spy()
    with Client("http://192.0.2.1", token="secret", transport=spy) as c:
        with pytest.raises(InsecureTransportError, match="refusing to send a token over plain http to 192.0.2.1"):
            c.me()
    assert spy.requests == []
    # Loopback names and https are fine; no token means nothing to protect.
    for api in ("http://localhost:1", "http://127.0.0.5:1", "http://[::1]:1", "https://192.0.2.1"):
        with Client(api, token="secret", transport=_Spy()) as c:
            assert c.me() == {"id": "me"}
    with Client("http://192.0.2.1", transport=_Spy()) as c:
        assert c.me() == {"id": "me"}


def test_insecure_sends_but_warns_loudly_once():
    spy, log = _Spy(), io.StringIO()
    with Client("http://192.0.2.1", token="secret", transport=spy, insecure=True, debug=log) as c:
        c.me()
        c.me()
    assert len(spy.requests) == 2 and spy.requests[0].headers["authorization"] == "Bearer secret"
    assert log.getvalue().count("WARNING: --insecure") == 1
