"""Helpers for the reliability suite: the installed `cobrowse` run as a subprocess with an isolated HOME.

The sandbox fixtures (`sandbox`, `sandbox_factory`) come from tests/conftest.py. This folder has its own
`cli_env`/`run_cli` (rather than tests/commands' `cli`) because several tests here point the CLI at
servers other than the sandbox, or need a Popen they can SIGKILL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

COBROWSE = str(Path(sys.executable).with_name("cobrowse"))
DOCUMENTED_CODES = {0, 1, 2, 3, 4, 5}  # the exit codes a non-watch, non-threshold command may end with


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without any COBROWSE_* variable, HOME/XDG dirs and the config file inside `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               COBROWSE_CONFIG=str(home / "config.toml"), NO_COLOR="1")
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, input: str = "", timeout: float = 60) -> Result:
    proc = subprocess.run([COBROWSE, *args], input=input, capture_output=True, text=True, env=env, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: Result, code: int | set[int], *needles: str) -> None:
    """Exit code as expected, nothing on stdout, exactly one line on stderr, no traceback."""
    codes = code if isinstance(code, set) else {code}
    assert result.code in codes, (result.code, result.err, result.out)
    assert result.out == "", result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def cli(sandbox, home):
    """`cli(*args, token=admin, input="", env=None) -> Result` against the shared sandbox."""
    admin = sandbox.admin_token()

    def run(*args: str, token: str | None = admin, input: str = "", env: dict | None = None,
            timeout: float = 120) -> Result:
        environ = isolated_env(home, COBROWSE_API=sandbox.url)
        if token:
            environ["COBROWSE_TOKEN"] = token
        environ.update(env or {})
        return run_cli(environ, *args, input=input, timeout=timeout)

    return run
