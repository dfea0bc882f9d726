"""`cobrowse count-active`: how many sessions are active right now, and for whom.

Exact at any size: the client pages past the API's 1,000-item pages and drops the duplicates
that appear where pages share a boundary timestamp.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._common import FilterOpt, JsonOpt, get_env
from cobrowse_cli.commands._context import Env
from cobrowse_cli.exitcodes import UsageError

NONE_KEY = "(none)"


@dataclass
class CountOptions:
    filters: list[str] = field(default_factory=list)
    agent: str = "all"
    by: str | None = None
    watch: float | None = None
    max: int | None = None
    json: bool = False


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
        raise UsageError(f"invalid --by {opts.by!r}: expected 'agent' or 'custom_data.KEY'")
    if opts.watch is not None and opts.watch <= 0:
        raise UsageError("invalid --watch: the refresh interval must be greater than zero seconds")
    if opts.max is not None and opts.max < 0:
        raise UsageError("invalid --max: must be zero or more")
    return SessionQuery(states=("active",), filters=_parse.parse_filters(opts.filters), agent=opts.agent.strip() or None)


def count(client, query, by: str | None, on_page=None, on_note=None, debug: bool = False) -> tuple[int, Counter]:
    """Sessions matching `query` (a SessionQuery), each verified on the client; `on_note(line)` hears what
    the server got wrong (sessions outside the selection, an --agent that matched nobody)."""
    from cobrowse_cli.client.listing import select_sessions

    total, groups, names = 0, Counter(), {}
    selection = select_sessions(client, query, on_page=on_page)
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


def _render(env: Env, opts: CountOptions, total: int, groups: Counter) -> None:
    if opts.json:
        from cobrowse_cli.output.machine import dumps

        body: dict = {"active": total}
        if opts.by:
            body["by"] = dict(groups.most_common())
        env.stdout.write(dumps(body) + "\n")
    elif opts.by:
        _render_breakdown(env, opts.by, total, groups)
    else:
        env.stdout.write(f"{total}\n")
    env.stdout.flush()


def _render_breakdown(env: Env, by: str, total: int, groups: Counter) -> None:
    from cobrowse_cli.output import Column, OutputOptions, Writer

    rows = [{"key": k, "active": n} for k, n in groups.most_common()]
    columns = [Column("key", by.upper()), Column("active", "ACTIVE", kind="number")]
    Writer(OutputOptions(no_color=env.globals.no_color), stdout=env.stdout, stderr=env.stderr,
           columns=columns, id_key="key").write_rows(rows)
    if env.stdout.isatty():
        env.stdout.write(f"{total} active in total\n")


def run(opts: CountOptions, env: Env) -> int:
    query = _validate(opts)
    client = env.client()
    if opts.watch:
        return _watch(opts, env, client, query)
    total, groups = count(client, query, opts.by, on_note=lambda line: _note(env, line), debug=env.globals.debug)
    _render(env, opts, total, groups)
    return _threshold(opts, env, total)


def _note(env: Env, line: str) -> None:
    env.stderr.write(f"cobrowse: warning: {line}\n")
    env.stderr.flush()


def _threshold(opts: CountOptions, env: Env, total: int) -> int:
    if opts.max is not None and total > opts.max:
        env.stderr.write(f"cobrowse: {total} active sessions is above --max {opts.max}\n")
        return exitcodes.THRESHOLD
    return exitcodes.OK


def _watch(opts: CountOptions, env: Env, client, query: dict) -> int:
    """Refresh in place on a TTY (rich Live); one timestamped line per refresh otherwise. Ends with Ctrl-C."""
    import time
    from datetime import datetime, timezone

    from cobrowse_cli.output.machine import dumps

    live = None
    if env.stdout.isatty() and not opts.json:
        from rich.console import Console
        from rich.live import Live

        live = Live(console=Console(file=env.stdout, no_color=env.globals.no_color), auto_refresh=False)
        live.start()
    try:
        while True:
            total, groups = count(client, query, opts.by)
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if live is not None:
                live.update(_live_view(opts, total, groups), refresh=True)
            elif opts.json:
                body: dict = {"at": stamp, "active": total}
                if opts.by:
                    body["by"] = dict(groups.most_common())
                env.stdout.write(dumps(body) + "\n")
            else:
                env.stdout.write(f"{stamp}\t{total}\n")
            env.stdout.flush()
            _threshold(opts, env, total)  # a notice on stderr each time the queue is over --max
            time.sleep(opts.watch)
    finally:
        if live is not None:
            live.stop()


def _live_view(opts: CountOptions, total: int, groups: Counter):
    from datetime import datetime

    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header = Text(f"{total} active sessions · {datetime.now().strftime('%H:%M:%S')} · Ctrl-C to stop", style="bold")
    if not opts.by:
        return header
    table = Table()
    table.add_column(opts.by.upper())
    table.add_column("ACTIVE", justify="right")
    for key, n in groups.most_common(30):
        table.add_row(key, str(n))
    return Group(header, table)


def register(root: typer.Typer) -> None:
    @root.command(
        "count-active",
        epilog="Examples:\n\n  cobrowse count-active\n\n  cobrowse count-active --by agent\n\n"
        "  cobrowse count-active --filter plan=enterprise --max 500 || page-oncall\n\n" + exitcodes.EPILOG,
    )
    def count_active(
        ctx: typer.Context,
        filter: FilterOpt = None,
        agent: Annotated[str, typer.Option(help="'all' (default; needs an administrator token), 'me', or an agent's id or email (matched on the client).")] = "all",
        by: Annotated[Optional[str], typer.Option(help="Breakdown: 'agent' or 'custom_data.KEY'.")] = None,
        watch: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="Refresh every SECONDS until Ctrl-C.")] = None,
        max_: Annotated[Optional[int], typer.Option("--max", help="Exit 6 when the count is above N (still prints it).")] = None,
        json: JsonOpt = False,
    ) -> None:
        """Count the sessions active right now (exact, at any size)."""
        opts = CountOptions(filter or [], agent, by, watch, max_, json)
        raise typer.Exit(run(opts, get_env(ctx)))
