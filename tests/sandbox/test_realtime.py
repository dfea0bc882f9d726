"""The realtime socket (`/sockets/1/ws`) against the subprocess sandbox, with the `websockets` client.

Frames are built the way cocom's CBORSocket builds them; see cobrowse_cli/sandbox/realtime.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import cbor2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

BEARER_PREFIX = "cbio.http.headers.authorization.bearer."


# -- helpers -------------------------------------------------------------------------------------


def bearer_subprotocol(token: str) -> str:
    # As cobrowse-agent-sdk's SocketManager: base64 of the token with '=' padding removed.
    return BEARER_PREFIX + base64.b64encode(token.encode()).decode().replace("=", "")


def socket_url(base_url: str) -> str:
    base = base_url.rstrip("/").replace("http://", "ws://", 1)
    return f"{base}/sockets/1/ws?X-CobrowsePlatform=agent-sdk&X-CobrowseSDKVersion=2.16.2"


@asynccontextmanager
async def open_socket(base_url: str, token: str | None, **kw: Any) -> AsyncIterator[ClientConnection]:
    protocols = ["cbor"] + ([bearer_subprotocol(token)] if token is not None else [])
    async with connect(socket_url(base_url), subprotocols=protocols, open_timeout=5, close_timeout=2, **kw) as ws:
        yield ws


async def send(ws: ClientConnection, event: str, frame_id: int | None = None, data: Any = None) -> None:
    # Key order as CBORSocket: event and id before data; a frame without data carries no id.
    frame: dict = {"event": event}
    if frame_id is not None:
        frame["id"] = frame_id
        frame["data"] = data
    await ws.send(cbor2.dumps(frame))


async def recv(ws: ClientConnection, timeout: float = 3.0) -> dict:
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, bytes), f"server sent a text frame: {message!r}"
    frame = cbor2.loads(message)
    assert isinstance(frame, dict)
    return frame


async def recv_until_ack(ws: ClientConnection, ack: int, timeout: float = 3.0) -> list[dict]:
    """Every frame up to and including {ack: ack}."""
    frames = []
    while True:
        frame = await recv(ws, timeout)
        frames.append(frame)
        if frame.get("ack") == ack:
            return frames


async def assert_silent(ws: ClientConnection, seconds: float = 0.3) -> None:
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected frame: {cbor2.loads(message) if isinstance(message, bytes) else message!r}")


async def closed_code(ws: ClientConnection, timeout: float = 3.0) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return info.value.rcvd.code if info.value.rcvd else None


def rest(base_url: str, method: str, path: str, token: str, body: dict | None = None) -> Any:
    """The REST API through urllib: 'another client' changing resources the socket follows."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def run(coro) -> Any:
    return asyncio.run(coro)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def agent(sandbox):
    """(base URL, agent JWT, that agent's notification_token)."""
    token = sandbox.token()
    me = rest(sandbox.url, "GET", "/api/1/users/me", token)
    return sandbox.url, token, me["notification_token"]


@pytest.fixture
def session(sandbox, agent):
    url, token, _ = agent
    return rest(url, "POST", "/api/1/sessions", token, {"custom_data": {"ticket": "T-1"}})


@pytest.fixture
def device(sandbox, agent):
    url, token, _ = agent
    devices = rest(url, "GET", "/api/1/devices?limit=1", token)
    assert devices, "the reset sandbox has no devices"
    return devices[0]


# -- handshake -----------------------------------------------------------------------------------


def test_notification_token_opens_the_socket_with_the_cbor_subprotocol(agent):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            assert ws.subprotocol == "cbor"
            await send(ws, "ping")
            await assert_silent(ws, 0.2)  # ping carries no id, so no ack; the socket stays open

    run(scenario())


def test_agent_jwt_is_also_accepted(agent):
    url, token, _ = agent

    async def scenario():
        async with open_socket(url, token) as ws:
            await send(ws, "unknown-event", 1, {"x": 1})
            assert await recv(ws) == {"ack": 1}

    run(scenario())


@pytest.mark.parametrize(
    ("kind", "expected_message"),
    [("missing", "no bearer token"), ("bogus", "unknown socket token"), ("expired", "jwt expired")],
)
def test_bad_or_missing_token_is_refused_with_401(sandbox, kind, expected_message):
    token = {"missing": None, "bogus": "not-a-token", "expired": sandbox.token(ttl=-60)}[kind]

    async def scenario():
        with pytest.raises(InvalidStatus) as info:
            async with open_socket(sandbox.url, token):
                pass
        response = info.value.response
        assert response.status_code == 401
        body = json.loads(bytes(response.body))
        assert set(body) == {"id", "message"}
        assert expected_message in body["message"]

    run(scenario())


# -- subscriptions -------------------------------------------------------------------------------


def test_session_subscription_gets_exactly_one_event_per_rest_change(agent, session):
    url, token, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            await assert_silent(ws, 0.2)  # subscribing alone pushes nothing

            put = {"id": session["id"], "custom_data": {"note": "changed via REST"}}
            await asyncio.to_thread(rest, url, "PUT", f"/api/1/sessions/{session['id']}", token, put)
            event = await recv(ws)
            assert event["event"] == "session"
            pushed = event["data"]
            assert pushed["id"] == session["id"]
            assert pushed["custom_data"] == {"ticket": "T-1", "note": "changed via REST"}
            # the whole session, as REST serves it (the SDK re-subscribes with its control_token)
            served = await asyncio.to_thread(rest, url, "GET", f"/api/1/sessions/{session['id']}", token)
            assert pushed == served
            await assert_silent(ws, 0.3)

    run(scenario())


