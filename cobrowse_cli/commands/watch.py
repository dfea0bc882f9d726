"""`cobrowse sessions watch` and `cobrowse devices watch`: live changes, one line (or NDJSON object) each.

sessions.register / devices.register call add_session_watch / add_device_watch. The work happens in
run_watch(opts, ctx); the watch package (socket libraries included) loads only when a watch runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

import typer

from cobrowse_cli import durations, exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._options import FieldsOpt, FilterOpt, NdjsonOpt, epilog
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

WATCH_PANEL = "Watch"
MIN_INTERVAL = 0.2  # seconds; below this a poll is a load test, not a watch
_LIVE_ONLY = ("online", "last_seen")  # device fields only the socket's presence events carry


@dataclass
class WatchOptions:
    kind: str  # "session" | "device"
    ids: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)  # sessions
    agent: str | None = None  # sessions
    seen_after: str | None = None  # devices
    until: list[str] = field(default_factory=list)
    count: int | None = None
    timeout: str | None = None
    transport: str = "auto"
    interval: str = "2s"
    ndjson: bool = False
    fields: str | None = None
    socket_settings: Any = None  # watch.socket.SocketSettings; tests shorten keepalive/backoff bounds


def parse_interval(raw: str) -> float:
    return durations.parse_seconds(raw, option="--interval", bare_seconds=True, minimum=MIN_INTERVAL)


def build_query(opts: WatchOptions):
    """The client's SessionQuery / DeviceQuery: listed with it and socket events re-matched with it."""
    if opts.kind == "session":
        from cobrowse_cli.commands.sessions import OPEN_STATES, Query

        # Open sessions by default: a session that ends is reported (`ended`) and then leaves the watch.
        return Query(opts.filters, opts.states, opts.agent).build(default_states=OPEN_STATES)
    from cobrowse_cli.commands.devices import device_query

    return device_query(opts.filters, opts.seen_after, None)


def run_watch(opts: WatchOptions, ctx: Context) -> int:
    from cobrowse_cli.output.events import EventWriter
    from cobrowse_cli.output.options import parse_path_list
    from cobrowse_cli.watch import run
    from cobrowse_cli.watch.conditions import Conditions, parse_until
    from cobrowse_cli.watch.source import Source

    if opts.ids and (opts.filters or opts.states or opts.agent or opts.seen_after):
        raise UsageError("give either ids or a selection (--filter/--state/--agent/--seen-after), not both")
    if opts.transport not in ("auto", "socket", "poll"):
        raise UsageError(f"invalid --transport {opts.transport!r}: expected auto, socket or poll")
    until = parse_until(opts.until)
    if opts.transport == "poll" and any(u.path.split(".")[0] in _LIVE_ONLY for u in until):
        raise UsageError("--until online=… needs the socket transport: REST does not report presence")
    conditions = Conditions(
        until=until,
        count=opts.count,
        timeout=durations.parse_seconds(opts.timeout, option="--timeout", bare_seconds=True) if opts.timeout else None,
    )
    interval = parse_interval(opts.interval)
    fields = parse_path_list(opts.fields, option="--fields") if opts.fields is not None else None
    jq = None
    if ctx.globals.jq is not None:  # implies --ndjson; compiled before any request
        from cobrowse_cli.output.jq import compile_program

        jq = compile_program(ctx.globals.jq)
    if fields is not None and not (opts.ndjson or jq is not None):
        raise UsageError("--fields needs --ndjson")
    query = None if opts.ids else build_query(opts)

    client = ctx.client()
    source = Source(opts.kind, client, query)
    if opts.ids:
        source.ids = _resolve_ids(source, opts.ids)
    writer = EventWriter(ctx.stdout, ndjson=opts.ndjson, fields=fields, jq=jq)

    return run(source, conditions, writer.write, ctx.note, transport=opts.transport, interval=interval,
               socket_settings=opts.socket_settings)


def _resolve_ids(source, ids: list[str]) -> list[str]:
    """Real ids (a session may be given by its 6-digit code); an unknown id fails now, with exit 4."""
    resolved = []
    for raw in ids:
        value = _parse.require_id(raw, kind=source.kind)
        resource = source.get(value)
        if resource is None:
            raise exitcodes.NotFound(f"no {source.kind} {value!r}")
        if resource["id"] not in resolved:
            resolved.append(resource["id"])
    return resolved


