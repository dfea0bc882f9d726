"""Fixtures for the conventions tests (issue 14): the CLI in-process against the shared sandbox, and the
installed CLI on a real pseudo-terminal of a chosen width (tables, prompts, hints are about terminals)."""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from cobrowse_cli.app import run
from tests.helpers import COBROWSE, isolated_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours, cursor moves and erases of the progress bar


@pytest.fixture
def in_process(sandbox, tmp_path, monkeypatch, capsys):
    """`in_process(*argv) -> (code, out, err)`: app.run against the sandbox with an isolated config."""
    for name in [n for n in os.environ if n.startswith("COBROWSE_")]:
        monkeypatch.delenv(name)
    for name, value in isolated_env(tmp_path, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token()).items():
        if name.startswith(("COBROWSE_", "HOME", "XDG_", "NO_COLOR")):
            monkeypatch.setenv(name, value)
    capsys.readouterr()

    def go(*argv: str) -> tuple[int, str, str]:
        code = run(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return go


@pytest.fixture
def tty(sandbox, tmp_path):
    """`tty(*argv, width=80, answers={prompt_end: answer}, env=None) -> (code, screen)`: the installed CLI
    with stdin, stdout and stderr on one pseudo-terminal `width` columns wide (no COLUMNS variable, so
    the width comes from the terminal itself), answering each prompt whose text ends the screen."""
    if sys.platform == "win32":
        pytest.skip("needs a POSIX pseudo-terminal")
    import fcntl
    import pty
    import select
    import struct
    import termios

    def go(*argv: str, width: int = 80, answers: list[tuple[str, str]] | None = None, env: dict | None = None,
           token: str | None = None, timeout: float = 60) -> tuple[int, str]:
        environ = isolated_env(tmp_path, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=token or sandbox.admin_token(),
                               TERM="xterm")
        environ.pop("COLUMNS", None)
        environ.pop("LINES", None)
        environ.update(env or {})
        pid, fd = pty.fork()
        if pid == 0:  # the child: size its terminal, then become the CLI
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
            os.execve(COBROWSE, [COBROWSE, *argv], environ)
        pending, screen = list(answers or []), b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not select.select([fd], [], [], 0.1)[0]:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
                if pending and screen.rstrip().endswith(pending[0][0].encode()):
                    time.sleep(0.2)  # getpass flushes typed-ahead input when it turns echo off
                    os.write(fd, pending.pop(0)[1].encode() + b"\r")
        finally:
            if time.monotonic() >= deadline:
                os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        text = ANSI.sub("", screen.decode(errors="replace").replace("\r\n", "\n"))
        return os.waitstatus_to_exitcode(status), "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))

    return go
