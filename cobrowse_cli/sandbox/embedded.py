"""An in-process sandbox for the CLI's global `--sandbox` flag: uvicorn in a thread on an ephemeral port."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterable

from cobrowse_cli.sandbox.server import bind, url_for

START_TIMEOUT_S = 10.0


@dataclass
class EmbeddedSandbox:
    url: str
    token: str  # administrator token (sub admin@sandbox.test)
    _server: object
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> "EmbeddedSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_embedded(
    sessions: int = 4000, active: int = 1500, devices: int = 50, seed: int = 1, variants: Iterable[str] = ()
) -> EmbeddedSandbox:
    """Start a seeded sandbox; returns once it accepts connections.

    `variants`: server variant names (see variants.py), e.g. ["page-cap=50", "ignore-state"];
    an unknown one raises variants.UnknownVariant (a ValueError) before anything starts.
    """
    import uvicorn

    from cobrowse_cli.sandbox.app import SandboxOptions, build_app
    from cobrowse_cli.sandbox.auth import load_or_create_keys, mint_token
    from cobrowse_cli.sandbox.seed import SeedParams
    from cobrowse_cli.sandbox.variants import parse_variants

    chosen = parse_variants(variants)
    keys = load_or_create_keys(None)
    seed_params = SeedParams(sessions=sessions, active=active, devices=devices, seed=seed)
    app = build_app(SandboxOptions(seed=seed_params, keys=keys, variants=chosen))
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="cobrowse-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("embedded sandbox failed to start")
        time.sleep(0.005)
    token = mint_token(keys, sub="admin@sandbox.test", role="administrator", ttl=3600, name="Avery Admin")
    return EmbeddedSandbox(url=url_for(sock, "127.0.0.1"), token=token, _server=server, _thread=thread)
