"""Fixtures for config/auth tests: an isolated HOME/XDG/COBROWSE_CONFIG, a CLI runner, an RSA key.

Commands run as a subprocess of the installed CLI so the real start-up path, exit codes and streams are
tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
COBROWSE = VENV_BIN / "cobrowse"
@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


@dataclass
class Home:
    root: Path
    env: dict[str, str]

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
        return [str(COBROWSE), *args]

    def run_tty(self, *args: str, answers: list[str], timeout: float = 20) -> tuple[int, str]:
        """Run on a pseudo-terminal, answering each prompt (a line ending in ':') in turn."""
        import pty
        import select
        import time

        pid, fd = pty.fork()
        if pid == 0:  # the child: become the CLI
            os.execve(self.argv(*args)[0], self.argv(*args), self.env)
        pending, out = list(answers), b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not select.select([fd], [], [], 0.2)[0]:
                    continue
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if pending and out.rstrip().endswith(b":"):
                    # getpass flushes typed-ahead input when it turns echo off: let it get there first
                    time.sleep(0.3)
                    os.write(fd, pending.pop(0).encode() + b"\r")
        finally:
            if time.monotonic() >= deadline:
                os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n")

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 30) -> Result:
        argv = self.argv(*args)
        proc = subprocess.run(
            argv,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An environment with no trace of the real user's config, cache or COBROWSE_* variables."""
    root = tmp_path / "home"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COBROWSE_", "XDG_"))}
    env.update(
        HOME=str(root),
        XDG_CONFIG_HOME=str(root / ".config"),
        XDG_CACHE_HOME=str(root / ".cache"),
        COBROWSE_CONFIG=str(tmp_path / "cfg" / "config.toml"),
        NO_COLOR="1",
    )
    return Home(root, env)


@pytest.fixture
def isolated(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """The same isolation for in-process calls (config.resolve, the minter's cache dir)."""
    for key in list(os.environ):
        if key.startswith(("COBROWSE_", "XDG_")):
            monkeypatch.delenv(key)
    for key, value in home.env.items():
        if key in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "COBROWSE_CONFIG"):
            monkeypatch.setenv(key, value)
    return home


@dataclass
class RSAKey:
    path: Path
    public_pem: bytes


@pytest.fixture(scope="session")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> RSAKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "agent-key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return RSAKey(path, public)


@dataclass
class LocalSandbox:
    url: str
    state_dir: Path
    license: str
    private_key: Path

    def token(self, **kw) -> str:
        from cobrowse_cli.sandbox.auth import load_keys, mint_token

        return mint_token(load_keys(self.state_dir), **kw)


@pytest.fixture(scope="module")
def local_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A small real sandbox (uvicorn in a thread, loopback, ephemeral port) with its keys in a state dir,
    so tests can mint with --private-key and have the server accept the tokens."""
    import threading
    import time

    import uvicorn

    from cobrowse_cli.sandbox.app import SandboxOptions, build_app
    from cobrowse_cli.sandbox.auth import LICENSE_FILE, PRIVATE_KEY_FILE
    from cobrowse_cli.sandbox.seed import SeedParams
    from cobrowse_cli.sandbox.server import bind, url_for

    state_dir = tmp_path_factory.mktemp("sandbox-state")
    app = build_app(SandboxOptions(seed=SeedParams(sessions=5, active=1, devices=1), state_dir=str(state_dir)))
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    yield LocalSandbox(
        url=url_for(sock, "127.0.0.1"),
        state_dir=state_dir,
        license=(state_dir / LICENSE_FILE).read_text().strip(),
        private_key=state_dir / PRIVATE_KEY_FILE,
    )
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def cli(isolated: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """The CLI run in-process (same app.run entry point, no interpreter start-up): for the many small
    checks where a subprocess per call would only burn the shared CPU. End-to-end tests use `home.run`."""
    import io

    from cobrowse_cli import app

    def run(*args: str, input: str = "", env: dict[str, str] | None = None) -> Result:
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            m.setattr("sys.stdin", io.StringIO(input))
            capsys.readouterr()
            code = app.run(list(args))
            captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
