"""One CLI runner: the installed `cobrowse` as a real process, or `app.run(argv)` in this process.

Use a real process where a signal, a pipe, a terminal or the start-up path is the point; in-process
everywhere else (no interpreter start-up: ~20x cheaper on the shared cores). Both return a `Result`.
Retry backoff is waited with `client.retry.sleep`: `no_backoff()` (in-process) and `run_cli(...,
backoff=False)` (a process) replace it, so tests about odd answers do not wait out real backoff.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

COBROWSE = str(Path(sys.executable).with_name("cobrowse"))
# `cobrowse` with retry.sleep recording instead of waiting (still a real process: pipes, signals, RSS).
_NO_BACKOFF = ("import sys; from cobrowse_cli.client import retry; retry.sleep = lambda s: None; "
               "from cobrowse_cli.__main__ import main; sys.argv[0] = 'cobrowse'; main()")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]

    @property
    def both(self) -> str:
        return self.out + self.err


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without any COBROWSE_* or XDG_* variable, HOME/XDG dirs and the config file inside `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COBROWSE_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               COBROWSE_CONFIG=str(home / "config.toml"), NO_COLOR="1")
    env.update(extra)
    return env


class Home(type(Path())):
    """A test's empty HOME: a Path (so `home / "x"` and `isolated_env(home)` work) that also carries the
    isolated environment (`.env`) and runs the CLI in it (`.run`, `.run_tty`)."""

    env: dict[str, str]

    @classmethod
    def make(cls, root: Path, config: Path | None = None) -> Home:
        root.mkdir(parents=True, exist_ok=True)
        home = cls(root)
        home.env = isolated_env(root, **({"COBROWSE_CONFIG": str(config)} if config else {}))
        return home

    @property
    def root(self) -> Path:
        return Path(self)

    @property
    def config(self) -> Path:
        return Path(self.env["COBROWSE_CONFIG"])

    @property
    def cache(self) -> Path:
        return Path(self.env["XDG_CACHE_HOME"]) / "cobrowse-cli" / "tokens"

    def write_config(self, text: str) -> None:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(text)

    def argv(self, *args: str) -> list[str]:
        return [COBROWSE, *args]

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 30) -> Result:
        return run_cli({**self.env, **(env or {})}, *args, input=input or "", timeout=timeout)

    def run_tty(self, *args: str, answers: list[str], timeout: float = 20) -> tuple[int, str]:
        """Run on a pseudo-terminal, answering each prompt (a line ending in ':') in turn."""
        from tests.support.pty import run_on_pty

        screen = run_on_pty(self.argv(*args), self.env, answers=[(":", a) for a in answers], timeout=timeout)
        return screen.code, screen.out


def cli_argv(*args: str, backoff: bool = True) -> list[str]:
    return [COBROWSE, *args] if backoff else [sys.executable, "-c", _NO_BACKOFF, *args]


def run_cli(env: dict[str, str], *args: str, input: str = "", timeout: float = 60, backoff: bool = True) -> Result:
    """The installed CLI as a subprocess (stdin a pipe, never a TTY)."""
    proc = subprocess.run(cli_argv(*args, backoff=backoff), input=input, capture_output=True, text=True, env=env,
                          timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@contextlib.contextmanager
def no_backoff():
    """In-process: retries happen at once; yields the list of waits the client asked for."""
    from cobrowse_cli.client import retry

    waits: list[float] = []
    saved, retry.sleep = retry.sleep, waits.append
    try:
        yield waits
    finally:
        retry.sleep = saved


def _stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", newline="", write_through=True)


def run_in_process(env: dict[str, str] | None, *args: str, input: str = "") -> Result:
    """`app.run(argv)` with this environment (None: keep os.environ) and captured stdio; restores both."""
    from cobrowse_cli import app

    saved_env, saved_io = dict(os.environ), (sys.stdin, sys.stdout, sys.stderr)
    out, err = _stream(), _stream()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input), out, err
        try:
            code = app.run(list(args))
        except SystemExit as e:  # a command may still exit the Typer way
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_io
        os.environ.clear()
        os.environ.update(saved_env)
    return Result(code, out.buffer.getvalue().decode("utf-8", "replace"), err.buffer.getvalue().decode("utf-8", "replace"))


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
