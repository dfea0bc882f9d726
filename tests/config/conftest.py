"""Fixtures for config/auth tests: an isolated HOME/XDG/COBROWSE_CONFIG, an RSA key, a local sandbox.

`home.run` runs the CLI in-process, isolated like a process (tests/support/cli.py); `home.run_tty` runs
the installed CLI on a pseudo-terminal where prompts are the point.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import Home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An environment with no trace of the real user's config, cache or COBROWSE_*/XDG_* variables; the
    config file lives outside HOME, in a directory that does not exist yet."""
    return Home.make(tmp_path / "home", config=tmp_path / "cfg" / "config.toml")


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
        from cobrowse_cli.sandbox.auth import mint_token
        from tests.support.sandbox import signing_keys

        return mint_token(signing_keys(self.state_dir), **kw)


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
