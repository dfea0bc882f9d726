"""`cobrowse sandbox serve|token`: run the local Cobrowse API sandbox and mint tokens for it.

The sandbox package (starlette, uvicorn, ...) is imported inside the commands only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._context import Context, get_context

MAX_TTL = 86_400


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8030
    state_dir: str | None = None
    sessions: int = 500
    active: int = 40
    devices: int = 30
    seed: int = 1
    busy: bool = False
    inactivity_timeout: float = 300.0
    pending_timeout: float = 900.0
    authorizing_timeout: float = 300.0
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit: float = 0.0
    drop_rate: float = 0.0
    drop_when: str = "before"
    fault_seed: int = 0
    allow_remote: bool = False
    log_level: str = "warning"
    variant: list[str] = field(default_factory=list)


@dataclass
class TokenOptions:
    state_dir: str | None = None
    role: str | None = None
    sub: str = "agent@sandbox.test"
    name: str | None = None
    ttl: int = 3600
    expired: bool = False


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Run a local Cobrowse API sandbox (no account needed).", no_args_is_help=True,
                      epilog=epilog("cobrowse sandbox serve --state-dir ./sb", "cobrowse sandbox token --state-dir ./sb --role administrator"))
    root.add_typer(app, name="sandbox")

    @app.command(epilog=epilog("cobrowse sandbox serve", "cobrowse sandbox serve --port 0 --state-dir ./sb --busy", "cobrowse sandbox serve --sessions 100000 --active 6000 --latency 50 --error-rate 0.1", "cobrowse sandbox serve --variant page-cap=50,ignore-state"))
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="Interface to bind (loopback unless --allow-remote).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 8030,
        state_dir: Annotated[
            Optional[str], typer.Option("--state-dir", help="Keep the key pair and license here (reused next run).")
        ] = None,
        sessions: Annotated[int, typer.Option(help="Seeded sessions (a realistic mix of states).", min=0)] = 500,
        active: Annotated[int, typer.Option(help="How many seeded sessions are active now.", min=0)] = 40,
        devices: Annotated[int, typer.Option(help="Seeded devices.", min=0)] = 30,
        seed: Annotated[int, typer.Option(help="Seed for a deterministic data set.")] = 1,
        busy: Annotated[bool, typer.Option("--busy", help="A busy account: 6,000 active sessions.")] = False,
        inactivity_timeout: Annotated[
            float, typer.Option(help="Seconds before an active session with no device connected ends.", min=0.01)
        ] = 300.0,
        pending_timeout: Annotated[float, typer.Option(help="Seconds before an unjoined session ends.", min=0.01)] = 900.0,
        authorizing_timeout: Annotated[
            float, typer.Option(help="Seconds a session may wait for user consent.", min=0.01)
        ] = 300.0,
        latency: Annotated[float, typer.Option(help="Fault: added latency per API request, ms.", min=0)] = 0.0,
        error_rate: Annotated[float, typer.Option(help="Fault: share of API requests answered 5xx.", min=0, max=1)] = 0.0,
        error_status: Annotated[int, typer.Option(help="Fault: the 5xx status to inject (500, 502, 503).")] = 503,
        rate_limit: Annotated[float, typer.Option(help="Fault: answer 429 past this many requests/s (0 = off).", min=0)] = 0.0,
        drop_rate: Annotated[float, typer.Option(help="Fault: share of API connections dropped.", min=0, max=1)] = 0.0,
        drop_when: Annotated[
            str, typer.Option(help="Fault: drop 'before' processing or 'after' (side effect applied).")
        ] = "before",
        fault_seed: Annotated[int, typer.Option(help="Seed for the fault dice.")] = 0,
        allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow a non-loopback --host.")] = False,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
        variant: Annotated[
            Optional[list[str]],
            typer.Option(
                "--variant",
                metavar="NAME[,NAME...]",
                help="Play a server behaviour the real API may have (repeatable): page-cap=N, page-cap-bounded=N, "
                "inclusive-cursor, after-inclusive, order=created, ignore-agent, ignore-filters, ignore-state, "
                "no-ended-reason, agent-scope, non-admin-own, end-ended-404. GET /_sandbox/variants describes each.",
            ),
        ] = None,
    ) -> None:
        """Serve the sandbox until Ctrl-C. First line of output: `Sandbox listening on <url>`."""
        opts = ServeOptions(host, port, state_dir, sessions, active, devices, seed, busy, inactivity_timeout,
                            pending_timeout, authorizing_timeout, latency, error_rate, error_status, rate_limit,
                            drop_rate, drop_when, fault_seed, allow_remote, log_level, variant or [])
        raise typer.Exit(run_serve(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse sandbox token --state-dir ./sb", "cobrowse sandbox token --state-dir ./sb --role administrator --ttl 600", "cobrowse sandbox token --state-dir ./sb --expired"))
    def token(
        ctx: typer.Context,
        state_dir: Annotated[
            Optional[str],
            typer.Option("--state-dir", envvar="COBROWSE_SANDBOX_STATE_DIR", help="The state dir the sandbox serves from."),
        ] = None,
        role: Annotated[Optional[str], typer.Option(help="Role claim, e.g. administrator.")] = None,
        sub: Annotated[str, typer.Option(help="Agent id (the sub claim).")] = "agent@sandbox.test",
        name: Annotated[Optional[str], typer.Option(help="Display name claim.")] = None,
        ttl: Annotated[int, typer.Option(help="Lifetime in seconds (at most 86400).", min=1)] = 3600,
        expired: Annotated[bool, typer.Option("--expired", help="Mint a token that expired an hour ago.")] = False,
    ) -> None:
        """Print a token that a sandbox serving --state-dir accepts."""
        raise typer.Exit(run_token(TokenOptions(state_dir, role, sub, name, ttl, expired), get_context(ctx)))


def run_serve(opts: ServeOptions, ctx: Context) -> int:
    from cobrowse_cli.sandbox.errors import ApiError
    from cobrowse_cli.sandbox.faults import FaultConfig
    from cobrowse_cli.sandbox.seed import SeedParams
    from cobrowse_cli.sandbox.server import ServeOptions as ServerOptions, is_loopback, serve
    from cobrowse_cli.sandbox.store import Timeouts
    from cobrowse_cli.sandbox.variants import UnknownVariant, parse_variants

    try:
        variants = parse_variants(opts.variant)
    except UnknownVariant as e:
        raise exitcodes.UsageError(str(e)) from None
    if not is_loopback(opts.host) and not opts.allow_remote:
        raise exitcodes.UsageError(f"refusing to serve on non-loopback host {opts.host!r} without --allow-remote")
    faults = FaultConfig(
        latency_ms=opts.latency, error_rate=opts.error_rate, error_status=opts.error_status,
        rate_limit=opts.rate_limit, drop_rate=opts.drop_rate, drop_when=opts.drop_when, seed=opts.fault_seed,
    )
    try:
        faults.validate()
    except ApiError as e:
        raise exitcodes.UsageError(e.message) from None
    server = ServerOptions(
        host=opts.host,
        port=opts.port,
        state_dir=opts.state_dir,
        allow_remote=opts.allow_remote,
        seed=SeedParams(sessions=opts.sessions, active=opts.active, devices=opts.devices, seed=opts.seed, busy=opts.busy),
        timeouts=Timeouts(pending=opts.pending_timeout, authorizing=opts.authorizing_timeout,
                          inactivity=opts.inactivity_timeout),
        faults=faults,
        log_level=opts.log_level,
        variants=variants,
    )
    try:
        serve(server)
    except OSError as e:
        raise exitcodes.CLIError(f"cannot serve on {opts.host}:{opts.port}: {e.strerror or e}") from None
    return exitcodes.OK


def run_token(opts: TokenOptions, ctx: Context) -> int:
    if not opts.state_dir:
        raise exitcodes.UsageError(
            "--state-dir is required: tokens are signed with the key the sandbox keeps there "
            "(start it with 'cobrowse sandbox serve --state-dir DIR')"
        )
    if opts.ttl > MAX_TTL:
        raise exitcodes.UsageError(f"--ttl must be at most {MAX_TTL} seconds (Cobrowse rejects longer-lived tokens)")
    from cobrowse_cli.sandbox.auth import load_or_create_keys, mint_token

    keys = load_or_create_keys(opts.state_dir)
    ctx.stdout.write(mint_token(keys, sub=opts.sub, role=opts.role, ttl=opts.ttl, name=opts.name, expired=opts.expired) + "\n")
    return exitcodes.OK
