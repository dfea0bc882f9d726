"""The socket transport: CBOR over a WebSocket, as the agent SDK's SocketManager/CBORSocket speak it.

Flow: list (prints the current resources) → open the socket → subscribe each resource's token
(`sync-presence` for devices) → re-list once (catches what changed between list and subscribe) →
then read pushed events, re-listing every `interval` to find new resources. On loss: reconnect with
the SDK's backoff, re-subscribe, re-list (catches what changed while away). Liveness: WebSocket
pings (keepalive) with a timeout, so a silent dead link is noticed instead of waited on forever;
the SDK's own `ping` event is sent every 60 s too.
"""

from __future__ import annotations

import inspect
import logging
import math
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import cbor2
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from cobrowse_cli import exitcodes
from cobrowse_cli.client.errors import AuthenticationError, CobrowseError, ForbiddenError, InsecureTransportError
from cobrowse_cli.messages import signed
from cobrowse_cli.watch.feed import Feed

APP_PING_INTERVAL = 60.0  # the SDK's `ping` event
STABLE_AFTER = 5.0  # an open lasting this long resets the backoff (SDK)
MAX_DELAY = 60.0  # cocom's default ceiling (the agent SDK raises it to 10 min; too long for a CLI)


class SocketUnavailable(exitcodes.CLIError):
    """The socket could not be opened at all (auto mode falls back to polling)."""


@dataclass
class SocketSettings:
    interval: float = 2.0  # re-list period (finds resources that appear later)
    keepalive: float = 20.0  # WebSocket ping every N s; no pong within N s → the link is dead
    open_timeout: float = 10.0
    max_attempts: int = 10  # consecutive failed reconnects before giving up
    give_up_after: float = 30.0  # seconds of failed reconnecting before giving up, whichever comes first
    max_relist_failures: int = 3
    min_delay: float | None = None  # backoff floor; None: the SDK's random 1-2 s (tests shorten it)
    max_delay: float = MAX_DELAY


def backoff_delay(attempt: int, min_delay: float, max_delay: float = MAX_DELAY) -> float:
    """cocom CBORSocket#reconnectDelay, in seconds: 0 for the first try, then
    min(max(min_delay, (300·attempt)^1.2 ms · random(1, 1.5)), max_delay)."""
    if attempt <= 0:
        return 0.0
    delay_ms = math.floor((300 * attempt) ** 1.2 * (1 + 0.5 * random.random()))
    return min(max(min_delay, delay_ms / 1000), max_delay)


