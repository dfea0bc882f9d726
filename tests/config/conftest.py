"""Fixtures for config/auth tests: an isolated HOME/XDG/COBROWSE_CONFIG, a CLI runner, an RSA key.

Commands run as a subprocess of the installed CLI so the real start-up path, exit codes and streams are
tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import COBROWSE, Result, run_cli, run_in_process
from tests.support.pty import run_on_pty
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
        screen = run_on_pty(self.argv(*args), self.env, answers=[(":", a) for a in answers], timeout=timeout)
        return screen.code, screen.out

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 30) -> Result:
        return run_cli({**self.env, **(env or {})}, *args, input=input or "", timeout=timeout)


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
    from cobrowse_cli.sandbox.app import SandboxOptions, build_app
    from cobrowse_cli.sandbox.auth import LICENSE_FILE, PRIVATE_KEY_FILE
    from cobrowse_cli.sandbox.seed import SeedParams
    from tests.support.sandbox import ThreadedServer

    state_dir = tmp_path_factory.mktemp("sandbox-state")
    app = build_app(SandboxOptions(seed=SeedParams(sessions=5, active=1, devices=1), state_dir=str(state_dir)))
    with ThreadedServer(app) as server:
        yield LocalSandbox(
            url=server.url,
            state_dir=state_dir,
            license=(state_dir / LICENSE_FILE).read_text().strip(),
            private_key=state_dir / PRIVATE_KEY_FILE,
        )


@pytest.fixture
def cli(isolated: Home):
    """The CLI run in-process (same app.run entry point, no interpreter start-up): for the many small
    checks where a subprocess per call would only burn the shared CPU. End-to-end tests use `home.run`."""

    def run(*args: str, input: str = "", env: dict[str, str] | None = None) -> Result:
        return run_in_process({**os.environ, **(env or {})}, *args, input=input)

    return run
