"""`cobrowse sessions`: list, get, update, open (end lives in sessions_end.py).

Each command parses its flags into an options object and calls a plain run_* function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._options import (
    ColumnsOpt,
    CsvOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    NdjsonOpt,
    QuietOpt,
    epilog,
)
from cobrowse_cli.commands._output import OutputFlags, make_writer, scope_hint
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

DEFAULT_LIMIT = 100
OPEN_STATES = ["pending", "authorizing", "active"]


def _complete_states(incomplete: str) -> list[str]:
    """Shell completion for --state; after a comma, completes the last item (`active,p` -> `active,pending`)."""
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + state for state in _parse.SESSION_STATES if state.startswith(last.lower())]


StateOpt = Annotated[
    Optional[list[str]],
    typer.Option("--state", "-s", help="pending, authorizing, active or ended (repeatable or comma-separated).",
                 autocompletion=_complete_states),
]
AgentOpt = Annotated[
    Optional[str],
    typer.Option("--agent", help="'me' (default: your own sessions), 'all' (needs an administrator token), or an agent's id or email (matched on the client; another agent's needs an administrator token)."),
]


@dataclass
class Query:
    """User text for a session selection; build() turns it into the client's SessionQuery."""

    filters: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    agent: str | None = None
    activated_after: str | None = None
    activated_before: str | None = None

    def build(self, *, default_states: list[str] | None = None, older_than: str | None = None,
              inactive_for: str | None = None):
        from cobrowse_cli.client.selection import SessionQuery

        def when(raw: str | None, option: str):
            return _parse.parse_time(raw, option=option) if raw else None

        def age(raw: str | None, option: str):
            return _parse.parse_duration(raw, option=option) if raw else None

        return SessionQuery(
            states=tuple(_parse.parse_states(self.states) or default_states or ()),
            filters=_parse.parse_filters(self.filters),
            agent=(self.agent or "").strip() or None,
            activated_after=when(self.activated_after, "--activated-after"),
            activated_before=when(self.activated_before, "--activated-before"),
            older_than=age(older_than, "--older-than"),
            inactive_for=age(inactive_for, "--inactive-for"),
        )


def print_notes(ctx: Context, selection) -> None:
    """What the server got wrong (items outside the selection) and an --agent that matched nobody."""
    for line in selection.notes(debug=ctx.globals.debug):
        ctx.warn(line)


# ---- list -------------------------------------------------------------------------------------


@dataclass
class ListOptions:
    query: Query
    limit: int | None = DEFAULT_LIMIT
    all: bool = False
    output: OutputFlags = field(default_factory=OutputFlags)
    unordered: bool = False  # with --all: concurrent time windows, rows in no particular order (issue 18)


def run_list(opts: ListOptions, ctx: Context) -> int:
    from cobrowse_cli.client.listing import newest_first, select_sessions
    from cobrowse_cli.commands._columns import SESSION_FIELDS, session_columns

    query = opts.query.build()
    if opts.all and opts.limit is not None:
        raise UsageError("--all and --limit cannot be used together")
    limit = None if opts.all else _parse.parse_limit(opts.limit)
    if opts.unordered and not opts.all:
        raise UsageError("--unordered needs --all (a limited list is the newest sessions, in order)")
    writer = make_writer(ctx, opts.output, session_columns(), known=SESSION_FIELDS)
    client = ctx.client()
    if writer.is_machine:  # streamed as pages arrive
        selection = select_sessions(client, query, limit=limit, unordered=opts.unordered)
        shown = writer.write_rows(selection)
    else:
        with writer.progress("Fetching sessions") as advance:  # a table needs every row: fetch, then draw
            selection = select_sessions(client, query, limit=limit, on_page=advance, unordered=opts.unordered)
            rows = newest_first(selection) if opts.unordered else list(selection)  # all in memory anyway
        shown = writer.write_rows(rows)
    print_notes(ctx, selection)
    if opts.query.agent is None:
        scope_hint(ctx, shown)
    return exitcodes.OK


# ---- get / update / open ------------------------------------------------------------------------


@dataclass
class GetOptions:
    id: str  # a session id or 6-digit code
    output: OutputFlags = field(default_factory=OutputFlags)


def run_get(opts: GetOptions, ctx: Context) -> int:
    from cobrowse_cli.commands._columns import SESSION_FIELDS, session_columns

    session_id = _parse.require_id(opts.id)  # bad input is a usage error before any auth or network
    writer = make_writer(ctx, opts.output, session_columns(), known=SESSION_FIELDS)
    writer.write_item(ctx.client().get_session(session_id))
    return exitcodes.OK


@dataclass
class UpdateOptions:
    id: str
    custom_data: list[str] = field(default_factory=list)
    remote_control: str | None = None
    full_device: str | None = None
    output: OutputFlags = field(default_factory=OutputFlags)


def run_update(opts: UpdateOptions, ctx: Context) -> int:
    from cobrowse_cli.commands._columns import SESSION_FIELDS, session_columns

    changes: dict = {}
    if opts.custom_data:
        changes["custom_data"] = _parse.parse_key_values(opts.custom_data, option="--custom-data")
    for name, value in (("remote_control", opts.remote_control), ("full_device", opts.full_device)):
        if value is not None:
            if value not in ("requested", "off"):
                raise UsageError(f"invalid --{name.replace('_', '-')} {value!r}: an agent may set 'requested' or 'off'")
            changes[name] = value
    if not changes:
        raise UsageError("nothing to update: give --custom-data, --remote-control or --full-device")
    session_id = _parse.require_id(opts.id)
    writer = make_writer(ctx, opts.output, session_columns(), known=SESSION_FIELDS)
    writer.write_item(ctx.client().update_session(session_id, changes))
    return exitcodes.OK