class Connection:
    """One open socket. Client frames with data carry an increasing id (`{event, id, data}`), as cocom
    numbers them; frames without data are `{event}` only."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.next_id = 0
        self.opened = time.monotonic()

    @classmethod
    def open(cls, url: str, subprotocols: list[str], settings: SocketSettings) -> "Connection":
        extra = {}
        if "proxy" in inspect.signature(connect).parameters:  # websockets >= 15 reads proxy env vars
            extra["proxy"] = None  # the socket goes where users/me says, like the SDK; never via env proxies
        # Entered like `with connect(...) as ws` (websockets 17 warns otherwise; older versions return the
        # connection itself, whose __enter__ is a no-op); left by close().
        ws = connect(
            url,
            subprotocols=subprotocols,  # type: ignore[arg-type]
            open_timeout=settings.open_timeout,
            ping_interval=settings.keepalive,
            ping_timeout=settings.keepalive,
            close_timeout=2,
            max_size=16 * 1024 * 1024,
            **extra,
        ).__enter__()
        return cls(ws)

    def send(self, event: str, data: Any = None) -> None:
        if data is None:
            frame: dict = {"event": event}
        else:
            self.next_id += 1
            frame = {"event": event, "id": self.next_id, "data": data}  # event and id before data
        self.ws.send(cbor2.dumps(frame))

    def recv(self, timeout: float) -> dict | None:
        """The next frame, or None when `timeout` passes quietly. Raises ConnectionClosed."""
        try:
            message = self.ws.recv(timeout=max(0.0, timeout))
        except TimeoutError:
            return None
        if isinstance(message, str):
            return None  # the protocol is binary CBOR; ignore anything else
        try:
            frame = cbor2.loads(message)
        except Exception:  # noqa: BLE001 - one undecodable frame must not end a watch
            return None
        return frame if isinstance(frame, dict) else None

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - closing a broken socket has nothing useful to say
            pass


def describe_close(e: ConnectionClosed) -> str:
    frame = e.rcvd or e.sent
    if frame is None:
        return "connection lost without a close frame"
    reason = f": {frame.reason}" if frame.reason else ""
    return f"closed by the server (code {frame.code}{reason})" if e.rcvd else f"closed (code {frame.code}{reason})"


class SocketWatch:
    def __init__(self, feed: Feed, settings: SocketSettings, notice: Callable[[str], None]):
        self.feed = feed
        self.source = feed.source
        self.settings = settings
        self.notice = notice
        self.conn: Connection | None = None
        self.subscribed: dict[str, str] = {}  # resource id -> token
        # cocom picks its floor at random in 1-2 s, once per socket
        self.min_delay = settings.min_delay if settings.min_delay is not None else 1.0 + random.random()
        self.relist_failures = 0
        self.failures = 0  # failed reconnects (a socket closing at once included) since the last stable one
        self.reconnected = False  # the current socket came from _reconnect
        _quiet_library_log(debug=getattr(self.source.client, "debug", None) is not None)

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """First connection; SocketUnavailable when it cannot be made (auto falls back to poll)."""
        try:
            self.conn = self._connect()
        except (AuthenticationError, ForbiddenError, InsecureTransportError):
            raise  # no transport can fix these: the watch must not fall back to polling
        except (CobrowseError, OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
            raise SocketUnavailable(f"cannot open the realtime socket: {_reason(e)}") from None
        self._subscribe_all()

    def run(self) -> None:
        """Read events until a stop condition (ConditionMet / WatchTimeout) or giving up (CLIError)."""
        next_relist = time.monotonic()  # re-list at once: catches changes made before we subscribed
        next_ping = time.monotonic() + APP_PING_INTERVAL
        try:
            while True:
                self.feed.check_timeout()
                now = time.monotonic()
                if now >= next_relist:
                    self._relist()
                    next_relist = time.monotonic() + self.settings.interval
                if now >= next_ping:
                    self._send("ping")
                    next_ping = now + APP_PING_INTERVAL
                wait = self.feed.wait_bound(max(0.0, min(next_relist, next_ping) - time.monotonic()))
                try:
                    assert self.conn is not None
                    frame = self.conn.recv(wait)
                except ConnectionClosed as e:
                    self._reconnect(describe_close(e))
                    next_relist = time.monotonic()  # catch up on what happened while away
                    continue
                if frame is not None:
                    self._handle(frame)
        finally:
            if self.conn is not None:
                self.conn.close()

    # -- frames -----------------------------------------------------------------------------

    def _handle(self, frame: dict) -> None:
        event, data = frame.get("event"), frame.get("data")
        if event in ("session", "device") and event == self.source.kind and isinstance(data, dict):
            rid = data.get("id")
            if rid not in self.feed.tracker and not self.source.matches(data):
                return
            self.feed.seen(data)
            self._reconcile()
        elif event == "presence" and isinstance(data, dict) and self.source.kind == "device":
            self.feed.presence(data)
        # `{ack}` frames and `error` events (e.g. a token the server no longer knows) need nothing.

    def _send(self, event: str, data: Any = None) -> None:
        """Best effort: a send on a dead socket is noticed by the next recv, which reconnects."""
        try:
            if self.conn is not None:
                self.conn.send(event, data)
        except ConnectionClosed:
            pass

    def _subscribe(self, resource: dict) -> None:
        rid, token = resource.get("id"), self.source.token(resource)
        if not isinstance(rid, str) or token is None:
            return
        self.subscribed[rid] = token
        self._send("subscribe", token)
        if self.source.kind == "device":
            self._send("sync-presence", rid)

    def _subscribe_all(self) -> None:
        self.subscribed.clear()
        for rid in self.feed.tracker.ids():
            resource = self.feed.tracker.get(rid)
            if resource is not None:
                self._subscribe(resource)

    def _reconcile(self) -> None:
        """Unsubscribe what left the watch; subscribe what joined it."""
        for rid in [r for r in self.subscribed if r not in self.feed.tracker]:
            self._send("unsubscribe", self.subscribed.pop(rid))
        for rid in self.feed.tracker.ids():
            if rid not in self.subscribed:
                resource = self.feed.tracker.get(rid)
                if resource is not None:
                    self._subscribe(resource)

    def _relist(self) -> None:
        from cobrowse_cli.client.errors import NetworkError, RateLimitedError, ServerError

        try:
            listing = self.source.list()
        except (NetworkError, ServerError, RateLimitedError) as e:
            self.relist_failures += 1
            if self.relist_failures >= self.settings.max_relist_failures:
                raise exitcodes.CLIError(f"watch stopped: re-listing failed {self.relist_failures} times in a row: {e}") from None
            self.notice(f"re-list failed ({e}); will retry")
            return
        self.relist_failures = 0
        self.feed.sync(listing)
        self._reconcile()

    # -- reconnecting -----------------------------------------------------------------------

    def _reconnect(self, reason: str) -> None:
        """Reconnect with the SDK's backoff: one notice line per attempt, given up after max_attempts or
        give_up_after seconds. Each attempt asks /users/me once, without the client's own retries:
        nested retries made a dead server take two minutes and a dozen lines to report."""
        stable = self.conn is not None and time.monotonic() - self.conn.opened >= STABLE_AFTER
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        # A reconnect whose socket closed within STABLE_AFTER was no success: it counts as a failed
        # attempt, so a server that accepts and hangs up at once makes the watch give up in time.
        if stable:
            self.failures = 0
        elif self.reconnected:
            self.failures += 1
        backoff = 0 if stable else max(1, self.failures)  # the SDK retries at once only after a socket that stayed up
        last_error = reason
        started = time.monotonic()
        deadline = started + self.settings.give_up_after
        self.notice(f"realtime socket {reason}; reconnecting")
        attempt = 0
        while self.failures < self.settings.max_attempts and time.monotonic() < deadline:
            attempt += 1
            delay = min(backoff_delay(backoff, self.min_delay, self.settings.max_delay), deadline - time.monotonic())
            backoff += 1
            if delay > 0:
                time.sleep(self.feed.wait_bound(delay))
            self.feed.check_timeout()
            try:
                self.conn = self._connect(http_retries=False)
            except (AuthenticationError, ForbiddenError, InsecureTransportError):
                raise  # retrying cannot fix these
            except (CobrowseError, OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
                self.failures += 1
                last_error = _reason(e)
                self.notice(f"reconnect attempt {attempt} failed: {last_error}")
                continue
            self.reconnected = True
            self.notice("realtime socket reconnected; catching up")
            self._subscribe_all()
            return
        raise exitcodes.CLIError(
            f"watch stopped: the realtime socket was {reason} and {self.failures} reconnect attempts failed "
            f"in {time.monotonic() - started:.0f}s (a socket closing within seconds of opening counts as one)"
            f" (last: {last_error})"
        )

    def _connect(self, *, http_retries: bool = True) -> Connection:
        client = self.source.client
        saved = client.retries
        if not http_retries:  # the reconnect loop is the retry: one request per attempt
            client.retries = 0
        try:
            auth = client.socket_auth()  # asked again each time, like the SDK (tokens may change)
        finally:
            client.retries = saved
        return Connection.open(auth.url, list(auth.subprotocols), self.settings)


class _OneLine(logging.Formatter):
    """websockets logs e.g. a keepalive timeout with a traceback: the user gets one line instead."""

    def format(self, record: logging.LogRecord) -> str:
        message = (record.getMessage().strip() or "error").splitlines()[0]
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {_reason(record.exc_info[1])}"
        return signed("realtime socket: " + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in message))


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (tests and callers may swap it), not the one at set-up."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _quiet_library_log(*, debug: bool) -> None:
    """Route the websockets logger to one line per warning on stderr (whole records with --debug)."""
    logger = logging.getLogger("websockets")
    if any(getattr(h, "_cobrowse", False) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler._cobrowse = True  # type: ignore[attr-defined]
    handler.setLevel(logging.WARNING)
    if not debug:
        handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.propagate = False  # never the last-resort handler, which prints tracebacks


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
