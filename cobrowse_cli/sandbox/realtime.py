"""The realtime socket (`/sockets/1/ws`): CBOR frames over a WebSocket, as the agent SDK speaks it.

Wire reference: cobrowse-agent-sdk `src/socket/SocketManager.js` and cocom's `CBORSocket`.

- Handshake: the client offers the subprotocols `cbor` and
  `cbio.http.headers.authorization.bearer.<base64(token) without '=' padding>`. The token is the
  agent's `notification_token` (from `GET /api/1/users/me`) or a valid agent JWT. A missing or bad
  token is refused before the upgrade with HTTP 401 and the usual `{id, message}` body (close code
  4001 if the ASGI server cannot send a denial response).
- Every frame is one binary CBOR map. Client -> server `{event, id, data}` or `{event}`; the server
  answers `{ack: id}` for each frame that carries an id, in order. Server -> client `{event, data}`.
- Client events: `subscribe` / `unsubscribe` (data: a session `control_token` or a device
  `notification_token`), `sync-presence` (data: a device id; answered with a `presence` event), `ping`.
  Unknown events are acked and otherwise ignored. A subscribe with an unknown token, or a sync-presence
  for an unknown device, is answered with an `error` event `{id, message}` (the SDK ignores it).
- Server events: `session` (the whole session, as REST returns it), `device` (the whole device),
  `presence` (`{id, present, last_seen}`), sent when a subscribed resource changes.
- A frame that is not CBOR, or not a map with a string `event`, closes the socket with 1007; a text
  frame closes it with 1003. Each connection has a bounded send queue: a consumer that falls
  `SEND_QUEUE_LIMIT` frames behind is closed with 1013 instead of growing memory.

Fault hook: `drop_all_sockets(registry(app.state))` closes every open socket (code 1012, "service restart"), so
clients' reconnect logic can be tested; the control surface exposes it as `POST /_sandbox/sockets/drop`
and `open_socket_count(store)` as `GET /_sandbox/sockets`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cbor2
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

SUBPROTOCOL = "cbor"
BEARER_PREFIX = "cbio.http.headers.authorization.bearer."
SEND_QUEUE_LIMIT = 1000

CLOSE_UNSUPPORTED_DATA = 1003  # a text frame
CLOSE_INVALID_PAYLOAD = 1007  # not CBOR, or not a {event, ...} map
CLOSE_SERVICE_RESTART = 1012  # drop_all_sockets(): the fault hook
CLOSE_TRY_AGAIN_LATER = 1013  # slow consumer: send queue full
CLOSE_UNAUTHORIZED = 4001  # only when an HTTP 401 denial cannot be sent

CLOSE_SEND_TIMEOUT_S = 1.0



def registry(state: Any) -> set:
    """The app's open connections (`app.state.sockets`, made on first use); drop_all_sockets() walks it."""
    sockets = getattr(state, "sockets", None)
    if sockets is None:
        sockets = state.sockets = set()
    return sockets


async def websocket_endpoint(websocket: WebSocket) -> None:
    store = websocket.app.state.store
    offered = list(websocket.scope.get("subprotocols") or [])
    token = bearer_token_from_subprotocols(offered)
    if token is None:
        await _refuse(websocket, "missing_token", "no bearer token in the WebSocket subprotocols")
        return
    error = _token_error(websocket, store, token)
    if error is not None:
        await _refuse(websocket, *error)
        return

    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    conn = _Connection(websocket, store)
    sockets = registry(websocket.app.state)
    sockets.add(conn)
    store.add_listener(conn.on_store_change)
    try:
        await conn.run()
    finally:
        store.remove_listener(conn.on_store_change)
        sockets.discard(conn)


def drop_all_sockets(sockets: set) -> int:
    """Close every socket in `sockets` (an app's registry()); returns how many.

    Call on the server's event loop (e.g. from an async Starlette handler): the fault for
    "the socket server went away", so watchers must reconnect and re-subscribe.
    """
    targets = list(sockets)
    for conn in targets:
        conn.request_close(CLOSE_SERVICE_RESTART, "sandbox: dropped by fault injection")
    return len(targets)


def open_socket_count(sockets: set) -> int:
    return len(sockets)


def subscribed_socket_count(sockets: set) -> int:
    """Sockets with at least one subscription: their client finished the handshake and is listening."""
    return sum(1 for c in sockets if c.subscriptions)


def bearer_token_from_subprotocols(protocols: list[str]) -> str | None:
    """The token carried in `cbio.http.headers.authorization.bearer.<base64>`, or None."""
    for proto in protocols:
        if proto.startswith(BEARER_PREFIX):
            encoded = proto[len(BEARER_PREFIX) :]
            padded = encoded + "=" * (-len(encoded) % 4)  # the SDK strips '=' (not allowed in a subprotocol)
            try:
                return base64.b64decode(padded, altchars=b"-_", validate=False).decode("utf-8") or None
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
    return None