def agent_url(api: str, session_id: str, *, token: str | None = None, end_action: str | None = None) -> str:
    from urllib.parse import quote, urlencode

    params = {k: v for k, v in (("end_action", end_action), ("token", token)) if v}
    url = f"{api.rstrip('/')}/session/{quote(session_id, safe='')}"
    return f"{url}?{urlencode(params)}" if params else url


@dataclass
class OpenOptions:
    id: str
    web: bool = False
    with_token: bool = False
    end_action: str | None = None


def run_open(opts: OpenOptions, ctx: Context) -> int:
    session_id = _parse.require_id(opts.id)
    web, with_token, end_action = opts.web, opts.with_token, opts.end_action
    settings = ctx.connect()
    session = ctx.client().get_session(session_id)  # fails clearly on an unknown id
    if web:
        import webbrowser

        # The browser needs the token to sign the agent in; it goes to the browser, never to stdout.
        if not webbrowser.open(agent_url(settings.api, session["id"], token=settings.token(), end_action=end_action)):
            raise exitcodes.CLIError("could not open a browser here; print the URL instead (add --with-token to sign in)")
        ctx.stderr.write(f"Opened session {session['id']} in your browser.\n")
        return exitcodes.OK
    token = settings.token() if with_token else None
    ctx.stdout.write(agent_url(settings.api, session["id"], token=token, end_action=end_action) + "\n")
    return exitcodes.OK


# ---- registration -----------------------------------------------------------------------------


def register(root: typer.Typer) -> None:
    from cobrowse_cli.commands.sessions_end import register_end
    from cobrowse_cli.commands.watch import add_session_watch

    app = typer.Typer(help="List, inspect, update, end and watch sessions.", no_args_is_help=True,
                      epilog=epilog("cobrowse sessions list --agent all --state active", "cobrowse sessions end --agent all --state pending --older-than 20m --yes"))
    root.add_typer(app, name="sessions")

    @app.command("list", epilog=epilog("cobrowse sessions list --state active --filter user_id=42", "cobrowse sessions list --all --ndjson | jq -r .id"))
    def list_(
        ctx: typer.Context,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        activated_after: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        activated_before: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", "-L", help=f"At most N sessions (default {DEFAULT_LIMIT}; --all for every one).")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Page through every matching session.")] = False,
        unordered: Annotated[bool, typer.Option("--unordered", help="With --all: fetch pages concurrently over time windows (faster on a big account); rows come in no particular order.")] = False,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """List sessions, newest first."""
        opts = ListOptions(
            query=Query(filter or [], state or [], agent, activated_after, activated_before),
            limit=limit if (limit is not None or all_) else DEFAULT_LIMIT,
            all=all_,
            output=OutputFlags(json, fields, ndjson, csv, quiet, columns),
            unordered=unordered,
        )
        raise typer.Exit(run_list(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse sessions get 123456", "cobrowse sessions get SESSION_ID --json=state,agent"))
    def get(
        ctx: typer.Context,
        id_or_code: Annotated[str, typer.Argument(metavar="ID_OR_CODE", help="Session id or 6-digit code.")],
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Show one session, by id or 6-digit code."""
        raise typer.Exit(run_get(GetOptions(id_or_code, OutputFlags(json, fields, ndjson, csv, quiet, columns)), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse sessions update SESSION_ID --custom-data ticket=T-1 --custom-data old_key="))
    def update(
        ctx: typer.Context,
        id: Annotated[str, typer.Argument(metavar="ID", help="Session id.")],
        custom_data: Annotated[Optional[list[str]], typer.Option("--custom-data", "-d", metavar="KEY=VALUE",
                                                                help="Merge into custom_data; KEY= removes KEY.")] = None,
        remote_control: Annotated[Optional[str], typer.Option(help="requested or off.")] = None,
        full_device: Annotated[Optional[str], typer.Option(help="requested or off.")] = None,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Change a session's custom_data (merged), remote control or full-device request."""
        opts = UpdateOptions(id, custom_data or [], remote_control, full_device,
                             OutputFlags(json, fields, ndjson, csv, quiet, columns))
        raise typer.Exit(run_update(opts, get_context(ctx)))

    register_end(app)

    @app.command("open", epilog=epilog("cobrowse sessions open SESSION_ID --web"))
    def open_(
        ctx: typer.Context,
        id: Annotated[str, typer.Argument(metavar="ID", help="Session id or 6-digit code.")],
        web: Annotated[bool, typer.Option("--web", "-w", help="Open the agent view in a browser (with your token).")] = False,
        with_token: Annotated[bool, typer.Option("--with-token", help="Include your token in the printed URL (a secret!).")] = False,
        end_action: Annotated[Optional[str], typer.Option(help="dashboard, none or code.")] = None,
    ) -> None:
        """Print (or open with --web) the agent URL that joins a session."""
        if end_action is not None and end_action not in ("dashboard", "none", "code"):
            raise UsageError(f"invalid --end-action {end_action!r}: expected dashboard, none or code")
        raise typer.Exit(run_open(OpenOptions(id, web, with_token, end_action), get_context(ctx)))

    add_session_watch(app)
