"""`cobrowse count-active`: how many sessions are active right now, and for whom.

Exact at any size: the client pages past the API's 1,000-item pages and drops the duplicates
that appear where pages share a boundary timestamp.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import durations, exitcodes
from cobrowse_cli.choices import unknown
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._options import FilterOpt, PlainJsonOpt, epilog
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

NONE_KEY = "(none)"
BY_KEYS = ("agent", "custom_data.KEY")
MIN_REFRESH = 1.0  # seconds: a count pages through every active session; faster is a load test


@dataclass
class CountOptions:
    filters: list[str] = field(default_factory=list)
    agent: str = "all"
    by: str | None = None
    watch: str | None = None  # a refresh interval in the duration grammar (durations.py)
    max: int | None = None
    json: bool = False
    warning: str | None = None  # monitoring-plugin mode (count_plugin.py)
    critical: str | None = None


def group_key(session: dict, by: str) -> str:
    if by == "agent":
        agent = session.get("agent") or {}
        return str(agent.get("id") or NONE_KEY)  # grouped by id: two agents may share a display name
    value = session.get("custom_data") or {}
    for part in by.split(".")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return NONE_KEY if value is None else str(value)


def _validate(opts: CountOptions):
    from cobrowse_cli.client.selection import SessionQuery

    if opts.by is not None and opts.by != "agent" and not (opts.by.startswith("custom_data.") and len(opts.by) > 12):
        raise unknown("--by key", opts.by, BY_KEYS)
    if opts.watch is not None:
        durations.parse_seconds(opts.watch, option="--watch", bare_seconds=True, minimum=MIN_REFRESH)
    if opts.max is not None and opts.max < 0:
        raise UsageError("invalid --max: must be zero or more")
    return SessionQuery(states=("active",), filters=_parse.parse_filters(opts.filters), agent=opts.agent.strip() or None)


def count(client, query, by: str | None, on_page=None, on_note=None, debug: bool = False) -> tuple[int, Counter]:
    """Sessions matching `query` (a SessionQuery), each verified on the client; `on_note(line)` hears what
    the server got wrong (sessions outside the selection, an --agent that matched nobody)."""
    from cobrowse_cli.client.listing import select_sessions

    total, groups, names = 0, Counter(), {}
    selection = select_sessions(client, query, on_page=on_page, unordered=True)
    for session in selection:
        total += 1
        if by:
            key = group_key(session, by)
            groups[key] += 1
            if by == "agent":
                names[key] = (session.get("agent") or {}).get("name")
    for line in selection.notes(debug=debug) if on_note else ():
        on_note(line)
    return total, _label_agents(groups, names) if by == "agent" else groups


def _label_agents(groups: Counter, names: dict) -> Counter:
    """Agent ids -> display names; a name two agents share gets the id added, so counts never merge."""
    taken = Counter(name for name in names.values() if name)
    labelled = Counter()
    for agent_id, n in groups.items():
        name = names.get(agent_id)
        if not name:
            labelled[agent_id] += n
        elif taken[name] == 1:
            labelled[name] += n
        else:
            labelled[f"{name} ({agent_id})"] += n
    return labelled


def _render(ctx: Context, opts: CountOptions, total: int, groups: Counter, jq=None) -> None:
    if opts.json or jq is not None:
        from cobrowse_cli.output.machine import dumps

        body: dict = {"active": total}
        if opts.by:
            body["by"] = dict(groups.most_common())
        if jq is not None:
            from cobrowse_cli.output.jq import write_results

            write_results(jq, body, ctx.stdout)
        else:
            ctx.stdout.write(dumps(body) + "\n")
    elif opts.by:
        _render_breakdown(ctx, opts.by, total, groups)
    else:
        ctx.stdout.write(f"{total}\n")
    ctx.stdout.flush()


def _render_breakdown(ctx: Context, by: str, total: int, groups: Counter) -> None:
    from cobrowse_cli.output import Column, OutputOptions, Writer

    rows = [{"key": k, "active": n} for k, n in groups.most_common()]
    columns = [Column("key", by.upper()), Column("active", "ACTIVE", kind="number")]
    Writer(OutputOptions(no_color=ctx.globals.no_color), stdout=ctx.stdout, stderr=ctx.stderr,
           columns=columns, id_key="key").write_rows(rows)
    if ctx.stdout.isatty():
        ctx.stdout.write(f"{total} active in total\n")


def run(opts: CountOptions, ctx: Context) -> int:
    if opts.warning is not None or opts.critical is not None:
        from cobrowse_cli.commands import count_plugin

        return count_plugin.run(opts, ctx)
    query = _validate(opts)
    jq = None
    if ctx.globals.jq is not None:
        if opts.watch is not None:
            raise UsageError("--jq does not apply to --watch (pipe its --json lines to jq)")
        from cobrowse_cli.output.jq import compile_program

        jq = compile_program(ctx.globals.jq)
    client = ctx.client()
    if opts.watch is not None:
        return _watch(opts, ctx, client, query)
    total, groups = count(client, query, opts.by, on_note=lambda line: _note(ctx, line), debug=ctx.globals.debug)
    _render(ctx, opts, total, groups, jq)
    return _threshold(opts, ctx, total)


def _note(ctx: Context, line: str) -> None:
    ctx.warn(line)


def _threshold(opts: CountOptions, ctx: Context, total: int) -> int:
    if opts.max is not None and total > opts.max:
        ctx.note(f"{total} active sessions is above --max {opts.max}")
        return exitcodes.THRESHOLD
    return exitcodes.OK


def _watch(opts: CountOptions, ctx: Context, client, query: dict) -> int:
    """Refresh in place on a TTY (rich Live); one timestamped line per refresh otherwise. Ends with Ctrl-C."""
    import time
    from datetime import datetime, timezone

    from cobrowse_cli.output.machine import dumps

    interval = durations.parse_seconds(opts.watch, option="--watch", bare_seconds=True, minimum=MIN_REFRESH)
    live = None
    if ctx.stdout.isatty() and not opts.json:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=ctx.stdout, no_color=ctx.globals.no_color, markup=False, emoji=False, highlight=False)
        live = Live(console=console, auto_refresh=False)
        live.start()
    try:
        while True:
            total, groups = count(client, query, opts.by)
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if live is not None:
                live.update(_live_view(opts, total, groups), refresh=True)
            else:
                ctx.stdout.write(_tick_lines(opts, stamp, total, groups, dumps))
            ctx.stdout.flush()
            _threshold(opts, ctx, total)  # a notice on stderr each time the queue is over --max
            time.sleep(interval)
    finally:
        if live is not None:
            live.stop()


def _tick_lines(opts: CountOptions, stamp: str, total: int, groups: Counter, dumps) -> str:
    """Piped output of one tick: `time<TAB>n`, or one `time<TAB>key<TAB>n` row per key with --by
    (with --json one NDJSON object per tick, its breakdown under "by"), so `| awk` sees the breakdown too."""
    from cobrowse_cli.output.cells import tsv_escape

    if opts.json:
        body: dict = {"at": stamp, "active": total}
        if opts.by:
            body["by"] = dict(groups.most_common())
        return dumps(body) + "\n"
    if not opts.by:
        return f"{stamp}\t{total}\n"
    return "".join(f"{stamp}\t{tsv_escape(k)}\t{n}\n" for k, n in groups.most_common())


def _live_view(opts: CountOptions, total: int, groups: Counter):
    from datetime import datetime

    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header = Text(f"{total} active sessions · {datetime.now().strftime('%H:%M:%S')} · Ctrl-C to stop", style="bold")
    if not opts.by:
        return header
    from cobrowse_cli.output.safety import terminal_safe

    table = Table()
    table.add_column(Text(terminal_safe(opts.by.upper())))
    table.add_column("ACTIVE", justify="right")
    for key, n in groups.most_common(30):
        table.add_row(Text(terminal_safe(str(key))), str(n))  # customer data: never markup, never raw
    return Group(header, table)


def _complete_by(incomplete: str) -> list[str]:
    return [key for key in ("agent", "custom_data.") if key.startswith(incomplete)]


PLUGIN_PANEL = "Monitoring plugin (Nagios/Icinga)"
PLUGIN_HELP = ("WARNING when the total is outside RANGE (10, 10:, ~:10, 10:20, @10:20). With --warning/--critical: "
               "one status line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (every failure).")


def register(root: typer.Typer) -> None:
    @root.command(
        "count-active",
        epilog=epilog("cobrowse count-active", "cobrowse count-active --by agent", "cobrowse count-active --filter plan=enterprise --max 500 || page-oncall", "cobrowse count-active --warning 800 --critical 1000 --by agent"),
    )
    def count_active(
        ctx: typer.Context,
        filter: FilterOpt = None,
        agent: Annotated[str, typer.Option(help="'all' (default; needs an administrator token), 'me', or an agent's id or email (matched on the client).")] = "all",
        by: Annotated[Optional[str], typer.Option(help="Breakdown: 'agent' or 'custom_data.KEY'.", autocompletion=_complete_by)] = None,
        watch: Annotated[Optional[str], typer.Option(metavar="INTERVAL", help="Refresh every INTERVAL (5, 30s, 1m; at least 1s) until Ctrl-C.")] = None,
        max_: Annotated[Optional[int], typer.Option("--max", help="Exit 6 when the count is above N (still prints it).")] = None,
        json: PlainJsonOpt = False,
        warning: Annotated[Optional[str], typer.Option("--warning", "-w", metavar="RANGE", rich_help_panel=PLUGIN_PANEL, help=PLUGIN_HELP)] = None,
        critical: Annotated[Optional[str], typer.Option("--critical", "-c", metavar="RANGE", rich_help_panel=PLUGIN_PANEL, help="CRITICAL when the total is outside RANGE.")] = None,
    ) -> None:
        """Count the sessions active right now (exact, at any size)."""
        opts = CountOptions(filter or [], agent, by, watch, max_, json, warning, critical)
        raise typer.Exit(run(opts, get_context(ctx)))
