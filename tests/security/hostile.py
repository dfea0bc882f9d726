"""Helpers for the hostile-data and hostile-server tests: a pty runner and small local servers."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time

from tests.helpers import COBROWSE

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


def run_in_pty(args: list[str], env: dict, *, seconds: float | None = None, input_after: bytes | None = None) -> tuple[int, str]:
    """Run the CLI with stdin/stdout/stderr on one pseudo-terminal; return (exit code, what the terminal got).

    `seconds`: send SIGINT after that long (for live views); `input_after`: typed once output appears."""
    leader, follower = pty.openpty()
    env = {**env, "TERM": "xterm-256color", "COLUMNS": "160"}
    proc = subprocess.Popen([COBROWSE, *args], stdin=follower, stdout=follower, stderr=follower, env=env,
                            start_new_session=True)
    os.close(follower)
    chunks: list[bytes] = []
    stop_at = time.monotonic() + (seconds if seconds is not None else 60)
    sent_input = sent_int = False
    while True:
        if not sent_int and seconds is not None and time.monotonic() >= stop_at:
            proc.send_signal(signal.SIGINT)
            sent_int = True
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            if input_after is not None and not sent_input:
                os.write(leader, input_after)
                sent_input = True
        elif proc.poll() is not None:
            break
        elif time.monotonic() > stop_at + 30:
            proc.kill()
            break
    os.close(leader)
    return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")
