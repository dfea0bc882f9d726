"""Realtime socket paths the subprocess sandbox cannot trigger on demand: the drop fault hook and the
slow-consumer limit. The socket endpoint, the Store and the JWT verifier are the real ones, served by
uvicorn in a thread; only two test routes are added to make changes on the server's loop.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.request

import cbor2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cobrowse_cli.sandbox import realtime
from cobrowse_cli.sandbox.auth import Verifier, load_or_create_keys
from cobrowse_cli.sandbox.store import Store
from tests.support.sandbox import ThreadedServer


class Server:
    def __init__(self) -> None:
        self.store = Store()
        self.agent = self.store.agent_for("agent@sandbox.test")
        self.session = self.store.create_session(agent=self.agent, custom_data={"n": 0})
        app = Starlette(
            routes=[
                WebSocketRoute("/sockets/1/ws", realtime.websocket_endpoint),
                Route("/test/drop", self._drop, methods=["POST"]),
                Route("/test/burst", self._burst, methods=["POST"]),
                Route("/test/sockets", self._count, methods=["GET"]),
            ]
        )
        app.state.store = self.store
        app.state.auth = Verifier(load_or_create_keys(None))
        self.http = ThreadedServer(app, lifespan="off")
        self.url = self.http.url

    async def _drop(self, request: Request) -> JSONResponse:
        return JSONResponse({"dropped": realtime.drop_all_sockets(realtime.registry(request.app.state))})

    async def _burst(self, request: Request) -> JSONResponse:
        """n changes to the session in one loop turn: more than any queue limit can absorb."""
        n, pad = int(request.query_params["n"]), "x" * int(request.query_params.get("pad", 200))
        for i in range(n):
            self.store.update_session(self.session, custom_data={"n": i + 1, "pad": pad})
        return JSONResponse({"changes": n})

    async def _count(self, request: Request) -> JSONResponse:
        return JSONResponse({"open": realtime.open_socket_count(realtime.registry(request.app.state))})

    def post(self, path: str) -> dict:
        import json

        with urllib.request.urlopen(urllib.request.Request(self.url + path, method="POST"), timeout=5) as r:
            return json.loads(r.read())

    def get(self, path: str) -> dict:
        import json

        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def __enter__(self) -> "Server":
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)


@pytest.fixture(scope="module")
def server():
    with Server() as s:
        yield s


def _protocols(token: str) -> list[str]:
    return ["cbor", "cbio.http.headers.authorization.bearer." + base64.b64encode(token.encode()).decode().rstrip("=")]


def _ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/sockets/1/ws"


async def _subscribed(server: Server, **kw):
    kw.setdefault("close_timeout", 1)
    ws = await connect(_ws_url(server), subprotocols=_protocols(server.agent.notification_token), **kw)
    await ws.send(cbor2.dumps({"event": "subscribe", "id": 1, "data": server.session.data["control_token"]}))
    assert cbor2.loads(await asyncio.wait_for(ws.recv(), 3)) == {"ack": 1}
    return ws


def test_drop_all_sockets_closes_every_socket_with_1012(server):
    async def scenario():
        sockets = [await _subscribed(server) for _ in range(3)]
        assert (await asyncio.to_thread(server.get, "/test/sockets"))["open"] == 3
        assert (await asyncio.to_thread(server.post, "/test/drop"))["dropped"] == 3
        for ws in sockets:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 3)
            assert info.value.rcvd.code == realtime.CLOSE_SERVICE_RESTART
        # listeners and the registry are cleaned up once the sockets are gone
        deadline = time.monotonic() + 3
        while (await asyncio.to_thread(server.get, "/test/sockets"))["open"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert server.store._listeners == []
        # and a reconnect that re-subscribes works
        ws = await _subscribed(server)
        await ws.close()

    asyncio.run(scenario())


def test_a_consumer_too_far_behind_is_closed_with_1013(server):
    async def scenario():
        ws = await _subscribed(server, max_size=None)
        burst = realtime.SEND_QUEUE_LIMIT + 500
        assert (await asyncio.to_thread(server.post, f"/test/burst?n={burst}"))["changes"] == burst
        received = 0
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
                received += 1
        assert info.value.rcvd.code == realtime.CLOSE_TRY_AGAIN_LATER
        assert received < burst  # the server gave up rather than queueing without bound

    asyncio.run(scenario())


def test_a_client_that_stops_reading_does_not_hold_the_server(server):
    """The sender blocks on a full TCP buffer; the queue limit must still end the connection."""

    async def scenario():
        # Big uncompressed frames fill the kernel buffers quickly while this client reads nothing.
        ws = await _subscribed(server, max_queue=1, compression=None)
        for _ in range(6):
            await asyncio.to_thread(server.post, f"/test/burst?n={realtime.SEND_QUEUE_LIMIT // 2}&pad=10000")
        deadline = time.monotonic() + 10
        while (await asyncio.to_thread(server.get, "/test/sockets"))["open"]:
            assert time.monotonic() < deadline, "a stuck consumer kept its socket (and memory) on the server"
            await asyncio.sleep(0.1)
        ws.transport.abort()  # this client never reads again: don't wait for a close handshake

    asyncio.run(scenario())