# ---- registration -----------------------------------------------------------------------------

UntilOpt = Annotated[
    Optional[list[str]],
    typer.Option("--until", metavar="FIELD=VALUE", rich_help_panel=WATCH_PANEL,
                 help="Stop (exit 0) once a resource has FIELD=VALUE, e.g. state=ended, online=true, custom_data.plan=pro. Repeat: all must hold."),
]
CountOpt = Annotated[
    Optional[int], typer.Option("--count", "-n", rich_help_panel=WATCH_PANEL, help="Stop (exit 0) after N changes (the first listing does not count).")
]
TimeoutOpt = Annotated[
    Optional[str], typer.Option("--timeout", rich_help_panel=WATCH_PANEL, help=f"Give up after this long (30s, 5m; a bare number is seconds): exit {exitcodes.WATCH_TIMEOUT}.")
]
TransportOpt = Annotated[
    str, typer.Option("--transport", rich_help_panel=WATCH_PANEL, help="auto (socket, else poll), socket or poll.")
]
IntervalOpt = Annotated[
    str, typer.Option("--interval", rich_help_panel=WATCH_PANEL, help="How often to re-list (poll: every change; socket: new resources), e.g. 2s; at least 0.2s.")
]

_EPILOG_TAIL = (
    "Output: first the current resources (added), then one line per change: time, resource, event "
    "(added, updated, ended, removed, presence) and old → new per changed field. --ndjson prints "
    '{"type", "at", "resource", "changed": [{"field", "old", "new"}]} per line.\n\n'
    f"Exit: 0 when --until/--count is met, {exitcodes.WATCH_TIMEOUT} on --timeout, 1 if the server is lost for good, 130 on Ctrl-C."
)


def add_session_watch(app: typer.Typer) -> None:
    from cobrowse_cli.commands.sessions import AgentOpt, StateOpt

    def watch(
        ctx: typer.Context,
        ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Session ids or codes to follow.")] = None,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        until: UntilOpt = None,
        count: CountOpt = None,
        timeout: TimeoutOpt = None,
        transport: TransportOpt = "auto",
        interval: IntervalOpt = "2s",
        ndjson: NdjsonOpt = False,
        fields: FieldsOpt = None,
    ) -> None:
        """Follow sessions live: the current ones, then every change (open sessions unless --state says otherwise)."""
        opts = WatchOptions("session", ids or [], filter or [], state or [], agent, None, until or [], count,
                            timeout, transport, interval, ndjson, fields)
        raise typer.Exit(run_watch(opts, get_context(ctx)))

    # Imported here (not at module level) so sessions.py may import this module at its top without a
    # cycle; postponed annotations are resolved in module globals, so hand Typer the objects directly.
    watch.__annotations__.update(state=StateOpt, agent=AgentOpt)
    app.command(
        "watch",
        epilog=epilog("cobrowse sessions watch --state pending --agent all",
                      "cobrowse sessions watch SESSION_ID --until state=ended --timeout 30m",
                      "cobrowse sessions watch --filter user_id=42 --ndjson | jq .changed",
                      notes=_EPILOG_TAIL, exit_codes=False),
    )(watch)


def add_device_watch(app: typer.Typer) -> None:
    @app.command(
        "watch",
        epilog=epilog("cobrowse devices watch --filter user_id=42",
                      "cobrowse devices watch DEVICE_ID --until online=true --timeout 10m",
                      notes=_EPILOG_TAIL, exit_codes=False),
    )
    def watch(
        ctx: typer.Context,
        ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Device ids to follow.")] = None,
        filter: FilterOpt = None,
        seen_after: Annotated[Optional[str], typer.Option(help="Only devices seen after this (ISO-8601 or 30m, 2h).")] = None,
        until: UntilOpt = None,
        count: CountOpt = None,
        timeout: TimeoutOpt = None,
        transport: TransportOpt = "auto",
        interval: IntervalOpt = "2s",
        ndjson: NdjsonOpt = False,
        fields: FieldsOpt = None,
    ) -> None:
        """Follow devices live: the current ones, then every change, including online/offline (socket)."""
        opts = WatchOptions("device", ids or [], filter or [], [], None, seen_after, until or [], count,
                            timeout, transport, interval, ndjson, fields)
        raise typer.Exit(run_watch(opts, get_context(ctx)))
