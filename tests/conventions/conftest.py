"""Fixtures for the conventions tests (issue 14): the CLI in-process against the shared sandbox, and the
installed CLI on a real pseudo-terminal of a chosen width (tables, prompts, hints are about terminals)."""

from __future__ import annotations

import os
import re
import sys

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
    from tests.support.pty import run_on_pty

    def go(*argv: str, width: int = 80, answers: list[tuple[str, str]] | None = None, env: dict | None = None,
           token: str | None = None, timeout: float = 60) -> tuple[int, str]:
        environ = isolated_env(tmp_path, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=token or sandbox.admin_token(),
                               TERM="xterm")
        environ.pop("COLUMNS", None)
        environ.pop("LINES", None)
        environ.update(env or {})
        screen = run_on_pty([COBROWSE, *argv], environ, answers=answers or [], width=width, timeout=timeout)
        text = ANSI.sub("", screen.out)
        return screen.code, "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))

    return go
