"""Fixtures for the conventions tests (issue 14), beside tests/conftest.py's `cli` (in-process, shared
sandbox): the installed CLI on a real pseudo-terminal of a chosen width (tables, prompts, hints are about terminals)."""

from __future__ import annotations

import re
import sys

import pytest

from tests.helpers import COBROWSE, isolated_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours, cursor moves and erases of the progress bar


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
