"""Shared fixtures: a real sandbox server in a subprocess, reset to known data before each test.

- `sandbox_server` (session scope, one per xdist worker): `python -m cobrowse_cli sandbox serve --port 0
  --state-dir <tmp> ...` started as a real process, like a user's; stopped at the end of the run.
- `sandbox` (function scope): the same server reset to SMALL_SEED (200 sessions, 20 active, 10 devices,
  seed 1), no faults, no churn, serve-time timeouts. Returns a `Sandbox` (see tests/support/sandbox.py).
- `sandbox_factory` (function scope): `sandbox_factory(*serve_flags) -> Sandbox` starts a separate server
  with custom flags (e.g. "--inactivity-timeout", "1"); stopped after the test.
- `home`, `cli` (the CLI through app.run in this process, isolated like a process), `cli_process` (the
  installed CLI as a real process: signals, pipes, start-up, RSS), `one_line_error`.

The machinery lives in tests/support/ (one CLI runner, stub server, pty driver, sandbox launcher); the
names below stay importable from here for the tests that already use them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Bytecode is cached during the run, as on a machine without PYTHONDONTWRITEBYTECODE (a wheel install ships
# it compiled): otherwise every CLI and sandbox process a test starts recompiles the package, and every xdist
# worker re-does pytest's assertion rewriting (~20-35 s of a 200 s suite on 2 cores, measured).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import pytest

from tests.support.sandbox import (  # noqa: F401 - re-exported for existing tests
    ADMIN_SUB,
    DEFAULT_SUB,
    SMALL_SEED,
    START_TIMEOUT_S,
    ControlError,
    Response,
    Sandbox,
    start_sandbox,
)

@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory) -> Sandbox:
    """One sandbox subprocess for the whole run (inactivity timeout: serve's default, 300 s)."""
    sb = start_sandbox(tmp_path_factory.mktemp("sandbox-state"))
    yield sb
    sb.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The shared sandbox, reset to SMALL_SEED data with no faults before this test."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def sandbox_factory(tmp_path):
    """`sandbox_factory(*serve_flags) -> Sandbox`: a separate server with custom flags, stopped after the test."""
    started: list[Sandbox] = []

    def start(*flags: str) -> Sandbox:
        sb = start_sandbox(tmp_path / f"sandbox-{len(started)}", *flags)
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()



# ---- the installed CLI against the shared sandbox -------------------------------------------------------


@pytest.fixture
def home(tmp_path) -> Path:
    """An empty HOME for one test (config, token cache and XDG dirs live inside it); a `Home`, which is a
    Path that also has `.env`, `.run(...)` and `.run_tty(...)` (tests/support/cli.py)."""
    from tests.support.cli import Home

    return Home.make(tmp_path / "home")


def _against_sandbox(sandbox: Sandbox, home, runner):
    admin = sandbox.admin_token()

    def run(*args: str, token: str | None = admin, input: str | bytes = "", env: dict | None = None,
            timeout: float = 120):
        from tests.support.cli import isolated_env

        environ = isolated_env(home, COBROWSE_API=sandbox.url)
        if token:
            environ["COBROWSE_TOKEN"] = token
        environ.update(env or {})
        return runner(environ, *args, input=input, timeout=timeout)

    return run


@pytest.fixture
def cli(sandbox, home):
    """`cli(*args, token=admin, input="", env=None, timeout=120) -> Result`: the CLI against the shared
    sandbox, run through app.run in this process, isolated as a process would be (tests/support/cli.py).
    Retry waits are recorded, not waited. Use `cli_process` where a real process is the point."""
    from tests.support.cli import no_backoff, run_in_process

    def in_process(environ, *args, input, timeout):
        with no_backoff():
            return run_in_process(environ, *args, input=input, timeout=timeout)

    return _against_sandbox(sandbox, home, in_process)


@pytest.fixture
def cli_in_process(cli):
    """The same as `cli` (the name tests used before `cli` ran in-process)."""
    return cli


@pytest.fixture
def cli_process(sandbox, home):
    """`cli`'s signature and Result, run as the installed `cobrowse` process (stdin a pipe, never a TTY), as a
    user or a cron job runs it: for signals, pipes, start-up, RSS, or import behaviour that depends on the
    environment. It waits out real retry backoff."""
    from tests.support.cli import run_cli

    return _against_sandbox(sandbox, home, run_cli)


@pytest.fixture
def one_line_error():
    from tests.support.cli import assert_one_line_error

    return assert_one_line_error


def pytest_configure(config):
    """Give this process, and so every CLI a test starts, the default Ctrl-C. A runner started in the
    background by a non-interactive shell (`loop.sh &`) inherits SIGINT ignored, and so would the CLIs:
    the Ctrl-C tests then waited forever ("flaky under load", passing when run alone from a terminal)."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
