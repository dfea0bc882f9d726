"""One stub HTTP server: http.server on 127.0.0.1, an ephemeral port, a daemon thread.

`StubServer(Handler, **attrs)` serves a handler class of the test's own (attrs land on the server, e.g.
`scenario=`; a handler reads them as `self.server.x`). `Routes` is the common handler: it answers
`server.routes[path] = (status, content type, body)` and records each request path in `server.hits`.
`TcpServer` is the raw one, for what http.server cannot play (broken framing, TLS, a proxy).
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], **attrs):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.hits = []
        for name, value in attrs.items():
            setattr(self.server, name, value)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def hits(self) -> list[str]:
        return self.server.hits

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Quiet(BaseHTTPRequestHandler):
    """HTTP/1.1, no access log on stderr, and `answer()` for a whole response."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, ctype: str, body: bytes | str, **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Routes(Quiet):
    """GET path (query ignored) -> server.routes[path], else 500 "no route"."""

    def do_GET(self):  # noqa: N802 - http.server naming
        self.server.hits.append(self.path)
        self.answer(*self.server.routes.get(self.path.split("?")[0], (500, "text/plain", "no route")))


class TcpServer:
    """A raw TCP server on 127.0.0.1, an ephemeral port: `on_connection(conn)` in a daemon thread per
    connection (counted in `connections`). `close()` stops accepting."""

    def __init__(self, on_connection, *, scheme: str = "http"):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.connections = 0
        self._on_connection = on_connection
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:  # closed
                return
            self.connections += 1
            threading.Thread(target=self._on_connection, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.server.close()
