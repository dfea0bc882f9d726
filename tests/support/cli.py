"""One CLI runner: `app.run(argv)` in this process (the default), or the installed `cobrowse` as a process.

In-process everywhere a process adds nothing (no interpreter start-up: ~20x cheaper on the shared cores);
a real process where a signal, a pipe, a terminal, the start-up path or RSS is the point. Both return a
`Result`. An in-process run is isolated like a process: its own os.environ, sys.argv and stdio (text over
bytes, as a pipe gives), and everything it changed in this process is put back afterwards (signal
handlers, logging handlers, cwd; see `_Isolated`). Retry backoff is waited with `client.retry.sleep`:
in-process runs record the waits instead (`no_backoff()`), and `run_cli(..., backoff=False)` does the
same in a process, so tests about odd answers do not wait out real backoff.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
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
    raw_out: bytes | None = field(default=None, repr=False)  # the bytes written, when the runner kept them
    raw_err: bytes | None = field(default=None, repr=False)

    def __iter__(self):
        """`code, out, err = result`."""
        return iter((self.code, self.out, self.err))

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line]

    @property
    def both(self) -> str:
        return self.out + self.err

    @property
    def out_bytes(self) -> bytes:
        return self.raw_out if self.raw_out is not None else self.out.encode("utf-8", "surrogateescape")

    @property
    def err_bytes(self) -> bytes:
        return self.raw_err if self.raw_err is not None else self.err.encode("utf-8", "surrogateescape")


def _decoded(raw_out: bytes, raw_err: bytes, code: int) -> Result:
    return Result(code, raw_out.decode("utf-8", "replace"), raw_err.decode("utf-8", "replace"), raw_out, raw_err)


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without any COBROWSE_* or XDG_* variable, HOME/XDG dirs and the config file inside `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COBROWSE_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               COBROWSE_CONFIG=str(home / "config.toml"), NO_COLOR="1")
    env.update(extra)
    return env


class Home(type(Path())):
    """A test's empty HOME: a Path (so `home / "x"` and `isolated_env(home)` work) that also carries the
    isolated environment (`.env`) and runs the CLI in it (`.run` in-process, `.run_process`, `.run_tty`)."""

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

    def run(self, *args: str, input: str | bytes = "", env: dict[str, str] | None = None, timeout: float = 30) -> Result:
        """The CLI in this process, in this HOME."""
        with no_backoff():
            return run_in_process({**self.env, **(env or {})}, *args, input=input, timeout=timeout)

    def run_process(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
                    timeout: float = 30) -> Result:
        """The installed CLI as a process (stdin a pipe), in this HOME."""
        return run_cli({**self.env, **(env or {})}, *args, input=input or "", timeout=timeout)

    def run_tty(self, *args: str, answers: list[str], timeout: float = 20) -> tuple[int, str]:
        """Run on a pseudo-terminal, answering each prompt (a line ending in ':') in turn."""
        from tests.support.pty import run_on_pty

        screen = run_on_pty(self.argv(*args), self.env, answers=[(":", a) for a in answers], timeout=timeout)
        return screen.code, screen.out


def cli_argv(*args: str, backoff: bool = True) -> list[str]:
    return [COBROWSE, *args] if backoff else [sys.executable, "-c", _NO_BACKOFF, *args]


def run_cli(env: dict[str, str], *args: str, input: str | bytes = "", timeout: float = 60,
            backoff: bool = True) -> Result:
    """The installed CLI as a subprocess (stdin a pipe, never a TTY)."""
    data = input.encode("utf-8", "surrogateescape") if isinstance(input, str) else input
    proc = subprocess.run(cli_argv(*args, backoff=backoff), input=data, capture_output=True, env=env, timeout=timeout)
    return _decoded(proc.stdout, proc.stderr, proc.returncode)


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


_one_at_a_time = threading.Lock()  # a run owns os.environ and sys.std*: two at once would mix them


class InProcessTimeout(BaseException):
    """An in-process run outlived its timeout (a BaseException so the CLI's own handlers let it pass)."""


class _Bytes(io.BytesIO):
    """A BytesIO that keeps what was written when the CLI closes the stream over it."""

    kept = b""

    def close(self) -> None:
        if not self.closed:
            self.kept = self.getvalue()
        super().close()

    def value(self) -> bytes:
        return self.kept if self.closed else self.getvalue()


def _pipe_like(data: bytes, errors: str) -> io.TextIOWrapper:
    # What a process gets on a pipe under a UTF-8 locale: text over a byte buffer, not a terminal.
    return io.TextIOWrapper(_Bytes(data), encoding="utf-8", errors=errors, newline="\n")


def run_in_process(env: dict[str, str] | None, *args: str, input: str | bytes = "", timeout: float | None = None) -> Result:
    """`app.run(argv)` with this environment (None: keep os.environ) and captured stdio, as isolated as a
    process (see `_Isolated`). A run longer than `timeout` seconds raises InProcessTimeout (main thread only)."""
    from cobrowse_cli import app

    if not _one_at_a_time.acquire(blocking=False):
        raise RuntimeError("in-process CLI runs cannot overlap (they share os.environ and stdio): use cli_process")
    try:
        return _run_in_process(app, env, args, input, timeout)
    finally:
        _one_at_a_time.release()


def _run_in_process(app, env: dict[str, str] | None, args: tuple, input: str | bytes, timeout: float | None) -> Result:
    data = input.encode("utf-8", "surrogateescape") if isinstance(input, str) else input
    stdin, out, err = _pipe_like(data, "surrogateescape"), _pipe_like(b"", "surrogateescape"), _pipe_like(b"", "backslashreplace")
    with _Isolated(env, ["cobrowse", *args], (stdin, out, err)), _deadline(timeout):
        try:
            code = app.run(list(args))
        except SystemExit as e:  # a command may still exit the Typer way
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            for stream in (out, err):
                with contextlib.suppress(ValueError):  # a command may have closed it, as a process may
                    stream.flush()
    return _decoded(out.buffer.value(), err.buffer.value(), code)


@contextlib.contextmanager
def _deadline(timeout: float | None):
    if not timeout or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_):
        raise InProcessTimeout(f"the in-process CLI run took longer than {timeout} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Isolated:
    """What a process would have had to itself, swapped in for one run and put back after it: os.environ,
    sys.argv, the three std streams, the cwd, signal handlers, and the logging tree (handlers, levels,
    propagation, disabled flags of every logger, so a `--debug` run's handler cannot reach the next run)."""

    def __init__(self, env: dict[str, str] | None, argv: list[str], streams: tuple):
        self.env, self.argv, self.streams = env, argv, streams

    def __enter__(self) -> _Isolated:
        self.saved_env = dict(os.environ)
        self.saved_argv, self.saved_io, self.saved_cwd = sys.argv, (sys.stdin, sys.stdout, sys.stderr), os.getcwd()
        self.saved_signals = _signal_handlers()
        self.saved_logging = _logging_state()
        if self.env is not None:
            os.environ.clear()
            os.environ.update(self.env)
        sys.argv = list(self.argv)
        sys.stdin, sys.stdout, sys.stderr = self.streams
        return self

    def __exit__(self, *exc) -> None:
        sys.stdin, sys.stdout, sys.stderr = self.saved_io
        sys.argv = self.saved_argv
        os.environ.clear()
        os.environ.update(self.saved_env)
        os.chdir(self.saved_cwd)
        for signum, handler in self.saved_signals.items():
            if signal.getsignal(signum) is not handler:
                signal.signal(signum, handler)
        _restore_logging(self.saved_logging)


def _signal_handlers() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal.signal only works there; a run elsewhere cannot have changed them either
    handlers = {}
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
        if handler is not None:  # None: not installed from Python (SIGKILL, SIGSTOP...)
            handlers[signum] = handler
    return handlers


def _loggers() -> list[logging.Logger]:
    return [logging.root, *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger))]


def _logging_state() -> dict:
    return {lg.name: (lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in _loggers()}


def _restore_logging(saved: dict) -> None:
    for lg in _loggers():
        before = saved.get(lg.name)
        if before is None:  # a logger the run created: as if it had never been configured
            lg.handlers[:], lg.level, lg.propagate, lg.disabled = [], logging.NOTSET, True, False
        else:
            _, handlers, lg.level, lg.propagate, lg.disabled = before
            lg.handlers[:] = handlers
    logging.root.manager._clear_cache()


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
