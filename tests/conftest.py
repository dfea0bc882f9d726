"""Shared fixtures: a real sandbox server in a subprocess, reset to known data before each test.

- `sandbox_server` (session scope): `python -m cobrowse_cli sandbox serve --port 0 --state-dir <tmp> ...`
  started as a real process, like a user's; stopped at the end of the run.
- `sandbox` (function scope): the same server reset to SMALL_SEED (200 sessions, 20 active, 10 devices,
  seed 1), no faults, no churn, serve-time timeouts. Returns a `Sandbox` (see its docstring).
- `sandbox_factory` (function scope): `sandbox_factory(*serve_flags) -> Sandbox` starts a separate server
  with custom flags (e.g. "--inactivity-timeout", "1"); stopped after the test.

Control calls use stdlib urllib, never our client, so client bugs cannot hide sandbox bugs (or vice versa).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SMALL_SEED = {"sessions": 200, "active": 20, "devices": 10, "seed": 1}
START_TIMEOUT_S = 30.0
DEFAULT_SUB = "agent@sandbox.test"
ADMIN_SUB = "admin@sandbox.test"


class ControlError(Exception):
    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Response:
    status: int
    headers: dict  # names lower-cased
    body: object  # parsed JSON, or the raw text when the body is not JSON

    @property
    def json(self):
        return self.body


@dataclass
class Sandbox:
    """A running sandbox.

    `.url`                      base URL, e.g. http://127.0.0.1:40123
    `.state_dir`                its --state-dir (holds the key pair and license)
    `.token(sub=..., role=None, ttl=3600, **claims)`  a JWT it accepts (ttl < 0: already expired)
    `.admin_token()`            role administrator, sub admin@sandbox.test
    `.control(method, path, json=None)`  call /_sandbox/... (or any path); parsed JSON; ControlError on >= 400
    `.api(method, path, token=..., json=None, body=None, headers=None)`  raw call -> Response(status, headers, body)
    `.reset(**seed_params)`     re-seed (defaults to SMALL_SEED); clears faults, churn, counters
    `.faults(**kw)`             set faults (latency_ms, error_rate, error_status, rate_limit, drop_rate, drop_when, seed)
    `.stats()`                  request and end counters (GET /_sandbox/stats)
    """

    url: str
    state_dir: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    output: list[str] = field(default_factory=list, repr=False)
    _keys: object = field(default=None, repr=False)

    def token(self, sub: str = DEFAULT_SUB, role: str | None = None, ttl: int = 3600, **claims) -> str:
        from cobrowse_cli.sandbox.auth import load_keys, mint_token

        if self._keys is None:
            self._keys = load_keys(self.state_dir)
        return mint_token(self._keys, sub=sub, role=role, ttl=ttl, **claims)

    def admin_token(self) -> str:
        return self.token(sub=ADMIN_SUB, role="administrator")

    def api(self, method: str, path: str, token: str | None = "default", json=None, body: bytes | None = None,
            headers: dict | None = None, timeout: float = 10) -> Response:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token == "default":
            token = self.token()
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = body if body is not None else (None if json is None else _dumps(json))
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return Response(res.status, _lower(res.headers), _loads(res.read()))
        except urllib.error.HTTPError as e:
            return Response(e.code, _lower(e.headers), _loads(e.read()))

    def control(self, method: str, path: str, json=None):
        res = self.api(method, path, token=None, json=json, timeout=60)
        if res.status >= 400:
            raise ControlError(res.status, res.body)
        return res.body

    def reset(self, **seed_params):
        return self.control("POST", "/_sandbox/reset", {**SMALL_SEED, **seed_params})

    def faults(self, **kw):
        return self.control("POST", "/_sandbox/faults", kw)

    def stats(self):
        return self.control("GET", "/_sandbox/stats")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _lower(headers) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def _dumps(data) -> bytes:
    return json.dumps(data).encode()


def _loads(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def start_sandbox(state_dir: Path, *flags: str) -> Sandbox:
    """Start `cobrowse sandbox serve` in a subprocess and wait for its `Sandbox listening on URL` line."""
    state_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "cobrowse_cli", "sandbox", "serve", "--port", "0", "--state-dir", str(state_dir)]
    if "--sessions" not in flags:
        args += ["--sessions", str(SMALL_SEED["sessions"]), "--active", str(SMALL_SEED["active"]),
                 "--devices", str(SMALL_SEED["devices"]), "--seed", str(SMALL_SEED["seed"])]
    stderr = open(state_dir / "stderr.log", "wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*args, *flags], stdout=subprocess.PIPE, stderr=stderr, env=env, text=True)
    stderr.close()
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # keep draining stdout so the server can never block on a full pipe
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or not lines or not lines[0].startswith("Sandbox listening on "):
        proc.kill()
        err = (state_dir / "stderr.log").read_text(errors="replace")
        raise RuntimeError(f"sandbox did not start: stdout={lines!r} stderr={err[-2000:]}")
    return Sandbox(url=lines[0].split("Sandbox listening on ", 1)[1].strip(), state_dir=state_dir, process=proc, output=lines)


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
    """An empty HOME for one test (config, token cache and XDG dirs live inside it)."""
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def cli(sandbox, home):
    """`cli(*args, token=admin, input="", env=None) -> Result`: the installed CLI against the shared
    sandbox, as a user or a cron job runs it (stdin is never a TTY here)."""
    from tests.helpers import isolated_env, run_cli

    admin = sandbox.admin_token()

    def run(*args: str, token: str | None = admin, input: str = "", env: dict | None = None,
            timeout: float = 120):
        environ = isolated_env(home, COBROWSE_API=sandbox.url)
        if token:
            environ["COBROWSE_TOKEN"] = token
        environ.update(env or {})
        return run_cli(environ, *args, input=input, timeout=timeout)

    return run


@pytest.fixture
def one_line_error():
    from tests.helpers import assert_one_line_error

    return assert_one_line_error
