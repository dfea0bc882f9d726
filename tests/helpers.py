"""Running the installed `cobrowse` as a subprocess, isolated from the real user's HOME and config.

Shared by the end-to-end and reliability tests (fixtures built on these live in tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

COBROWSE = str(Path(sys.executable).with_name("cobrowse"))


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
    """The check every user error must pass: the exit code, nothing on stdout, one stderr line, no traceback."""
    codes = code if isinstance(code, set) else {code}
    assert result.code in codes, (result.code, result.err, result.out)
    assert result.out == "", result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
