"""`cobrowse sessions end`: end sessions by id, from stdin, or by query; one outcome per session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._options import ColumnsOpt, CsvOpt, FieldsOpt, FilterOpt, JsonOpt, NdjsonOpt, QuietOpt
from cobrowse_cli.commands._output import OutputFlags, make_writer
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.commands.sessions import (
    OPEN_STATES,
    AgentOpt,
    Query,
    StateOpt,
    print_notes,
)
from cobrowse_cli.exitcodes import UsageError

EPILOG = exitcodes.EPILOG


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
    report: str | None = None
    summary_json: bool = False
    wait_lock: str | None = None
    no_lock: bool = False
    recheck: bool = True
    max_end: int | None = None
    metrics_textfile: str | None = None
    output: OutputFlags = field(default_factory=OutputFlags)

    @property
    def by_query(self) -> bool:
        q = self.query
        return bool(q.filters or q.states or q.agent or q.activated_after or q.activated_before
                    or self.older_than or self.inactive_for)


def session_query(opts: EndOptions):
    """The user's selection as the client's query model (states default to the open ones)."""
    query = opts.query.build(default_states=OPEN_STATES, older_than=opts.older_than, inactive_for=opts.inactive_for)
    if "ended" in query.states:
        raise UsageError("--state ended selects sessions that are already ended; nothing to do")
    return query


class ServerClock:
    """Now, by the server's clock (its `Date` header) when ours is off by more than a few seconds: an age
    condition must not end sessions early because this machine's clock runs ahead."""

    TOLERANCE_S = 5.0

    def __init__(self) -> None:
        self.offset_s = 0.0

    def observe(self, response) -> None:
        from email.utils import parsedate_to_datetime

        try:
            server = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError, IndexError):
            return
        offset = (server - datetime.now(timezone.utc)).total_seconds()
        self.offset_s = offset if abs(offset) > self.TOLERANCE_S else 0.0

    def now(self) -> datetime:
        from datetime import timedelta

        return datetime.now(timezone.utc) + timedelta(seconds=self.offset_s)


def _select_by_query(query, ctx: Context, clock: ServerClock):
    """Sessions the server returned that pass the query on the client (client/listing.py: role before
    reach, named agents matched here); the others are counted on one stderr line, never ended."""
    from cobrowse_cli.client.listing import newest_first, select_sessions

    if query.inactive_for and "active" in query.states and ctx.stderr.isatty():
        ctx.note("caution: --inactive-for reads `updated` (property changes), not presence: "
                 "an active conversation can look inactive")
    client = ctx.client()
    client.on_response(clock.observe)
    if query.older_than or query.inactive_for:
        client.me()  # one cheap request first, so ages are measured against the server's clock
    selection = select_sessions(client, query, now=clock.now(), unordered=True)
    yield from newest_first(selection)
    print_notes(ctx, selection)


def _read_ids(ctx: Context) -> list[str]:
    ids = []
    for line in ctx.stdin:
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(_parse.require_id(line))
    return ids


PREVIEW = 10


def _confirm(ctx: Context, count: int, preview: list[str]) -> None:
    # Show what is about to be ended: the person confirming must see it is the right set.
    from cobrowse_cli.commands.sessions_end_run import confirm_run

    confirm_run(ctx, count, preview, action=f"end {count} session(s)",
                question=f"End {count} session(s)?")  # "n" raises Declined: exit 10, nothing ended


def _describe(session: dict) -> str:
    custom = " ".join(f"{k}={v}" for k, v in (session.get("custom_data") or {}).items())
    agent = (session.get("agent") or {}).get("name") or "-"
    import shutil

    width = shutil.get_terminal_size().columns - 4
    return f"{session['id']}  {session.get('state', '?')}  {agent}  {custom}"[:width]


def run_end(opts: EndOptions, ctx: Context) -> int:
    from cobrowse_cli.client.bulk import SESSIONS, WOULD_END, Outcome, SessionEnder
    from cobrowse_cli.commands import sessions_end_run as runner
    from cobrowse_cli.commands._columns import outcome_columns

    if opts.concurrency < 1 or opts.concurrency > 64:
        raise UsageError(f"invalid --concurrency {opts.concurrency}: must be between 1 and 64")
    if opts.max_end is not None and opts.max_end < 0:
        raise UsageError(f"invalid --max-end {opts.max_end}: must be 0 or more")
    wait_s = runner.wait_seconds(opts.wait_lock, opts.no_lock)
    ids = [_parse.require_id(i) for i in opts.ids]
    if opts.from_stdin:
        if not opts.yes and not opts.dry_run:
            raise UsageError("--stdin needs --yes (or --dry-run): stdin carries ids, so there is no way to confirm")
        ids += _read_ids(ctx)
    if ids and opts.by_query:
        raise UsageError("give either session ids or a selection (--filter/--state/--older-than/...), not both")
    if not ids and not opts.by_query:
        raise UsageError("nothing selected: give session ids, --stdin, or a selection such as --filter or --older-than")
    query = session_query(opts) if opts.by_query else None

    writer = make_writer(ctx, opts.output, outcome_columns())
    if not opts.dry_run or query is not None:
        ctx.client().check_transport()  # a usage error before the lock, the report or any outcome
    metrics = _metrics_target(opts)
    clock = ServerClock()

    def select() -> tuple[list[str], list[str]]:
        selected, preview = ids, []
        if query is not None:
            selected = []
            for session in _select_by_query(query, ctx, clock):
                selected.append(session["id"])
                if len(preview) < PREVIEW:
                    preview.append(_describe(session))
        selected = list(dict.fromkeys(selected))  # an id given twice is ended (and reported) once
        return selected, preview or selected[:PREVIEW]

    recheck = None
    if query is not None and opts.recheck and _has_conditions(opts, query):
        recheck = lambda session: query.mismatch(session, now=clock.now()) is None  # noqa: E731
    spec = runner.BulkCommand("sessions end", SESSIONS, "session", "--max-end", WOULD_END, Outcome, _confirm)
    began = runner.utc_now()
    tally: dict = {}
    try:
        return runner.perform(spec, opts, ctx, writer, select=select, max_n=opts.max_end, wait_s=wait_s,
                              worker=lambda started: SessionEnder(ctx.client(), started=started, recheck=recheck),
                              on_summary=lambda counts, code, seconds: tally.update(
                                  counts=dict(counts), code=code, seconds=seconds))
    finally:
        if metrics is not None:  # whatever stopped the run: a run that never finished is not a success
            from cobrowse_cli.commands.end_metrics import write_end_metrics

            write_end_metrics(metrics, tally.get("counts", {}), success=tally.get("code") == exitcodes.OK,
                              duration_s=tally.get("seconds", (runner.utc_now() - began).total_seconds()))


