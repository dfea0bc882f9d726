"""`cobrowse sessions end`: end sessions by id, from stdin, or by query; one outcome per session."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from cobrowse_cli import durations, exitcodes
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
    from cobrowse_cli.client.bulk import WOULD_END, BulkEnd, Outcome, SessionEnder
    from cobrowse_cli.commands import sessions_end_run as runner
    from cobrowse_cli.commands._columns import outcome_columns

    if opts.concurrency < 1 or opts.concurrency > 64:
        raise UsageError(f"invalid --concurrency {opts.concurrency}: must be between 1 and 64")
    if opts.max_end is not None and opts.max_end < 0:
        raise UsageError(f"invalid --max-end {opts.max_end}: must be 0 or more")
    if opts.wait_lock and opts.no_lock:
        raise UsageError("--wait-lock and --no-lock cannot be used together")
    wait_s = durations.parse_seconds(opts.wait_lock, option="--wait-lock", bare_seconds=True) if opts.wait_lock else 0.0
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
    report = runner.ReportFile(opts.report) if opts.report and not opts.dry_run else None
    started = runner.utc_now()
    tally: dict = {}
    try:
        with runner.Signals(ctx.stderr) as signals, _run_lock(opts, ctx, wait_s, started):
            clock = ServerClock()
            preview: list[str] = []
            if query is not None:
                ids = []
                for session in _select_by_query(query, ctx, clock):
                    ids.append(session["id"])
                    if len(preview) < PREVIEW:
                        preview.append(_describe(session))
            ids = list(dict.fromkeys(ids))  # an id given twice is ended (and reported) once
            preview = preview or ids[:PREVIEW]
            if runner.refuse_or_dry_run(ids, writer, dry_run=opts.dry_run, max_n=opts.max_end, option="--max-end",
                                        noun="session", verb="end", past="ended",
                                        dry_row=lambda i: Outcome(i, WOULD_END).as_row()):
                return exitcodes.OK
            if not opts.yes:
                _confirm(ctx, len(ids), preview)
            recheck = None
            if query is not None and opts.recheck and _has_conditions(opts, query):
                recheck = lambda session: query.mismatch(session, now=clock.now()) is None  # noqa: E731
            run = BulkEnd(SessionEnder(ctx.client(), started=started, recheck=recheck), concurrency=opts.concurrency)
            code = runner.execute(run, ids, writer=writer, stderr=ctx.stderr, signals=signals, report=report,
                                  summary_json=opts.summary_json, started=started,
                                  on_summary=lambda counts, code, seconds: tally.update(
                                      counts=dict(counts), code=code, seconds=seconds))
            report = None  # closed (fsynced) by execute
            return code
    finally:
        if report is not None:
            report.close()
        if metrics is not None:  # whatever stopped the run: a run that never finished is not a success
            from cobrowse_cli.commands.end_metrics import write_end_metrics

            write_end_metrics(metrics, tally.get("counts", {}), success=tally.get("code") == exitcodes.OK,
                              duration_s=tally.get("seconds", (runner.utc_now() - started).total_seconds()))


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


@contextmanager
def _run_lock(opts: EndOptions, ctx: Context, wait_s: float, started: datetime):
    """One `sessions end` at a time per profile and API URL (advisory flock; POSIX)."""
    if opts.no_lock or opts.dry_run:
        yield
        return
    from cobrowse_cli.config.runlock import LockHeld, RunLock, lock_path
    from cobrowse_cli.timeutil import iso_ms

    settings = ctx.connect()
    lock = RunLock(lock_path("sessions-end", settings.profile, settings.api), wait_s=wait_s, started=iso_ms(started))
    try:
        lock.acquire()
    except LockHeld as e:
        waited = f" after waiting {opts.wait_lock}" if opts.wait_lock else ""
        raise exitcodes.CLIError(
            f"another `sessions end` run holds the lock for this profile and API ({e.holder or e.path}){waited}; "
            "--wait-lock DURATION waits for it, --no-lock runs anyway", exitcodes.LOCKED) from None
    try:
        yield
    finally:
        lock.release()


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
