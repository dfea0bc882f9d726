"""`cobrowse sandbox serve`: build the app, bind loopback, print how to use it, run uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
from dataclasses import dataclass, field
from typing import TextIO

from cobrowse_cli.sandbox.auth import load_or_create_keys, mint_token
from cobrowse_cli.sandbox.faults import FaultConfig
from cobrowse_cli.sandbox.seed import SeedParams
from cobrowse_cli.sandbox.store import Timeouts
from cobrowse_cli.sandbox.variants import Variants

BANNER_TOKEN_TTL = 86_400  # the longest a Cobrowse JWT may live


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8030
    state_dir: str | None = None
    allow_remote: bool = False
    seed: SeedParams = field(default_factory=SeedParams)
    timeouts: Timeouts = field(default_factory=Timeouts)
    faults: FaultConfig = field(default_factory=FaultConfig)
    log_level: str = "warning"
    variants: Variants = field(default_factory=Variants)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP; without it every kept-alive response waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections queue from here on, so printing the URL before uvicorn runs is safe
    sock.set_inheritable(True)
    return sock


def url_for(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(opts: ServeOptions, out: TextIO = sys.stdout) -> int:
    import uvicorn

    from cobrowse_cli.sandbox.app import SandboxOptions, build_app

    keys = load_or_create_keys(opts.state_dir)
    app = build_app(
        SandboxOptions(
            seed=opts.seed, timeouts=opts.timeouts, faults=opts.faults, state_dir=opts.state_dir, keys=keys,
            variants=opts.variants,
        )
    )
    sock = bind(opts.host, opts.port)
    url = url_for(sock, opts.host)
    token = mint_token(keys, sub="admin@sandbox.test", role="administrator", ttl=BANNER_TOKEN_TTL, name="Avery Admin")
    p = app.starlette.state.seed_params
    lines = [
        f"Sandbox listening on {url}",
        f"Seeded {p.sessions} sessions ({p.active} active), {p.devices} devices, seed {p.seed}.",
    ]
    if opts.variants.names():
        lines.append(f"Server variants: {', '.join(opts.variants.names())}")
    lines += [
        "Point the CLI at it (admin token, valid 24 h):",
        f"  export COBROWSE_API={url} COBROWSE_TOKEN={token}",
    ]
    if opts.state_dir:
        lines.append(f"More tokens: cobrowse sandbox token --state-dir {opts.state_dir} [--role administrator]")
    lines.append(f"Control surface: {url}/_sandbox/  (stats, faults, reset, ...). Ctrl-C stops.")
    out.write("\n".join(lines) + "\n")
    out.flush()
    config = uvicorn.Config(
        app, log_level=opts.log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0
