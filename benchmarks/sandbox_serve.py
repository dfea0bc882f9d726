"""`cobrowse sandbox serve ARGS…`, with TCP_NODELAY on the listening socket (accepted sockets inherit it).

Why: the sandbox creates its socket as socket(AF_INET, SOCK_STREAM) (proto 0), so asyncio does not
set TCP_NODELAY on accepted connections; every response on a kept-alive connection then waits ~40 ms
for the client's delayed ACK (Nagle). httpx keeps connections alive, node-fetch does not, so that
stall would be charged to the CLI only: a sandbox artefact, not something the real API does. When
the sandbox's socket already has TCP_NODELAY this wrapper changes nothing. Used by bench_harness.
"""

from __future__ import annotations

import socket
import sys


def main() -> int:
    from cobrowse_cli.sandbox import server

    original_bind = server.bind

    def bind(host: str, port: int) -> socket.socket:
        sock = original_bind(host, port)
        if not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sys.stderr.write("sandbox_serve: set TCP_NODELAY on the sandbox's listening socket\n")
        return sock

    server.bind = bind
    from cobrowse_cli.app import run

    return run(["sandbox", "serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
