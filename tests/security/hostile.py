"""Helpers for the hostile-data and hostile-server tests: a pty runner and small local servers."""

from __future__ import annotations

import subprocess

from tests.helpers import COBROWSE
from tests.support.pty import run_on_pty
from tests.support.stub import TcpServer

# What a customer can type into custom_data to attack an operator's terminal or spreadsheet.
HOSTILE = {
    "title": "\x1b]0;pwned\x07\x1b[2J",
    "link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "file": "user\u202egnp.exe",
    "zw": "a\u200bb\u2028c\x9b31m",
    "m": "[/oops]",
    "markup": "[link=https://evil.example]x[/link]",
    "formula": "=cmd|' /C calc'!A0",
    "\x1b[31mkey": "red key",
}
# Raw bytes that must never reach a terminal (ESC, BEL, CSI, bidi override, zero-width, line separator).
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\u2028")


def run_in_pty(args: list[str], env: dict, *, seconds: float | None = None,
               answers: list[tuple[str, str]] = ()) -> tuple[int, str]:
    """The CLI with stdin/stdout/stderr on one pseudo-terminal 160 columns wide: (exit code, what the terminal
    got). `seconds`: type Ctrl-C after that long (for live views); `answers`: as tests.support.pty."""
    env = {**env, "TERM": "xterm-256color", "COLUMNS": "160"}
    ctrl_c = (lambda _screen, elapsed: elapsed >= seconds) if seconds is not None else None
    screen = run_on_pty([COBROWSE, *args], env, answers=answers, ctrl_c_when=ctrl_c)
    return screen.code, screen.out


class HostileServer(TcpServer):
    """A raw TCP server; `handler(conn, server)` plays one hostile HTTP server per connection (over TLS with
    `tls_context`). Counts connections; `sent` adds up what handlers report sending."""

    def __init__(self, handler, *, tls_context=None):
        self.handler = handler
        self.tls_context = tls_context
        self.sent = 0
        super().__init__(self._run, scheme="https" if tls_context else "http")

    def _run(self, conn) -> None:
        try:
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            self.handler(conn, self)
        except OSError:
            pass  # the client went away: the point of most of these servers
        finally:
            try:
                conn.close()
            except OSError:
                pass


def read_request(conn) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def peak_rss_mb(args: list[str], env: dict, timeout: float = 120) -> tuple[int, str, float]:
    """Run the CLI under a tiny parent whose only child it is: (exit code, stderr, the CLI's peak RSS in MB)."""
    import json
    import sys

    wrapper = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps([p.returncode, p.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, COBROWSE, *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    code, err, kb = json.loads(done.stdout)
    return code, err, kb / 1024
