"""`cobrowse sessions`: list, get, update, end, open.

Each command parses its flags into an options object and calls a plain run_* function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._common import (
    ColumnsOpt,
    CsvOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    NdjsonOpt,
    OutputFlags,
    QuietOpt,
    epilog,
    get_env,
    make_writer,
)
from cobrowse_cli.commands._context import Env
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


def print_notes(env: Env, selection) -> None:
    """What the server got wrong (items outside the selection) and an --agent that matched nobody."""
    for line in selection.notes(debug=env.globals.debug):
        env.stderr.write(f"cobrowse: warning: {line}\n")
    env.stderr.flush()


# ---- list -------------------------------------------------------------------------------------


@dataclass
class ListOptions:
    query: Query
    limit: int | None = DEFAULT_LIMIT
    all: bool = False
    output: OutputFlags = field(default_factory=OutputFlags)


def run_list(opts: ListOptions, env: Env) -> int:
    from cobrowse_cli.client.listing import select_sessions
    from cobrowse_cli.commands._columns import session_columns

    query = opts.query.build()
    if opts.all and opts.limit is not None:
        raise UsageError("--all and --limit cannot be used together")
    limit = None if opts.all else _parse.parse_limit(opts.limit)
    writer = make_writer(env, opts.output, session_columns())
    client = env.client()
    if writer.is_machine:  # streamed as pages arrive
        selection = select_sessions(client, query, limit=limit)
        writer.write_rows(selection)
    else:
        with writer.progress("Fetching sessions") as advance:  # a table needs every row: fetch, then draw
            selection = select_sessions(client, query, limit=limit, on_page=advance)
            rows = list(selection)
        writer.write_rows(rows)
    print_notes(env, selection)
    return exitcodes.OK


# ---- get / update / open ------------------------------------------------------------------------


def run_get(id_or_code: str, output: OutputFlags, env: Env) -> int:
    from cobrowse_cli.commands._columns import session_columns

    session_id = _parse.require_id(id_or_code)  # bad input is a usage error before any auth or network
    writer = make_writer(env, output, session_columns())
    writer.write_item(env.client().get_session(session_id))
    return exitcodes.OK


@dataclass
class UpdateOptions:
    id: str
    custom_data: list[str] = field(default_factory=list)
    remote_control: str | None = None
    full_device: str | None = None
    output: OutputFlags = field(default_factory=OutputFlags)


def run_update(opts: UpdateOptions, env: Env) -> int:
    from cobrowse_cli.commands._columns import session_columns

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
    writer = make_writer(env, opts.output, session_columns())
    writer.write_item(env.client().update_session(session_id, changes))
    return exitcodes.OK


def agent_url(api: str, session_id: str, *, token: str | None = None, end_action: str | None = None) -> str:
    from urllib.parse import quote, urlencode

    params = {k: v for k, v in (("end_action", end_action), ("token", token)) if v}
    url = f"{api.rstrip('/')}/session/{quote(session_id, safe='')}"
    return f"{url}?{urlencode(params)}" if params else url


def run_open(session_id: str, *, web: bool, with_token: bool, end_action: str | None, env: Env) -> int:
    session_id = _parse.require_id(session_id)
    settings = env.settings()
    session = env.client().get_session(session_id)  # fails clearly on an unknown id
    if web:
        import webbrowser

        # The browser needs the token to sign the agent in; it goes to the browser, never to stdout.
        if not webbrowser.open(agent_url(settings.api, session["id"], token=settings.token(), end_action=end_action)):
            raise exitcodes.CLIError("could not open a browser here; print the URL instead (add --with-token to sign in)")
        env.stderr.write(f"Opened session {session['id']} in your browser.\n")
        return exitcodes.OK
    token = settings.token() if with_token else None
    env.stdout.write(agent_url(settings.api, session["id"], token=token, end_action=end_action) + "\n")
    return exitcodes.OK




# ---- end --------------------------------------------------------------------------------------


@dataclass
class EndOptions:
    ids: list[str] = field(default_factory=list)
    from_stdin: bool = False
    query: Query = field(default_factory=Query)
    older_than: str | None = None
    inactive_for: str | None = None
    dry_run: bool = False
    yes: bool = False
    concurrency: int = 10
    output: OutputFlags = field(default_factory=OutputFlags)

    @property
    def by_query(self) -> bool:
        q = self.query
        return bool(q.filters or q.states or q.agent or q.activated_after or q.activated_before
                    or self.older_than or self.inactive_for)


def _select_by_query(opts: EndOptions, env: Env, now: datetime):
    """Sessions matching the whole selection, each verified on the client (client/listing.py)."""
    from cobrowse_cli.client.listing import select_sessions

    query = opts.query.build(default_states=OPEN_STATES, older_than=opts.older_than, inactive_for=opts.inactive_for)
    if "ended" in query.states:
        raise UsageError("--state ended selects sessions that are already ended; nothing to do")
    if query.inactive_for and "active" in query.states and env.stderr.isatty():
        env.stderr.write("cobrowse: caution: --inactive-for reads `updated` (property changes), not presence: "
                         "an active conversation can look inactive\n")
    selection = select_sessions(env.client(), query, now=now)
    yield from selection
    print_notes(env, selection)


def _read_ids(env: Env) -> list[str]:
    ids = []
    for line in env.stdin:
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(_parse.require_id(line))
    return ids


PREVIEW = 10


def _confirm(env: Env, count: int, preview: list[str]) -> None:
    if count == 0:
        return
    if not (env.stdin.isatty() and env.stderr.isatty()):
        raise UsageError(f"refusing to end {count} session(s) without confirmation: not a terminal; pass --yes")
    # Show what is about to be ended: the person confirming must see it is the right set.
    more = f"\n  … and {count - len(preview)} more (--dry-run lists them all)" if count > len(preview) else ""
    env.stderr.write("".join(f"  {line}\n" for line in preview) + (more.lstrip("\n") + "\n" if more else ""))
    answer = typer.prompt(f"End {count} session(s)? [y/N]", default="n", show_default=False, err=True)
    if answer.strip().lower() not in ("y", "yes"):
        raise exitcodes.CLIError("aborted: nothing was ended", exitcodes.INTERRUPTED)


def _describe(session: dict) -> str:
    custom = " ".join(f"{k}={v}" for k, v in (session.get("custom_data") or {}).items())
    agent = (session.get("agent") or {}).get("name") or "-"
    import shutil

    width = shutil.get_terminal_size().columns - 4
    return f"{session['id']}  {session.get('state', '?')}  {agent}  {custom}"[:width]


def run_end(opts: EndOptions, env: Env) -> int:
    import time

    from cobrowse_cli.client.bulk import DONE, WOULD_END, Outcome, end_sessions
    from cobrowse_cli.commands._columns import outcome_columns

    if opts.concurrency < 1 or opts.concurrency > 64:
        raise UsageError(f"invalid --concurrency {opts.concurrency}: must be between 1 and 64")
    ids = [_parse.require_id(i) for i in opts.ids]
    if opts.from_stdin:
        if not opts.yes and not opts.dry_run:
            raise UsageError("--stdin needs --yes (or --dry-run): stdin carries ids, so there is no way to confirm")
        ids += _read_ids(env)
    if ids and opts.by_query:
        raise UsageError("give either session ids or a selection (--filter/--state/--older-than/...), not both")
    if not ids and not opts.by_query:
        raise UsageError("nothing selected: give session ids, --stdin, or a selection such as --filter or --older-than")

    writer = make_writer(env, opts.output, outcome_columns())
    now = datetime.now(timezone.utc)
    preview: list[str] = []
    if opts.by_query:
        ids = []
        for session in _select_by_query(opts, env, now):
            ids.append(session["id"])
            if len(preview) < PREVIEW:
                preview.append(_describe(session))
    ids = list(dict.fromkeys(ids))  # an id given twice is ended (and reported) once
    preview = preview or ids[:PREVIEW]

    if opts.dry_run:
        writer.write_rows(Outcome(i, WOULD_END).as_row() for i in ids)
        writer.info(f"dry run: would end {len(ids)} session(s); nothing was changed")
        return exitcodes.OK
    if not opts.yes:
        _confirm(env, len(ids), preview)

    counts: dict[str, int] = {}
    started = time.monotonic()

    def rows():
        for outcome in end_sessions(env.client(), ids, concurrency=opts.concurrency):
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
            yield outcome.as_row()

    writer.write_rows(rows())
    failed = sum(n for k, n in counts.items() if k not in DONE)
    summary = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(counts.items())) or "nothing to do"
    writer.info(f"{summary} (of {len(ids)}) in {time.monotonic() - started:.1f}s")
    return exitcodes.PARTIAL if failed else exitcodes.OK


# ---- registration -----------------------------------------------------------------------------

EPILOG = exitcodes.EPILOG


def register(root: typer.Typer) -> None:
    from cobrowse_cli.commands.watch import add_session_watch

    app = typer.Typer(help="List, inspect, update, end and watch sessions.", no_args_is_help=True,
                      epilog=epilog("cobrowse sessions list --agent all --state active", "cobrowse sessions end --agent all --state pending --older-than 20m --yes"))
    root.add_typer(app, name="sessions")

    @app.command("list", epilog="Examples:\n\n  cobrowse sessions list --state active --filter user_id=42\n\n"
                 "  cobrowse sessions list --all --ndjson | jq -r .id\n\n" + EPILOG)
    def list_(
        ctx: typer.Context,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        activated_after: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        activated_before: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", "-L", help=f"At most N sessions [default: {DEFAULT_LIMIT}].")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Page through every matching session.")] = False,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """List sessions, newest first."""
        opts = ListOptions(
            query=Query(filter or [], state or [], agent, activated_after, activated_before),
            limit=limit if (limit is not None or all_) else DEFAULT_LIMIT,
            all=all_,
            output=OutputFlags(json, fields, ndjson, csv, quiet, columns),
        )
        raise typer.Exit(run_list(opts, get_env(ctx)))

    @app.command(epilog="Examples:\n\n  cobrowse sessions get 123456\n\n  cobrowse sessions get SESSION_ID --json=state,agent\n\n" + EPILOG)
    def get(
        ctx: typer.Context,
        id_or_code: Annotated[str, typer.Argument(metavar="ID_OR_CODE", help="Session id or 6-digit code.")],
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Show one session, by id or 6-digit code."""
        raise typer.Exit(run_get(id_or_code, OutputFlags(json, fields, ndjson, csv, quiet, columns), get_env(ctx)))

    @app.command(epilog="Examples:\n\n  cobrowse sessions update SESSION_ID --custom-data ticket=T-1 --custom-data old_key=\n\n" + EPILOG)
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
        raise typer.Exit(run_update(opts, get_env(ctx)))

    @app.command(epilog="Examples:\n\n  cobrowse sessions end SESSION_ID --yes\n\n"
                 "  cobrowse sessions end --agent all --state active --older-than 4h --yes --ndjson\n\n"
                 "  cobrowse sessions list --filter user_id=42 -q | cobrowse sessions end --stdin --yes\n\n" + EPILOG)
    def end(
        ctx: typer.Context,
        ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Session ids to end.")] = None,
        stdin: Annotated[bool, typer.Option("--stdin", help="Read session ids from stdin, one per line.")] = False,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        older_than: Annotated[Optional[str], typer.Option(help="Only sessions whose `created` is longer ago than this (e.g. 4h): age, not activity.")] = None,
        inactive_for: Annotated[Optional[str], typer.Option(help="Only sessions whose `updated` (the last change to the session's properties, not proof nobody is there) is longer ago than this (e.g. 30m).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be ended; change nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        concurrency: Annotated[int, typer.Option(help="Sessions ended in parallel (1-64).")] = 10,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """End sessions by id, from stdin, or by query; one outcome line per session, summary on stderr.

        Selecting by query, only open sessions (pending, authorizing, active) are considered unless --state says otherwise. Exit code 5 when any session could not be ended.
        """
        opts = EndOptions(
            ids=ids or [], from_stdin=stdin,
            query=Query(filter or [], state or [], agent),
            older_than=older_than, inactive_for=inactive_for, dry_run=dry_run, yes=yes, concurrency=concurrency,
            output=OutputFlags(json, fields, ndjson, csv, quiet, columns),
        )
        raise typer.Exit(run_end(opts, get_env(ctx)))

    @app.command("open", epilog="Examples:\n\n  cobrowse sessions open SESSION_ID --web\n\n" + EPILOG)
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
        raise typer.Exit(run_open(id, web=web, with_token=with_token, end_action=end_action, env=get_env(ctx)))

    add_session_watch(app)