def test_ending_a_session_pushes_the_ended_session(sandbox, agent, session):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            await asyncio.to_thread(sandbox.control, "POST", f"/_sandbox/sessions/{session['id']}/end")
            event = await recv(ws)
            assert event["event"] == "session"
            assert event["data"]["state"] == "ended"
            assert event["data"]["ended_reason"] == "device_ended"

    run(scenario())


def test_other_sessions_changes_are_not_pushed(agent, session):
    url, token, notification_token = agent
    other = rest(url, "POST", "/api/1/sessions", token, {"custom_data": {"ticket": "T-2"}})

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            body = {"id": other["id"], "custom_data": {"note": "x"}}
            await asyncio.to_thread(rest, url, "PUT", f"/api/1/sessions/{other['id']}", token, body)
            await assert_silent(ws, 0.4)

    run(scenario())


def test_unsubscribe_stops_the_events(agent, session):
    url, token, notification_token = agent
    path = f"/api/1/sessions/{session['id']}"

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            await send(ws, "unsubscribe", 2, session["control_token"])
            assert await recv_until_ack(ws, 2) == [{"ack": 1}, {"ack": 2}]
            await asyncio.to_thread(rest, url, "PUT", path, token, {"id": session["id"], "custom_data": {"n": 1}})
            await assert_silent(ws, 0.4)

    run(scenario())


def test_device_subscription_gets_presence_and_device_events(sandbox, agent, device):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, device["notification_token"])
            assert await recv(ws) == {"ack": 1}

            await asyncio.to_thread(sandbox.control, "POST", f"/_sandbox/devices/{device['id']}/offline")
            await asyncio.to_thread(sandbox.control, "POST", f"/_sandbox/devices/{device['id']}/online")
            presences = [await recv(ws), await recv(ws)]
            assert [p["event"] for p in presences] == ["presence", "presence"]
            assert [p["data"]["present"] for p in presences] == [False, True]
            assert all(p["data"]["id"] == device["id"] and p["data"]["last_seen"] for p in presences)

            body = {"custom_data": {"plan": "enterprise-test"}}
            await asyncio.to_thread(sandbox.control, "PUT", f"/_sandbox/devices/{device['id']}", body)
            event = await recv(ws)
            assert event["event"] == "device"
            assert event["data"]["id"] == device["id"]
            assert event["data"]["custom_data"]["plan"] == "enterprise-test"
            assert event["data"]["notification_token"] == device["notification_token"]

    run(scenario())


def test_sync_presence_answers_with_the_current_presence_then_the_ack(sandbox, agent, device):
    url, _, notification_token = agent
    sandbox.control("POST", f"/_sandbox/devices/{device['id']}/online")

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "sync-presence", 7, device["id"])
            presence, ack = await recv(ws), await recv(ws)
            assert presence["event"] == "presence"
            assert presence["data"]["id"] == device["id"]
            assert presence["data"]["present"] is True
            assert ack == {"ack": 7}

    run(scenario())


def test_unknown_tokens_and_devices_get_an_error_event_and_still_an_ack(agent):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, "no-such-token")
            await send(ws, "sync-presence", 2, "no-such-device")
            frames = await recv_until_ack(ws, 2)
            assert [f.get("event") or f.get("ack") for f in frames] == ["error", 1, "error", 2]
            assert frames[0]["data"]["id"] == "unknown_token"
            assert frames[2]["data"]["id"] == "not_found"

    run(scenario())


def test_acks_follow_each_frame_id_in_order(agent, session):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            await send(ws, "ping")  # no id: no ack
            await send(ws, "whatever", 2, {"ignored": True})
            await send(ws, "subscribe", 3, session["control_token"])  # re-subscribing is harmless
            await send(ws, "unsubscribe", 4, "never-subscribed")
            assert await recv_until_ack(ws, 4) == [{"ack": 1}, {"ack": 2}, {"ack": 3}, {"ack": 4}]

    run(scenario())


# -- bad input never hurts the server --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe\x00", 1007),  # not CBOR
        (cbor2.dumps([1, 2, 3]), 1007),  # CBOR, but not a map
        (cbor2.dumps({"id": 1, "data": "x"}), 1007),  # a map without an event
        ("a text frame", 1003),
    ],
)
def test_malformed_frames_close_the_socket_and_the_server_lives_on(agent, session, payload, code):
    url, _, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await ws.send(payload)
            assert await closed_code(ws) == code
        async with open_socket(url, notification_token) as ws:  # the next client is served as usual
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}

    run(scenario())


# -- fault hook ----------------------------------------------------------------------------------


def test_control_surface_drop_closes_sockets_with_1012_and_they_can_resubscribe(sandbox, agent, session):
    url, token, notification_token = agent

    async def scenario():
        async with open_socket(url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            assert (await asyncio.to_thread(sandbox.control, "GET", "/_sandbox/sockets"))["open"] == 1
            assert await asyncio.to_thread(sandbox.control, "POST", "/_sandbox/sockets/drop") == {"dropped": 1}
            assert await closed_code(ws) == 1012
        async with open_socket(url, notification_token) as ws:  # a reconnect re-subscribes as the SDK does
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            body = {"id": session["id"], "custom_data": {"after": "drop"}}
            await asyncio.to_thread(rest, url, "PUT", f"/api/1/sessions/{session['id']}", token, body)
            assert (await recv(ws))["data"]["custom_data"]["after"] == "drop"

    run(scenario())