def _token_error(websocket: WebSocket, store: Any, token: str) -> tuple[str, str] | None:
    """None when the token is an agent's notification_token or a valid agent JWT, else (id, message)."""
    if store.agent_by_notification_token(token) is not None:
        return None
    verifier = getattr(websocket.app.state, "auth", None)  # core's auth.Verifier, shared with REST
    if verifier is None or token.count(".") != 2:
        return ("invalid_token", "unknown socket token: use notification_token from GET /api/1/users/me")
    try:
        verifier.verify(token)
    except Exception as e:  # noqa: BLE001 - ApiError carries the REST API's exact id and message
        return (getattr(e, "error_id", "invalid_token"), getattr(e, "message", str(e)))
    return None


async def _refuse(websocket: WebSocket, error_id: str, message: str) -> None:
    if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
        await websocket.send_denial_response(JSONResponse({"id": error_id, "message": message}, status_code=401))
    else:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason=message)


@dataclass(eq=False)
class _Connection:
    websocket: WebSocket
    store: Any
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE_LIMIT))
    # token -> ("session" | "device", resource id); `watched` indexes the values so that each store
    # change costs O(1) per connection however many resources a watcher follows.
    subscriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    watched: Counter = field(default_factory=Counter)
    closing: bool = False
    close_code: int = 1000
    close_reason: str = ""
    _close_requested: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        tasks = {
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._close_requested.wait()),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelling the sender is what frees a slow consumer's blocked send.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.closing:
            try:
                # A client that stopped reading cannot take the close frame either; don't wait for it.
                await asyncio.wait_for(
                    self.websocket.close(code=self.close_code, reason=self.close_reason), CLOSE_SEND_TIMEOUT_S
                )
            except Exception:  # noqa: BLE001 - the client is gone or stuck; the server closes the transport
                pass

    # -- outgoing ---------------------------------------------------------------------------

    def push(self, frame: dict) -> None:
        if self.closing:
            return
        if self.queue.full():
            self.request_close(CLOSE_TRY_AGAIN_LATER, "slow consumer: send queue full")
            return
        self.queue.put_nowait(cbor2.dumps(frame))

    def request_close(self, code: int, reason: str) -> None:
        """Drop pending frames and close; synchronous, so store listeners and fault hooks may call it."""
        if self.closing:
            return
        self.closing = True
        self.close_code, self.close_reason = code, reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self._close_requested.set()

    async def _send_loop(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                await self.websocket.send_bytes(frame)
            except Exception:  # noqa: BLE001 - a send to a vanished client ends this connection
                return

    # -- incoming ---------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is None:
                self.request_close(CLOSE_UNSUPPORTED_DATA, "frames must be binary CBOR")
                return
            frame = _decode_frame(message["bytes"])
            if frame is None:
                self.request_close(CLOSE_INVALID_PAYLOAD, "frame is not a CBOR map with an event")
                return
            self._handle(frame)

    def _handle(self, frame: dict) -> None:
        event, data = frame["event"], frame.get("data")
        if event == "subscribe":
            self._subscribe(data)
        elif event == "unsubscribe" and isinstance(data, str):
            self._unsubscribe(data)
        elif event == "sync-presence":
            self._sync_presence(data)
        # `ping` and unknown events need nothing beyond the ack.
        frame_id = frame.get("id")
        if frame_id is not None:
            self.push({"ack": frame_id})

    def _subscribe(self, token: Any) -> None:
        if not isinstance(token, str) or not token:
            self._error("invalid_subscription", "subscribe needs a token string")
            return
        session = self.store.session_by_control_token(token)
        device = None if session is not None else self.store.device_by_notification_token(token)
        if session is None and device is None:
            self._error("unknown_token", "no session or device has this token")
            return
        self._unsubscribe(token)  # re-subscribing (the SDK does after each reconnect) is idempotent
        key = ("session", session["id"]) if session is not None else ("device", device["id"])
        self.subscriptions[token] = key
        self.watched[key] += 1

    def _unsubscribe(self, token: str) -> None:
        key = self.subscriptions.pop(token, None)
        if key is not None:
            self.watched[key] -= 1
            if self.watched[key] <= 0:
                del self.watched[key]

    def _sync_presence(self, device_id: Any) -> None:
        presence = self.store.presence(device_id) if isinstance(device_id, str) else None
        if presence is None:
            self._error("not_found", f"no device {device_id!r}")
            return
        self.push({"event": "presence", "data": presence})

    def _error(self, error_id: str, message: str) -> None:
        self.push({"event": "error", "data": {"id": error_id, "message": message}})

    # -- store changes ----------------------------------------------------------------------

    def on_store_change(self, kind: str, data: Any) -> None:
        """Called synchronously on the loop after every store change; `data` is already a fresh copy."""
        wanted = "session" if kind == "session" else "device"  # presence belongs to a device subscription
        if (wanted, data.get("id")) in self.watched:
            variants = getattr(self.websocket.app.state, "variants", None)
            if kind == "session" and variants is not None and variants.no_ended_reason:
                data.pop("ended_reason", None)  # the no-ended-reason server variant, as REST serves it
            self.push({"event": kind, "data": data})


def _decode_frame(payload: bytes) -> dict | None:
    try:
        frame = cbor2.loads(payload)
    except Exception:  # noqa: BLE001 - any undecodable input is the client's fault, never a crash
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("event"), str):
        return None
    return frame
