"""Helpers for watch tests: run a watch in a thread against the real sandbox and wait for its lines,
and a loopback TCP proxy that can refuse, cut or silently black-hole the realtime socket (the REST
calls pass through untouched), so reconnects and dead links are tested for real."""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from cobrowse_cli.client import Client
from cobrowse_cli.commands._context import Context
from cobrowse_cli.commands.watch import WatchOptions, run_watch
from cobrowse_cli.watch.socket import SocketSettings
from tests.support.stub import TcpServer

# Short bounds so reconnect and dead-link tests take a second, not a minute.
FAST_SOCKET = dict(keepalive=2.0, open_timeout=2.0, min_delay=0.05, max_delay=0.2)


class Lines(io.TextIOBase):
    """A text stream that keeps complete lines and lets a test wait for them."""

    def __init__(self):
        self._buf = ""
        self.lines: list[str] = []
        self._cond = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._cond:
            self._buf += text
            *done, self._buf = self._buf.split("\n")
            self.lines += done
            self._cond.notify_all()
        return len(text)

    def wait_for(self, predicate, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting; lines so far: {self.lines!r}")
                self._cond.wait(left)
            return list(self.lines)


@dataclass
class RunningWatch:
    out: Lines
    err: Lines
    thread: threading.Thread
    result: dict = field(default_factory=dict)

    def wait(self, timeout: float = 20.0):
        """The exit code, or the raised exception."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"watch still running; out={self.out.lines!r} err={self.err.lines!r}"
        return self.result.get("rc", self.result.get("error"))


@pytest.fixture
def start_watch():
    """start_watch(api_url, token, **WatchOptions fields) -> RunningWatch (a thread running run_watch)."""
    clients = []

    def start(api: str, token: str, *, socket_settings: dict | None = None, **fields) -> RunningWatch:
        out, err = Lines(), Lines()
        env = Context(stdout=out, stderr=err)
        client = Client(api=api, token=token)
        clients.append(client)
        env._client = client
        fields.setdefault("timeout", "20s")  # a safety net: no test hangs forever
        fields.setdefault("interval", "0.3s")
        opts = WatchOptions(socket_settings=SocketSettings(**{**FAST_SOCKET, **(socket_settings or {})}), **fields)
        running = RunningWatch(out, err, threading.Thread(target=lambda: None))

        def target():
            try:
                running.result["rc"] = run_watch(opts, env)
            except Exception as e:  # noqa: BLE001 - handed to the test
                running.result["error"] = e

        running.thread = threading.Thread(target=target, daemon=True)
        running.thread.start()
        return running

    yield start
    for client in clients:
        client.close()


class Proxy(TcpServer):
    """127.0.0.1 TCP proxy. Connections whose request is `GET /sockets/...` are the realtime socket:
    `refuse_sockets` closes new ones at once; `cut_sockets()` closes open ones without a close frame;
    `blackhole_sockets()` keeps them open but forwards nothing (a dead link)."""

    def __init__(self, upstream_url: str):
        host_port = upstream_url.split("://", 1)[1].rstrip("/")
        host, port = host_port.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.refuse_sockets = False
        self.socket_conns: list[tuple[socket.socket, socket.socket, dict]] = []
        self.socket_attempts = 0
        super().__init__(self._serve)

    def _serve(self, client: socket.socket) -> None:
        try:
            first = client.recv(65536)
        except OSError:
            client.close()
            return
        is_socket = first.startswith(b"GET /sockets/")
        if is_socket:
            self.socket_attempts += 1
            if self.refuse_sockets:
                client.close()
                return
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        upstream.sendall(first)
        flags = {"blackhole": False}
        if is_socket:
            self.socket_conns.append((client, upstream, flags))
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b, flags), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, flags: dict) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not flags["blackhole"]:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut_sockets(self) -> int:
        conns, self.socket_conns = self.socket_conns, []
        for client, upstream, _ in conns:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(conns)

    def blackhole_sockets(self) -> int:
        for _, _, flags in self.socket_conns:
            flags["blackhole"] = True
        return len(self.socket_conns)

    def close(self) -> None:
        super().close()
        self.cut_sockets()


@pytest.fixture
def proxy(sandbox):
    p = Proxy(sandbox.url)
    yield p
    p.close()
