"""One sandbox launcher, and a stdlib-only way to talk to a sandbox.

- `start_sandbox(state_dir, *serve_flags) -> Sandbox`: `python -m cobrowse_cli sandbox serve --port 0`
  as a real process, like a user's (SMALL_SEED unless the flags seed otherwise).
- `ThreadedServer(asgi_app)`: any ASGI app (the sandbox's, or a test's own Starlette routes around the
  sandbox's pieces) under uvicorn in a daemon thread, on an ephemeral loopback port.

Control calls use stdlib urllib, never our client, so client bugs cannot hide sandbox bugs (or vice versa).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

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
        from cobrowse_cli.sandbox.auth import mint_token

        if self._keys is None:
            self._keys = signing_keys(self.state_dir)
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


@functools.lru_cache(maxsize=64)
def signing_keys(state_dir: Path):
    """The sandbox's keys with the private key parsed once: PyJWT signs with a key object as it does with
    PEM bytes, and parsing (with cryptography's RSA key check) is ~80 ms of CPU a token, signing ~1.5 ms."""
    import dataclasses

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from cobrowse_cli.sandbox.auth import load_keys

    keys = load_keys(state_dir)
    return dataclasses.replace(keys, private_pem=load_pem_private_key(keys.private_pem, None))


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


class ThreadedServer:
    """uvicorn serving `app` in a daemon thread on 127.0.0.1:<ephemeral>; a context manager."""

    def __init__(self, app, *, lifespan: str = "on", start_timeout: float = 10):
        import uvicorn

        from cobrowse_cli.sandbox.server import bind, url_for

        self.sock = bind("127.0.0.1", 0)
        self.url = url_for(self.sock, "127.0.0.1")
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.start_timeout = start_timeout

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "in-process server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)
