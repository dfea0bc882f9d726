"""Run the installed `cobrowse` as a subprocess against the sandbox, as a user or a cron job would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

COBROWSE = str(Path(sys.executable).with_name("cobrowse"))


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]


@pytest.fixture
def cli(sandbox, tmp_path):
    """`cli(*args, token=..., input=None, env=None) -> Result`; stdin is never a TTY here."""
    home = tmp_path / "home"
    home.mkdir()
    admin = sandbox.admin_token()

    def run(*args: str, token: str | None = admin, input: str | None = None, env: dict | None = None,
            timeout: float = 120) -> Result:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
        environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
                       COBROWSE_CONFIG=str(home / "config.toml"), COBROWSE_API=sandbox.url, NO_COLOR="1")
        if token:
            environ["COBROWSE_TOKEN"] = token
        environ.update(env or {})
        proc = subprocess.run([COBROWSE, *args], input=input if input is not None else "", capture_output=True,
                              text=True, env=environ, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def assert_one_line_error(result: Result, code: int, *needles: str) -> None:
    assert result.code == code, (result.code, result.err, result.out)
    assert result.out == "", result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def one_line_error():
    """The check every user error must pass: exit code, nothing on stdout, exactly one line on stderr."""
    return assert_one_line_error