def _metrics_target(opts: EndOptions) -> str | None:
    """--metrics-textfile's path, checked before anything is ended (its directory must be writable)."""
    if not opts.metrics_textfile or opts.dry_run:
        return None
    import os

    folder = os.path.dirname(os.path.abspath(opts.metrics_textfile))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write --metrics-textfile {opts.metrics_textfile!r}: {folder} is not a writable directory")
    return opts.metrics_textfile


def _has_conditions(opts: EndOptions, query) -> bool:
    """Whether the user asked for more than "open sessions": then each is re-read before its PUT."""
    return bool(opts.query.states or query.filters or query.named_agent or query.activated_after
                or query.activated_before or query.older_than or query.inactive_for)


HELP = """End sessions by id, from stdin, or by query; one outcome per session, summary on stderr.

Selecting by query, only open sessions (pending, authorizing, active) are considered unless --state
says otherwise, and every session the server returns is checked on the client: one outside the
selection is never ended. With a condition (--state, --filter, --agent, an age or time bound) each
session is re-read just before it is ended and left alone (`changed`) if it no longer matches.

Outcomes: ended, already_ended (done, not by this run), changed, not_found, failed, unknown (sent, no
answer came), skipped (never attempted; `reason` says why). Each carries `at` (UTC).

Whatever stops a run (SIGINT, SIGTERM, SIGHUP, an expired token, a closed or full stdout, a dead API), it
sends nothing more, waits up to 5 s for the ends in flight, reports every selected id and prints the
summary: exit 130 / 143 / 129 / 3 / 8 / 5. Outcomes stdout could not take go to stderr.
One run at a time per profile and API (a lock in the user state dir; POSIX): a second exits 9.
"""


def register_end(app: typer.Typer) -> None:
    @app.command(help=HELP, epilog="Examples:\n\n  cobrowse sessions end SESSION_ID --yes\n\n"
                 "  cobrowse sessions end --agent all --state active --older-than 4h --yes --ndjson --report ~/end.ndjson\n\n"
                 "  cobrowse sessions list --filter user_id=42 -q | cobrowse sessions end --stdin --yes\n\n" + EPILOG)
    def end(
        ctx: typer.Context,
        ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Session ids to end.")] = None,
        stdin: Annotated[bool, typer.Option("--stdin", help="Read session ids from stdin, one per line.")] = False,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        older_than: Annotated[Optional[str], typer.Option(help="Only sessions created longer ago than this (e.g. 2h).")] = None,
        inactive_for: Annotated[Optional[str], typer.Option(help="Only sessions whose `updated` (property changes, not presence) is older than this (e.g. 30m).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be ended; change nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        concurrency: Annotated[int, typer.Option(help="Sessions ended in parallel (1-64).")] = 10,
        report: Annotated[Optional[str], typer.Option("--report", metavar="FILE", help="Append every outcome (NDJSON) and the run's summary to FILE, whatever happens to stdout.")] = None,
        summary_json: Annotated[bool, typer.Option("--summary-json", help="End stdout with a {\"type\":\"summary\",...} object (with --ndjson).")] = False,
        wait_lock: Annotated[Optional[str], typer.Option("--wait-lock", metavar="DURATION", help="Wait up to DURATION (e.g. 5m, 90s, 30) for another run's lock instead of exiting 9.")] = None,
        no_lock: Annotated[bool, typer.Option("--no-lock", help="Do not take the per-profile run lock.")] = False,
        no_recheck: Annotated[bool, typer.Option("--no-recheck", help="Do not re-read each session before ending it (faster; a session that changed since the listing is ended anyway).")] = False,
        max_end: Annotated[Optional[int], typer.Option("--max-end", metavar="N", help="End nothing (exit 5) when the selection holds more than N sessions.")] = None,
        metrics_textfile: Annotated[Optional[str], typer.Option("--metrics-textfile", metavar="PATH", help="Write this run's time, outcome counts and success as Prometheus textfile metrics (node_exporter) to PATH, atomically.")] = None,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        opts = EndOptions(
            ids=ids or [], from_stdin=stdin,
            query=Query(filter or [], state or [], agent),
            older_than=older_than, inactive_for=inactive_for, dry_run=dry_run, yes=yes, concurrency=concurrency,
            report=report, summary_json=summary_json, wait_lock=wait_lock, no_lock=no_lock,
            recheck=not no_recheck, max_end=max_end, metrics_textfile=metrics_textfile,
            output=OutputFlags(json, fields, ndjson, csv, quiet, columns),
        )
        raise typer.Exit(run_end(opts, get_context(ctx)))
