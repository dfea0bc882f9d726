"""`cobrowse recordings`: list, get, download, delete the recordings of sessions.

A selection is the usual session selection (--filter, --state, --agent, --activated-*, plus
--older-than), sent to the API and then checked again here on every session: a server that ignores a
parameter can never widen what is downloaded or deleted. Only sessions with `recorded: true` count.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
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
from cobrowse_cli.commands._output import OutputFlags, make_writer
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.commands.sessions import AgentOpt, Query, StateOpt
from cobrowse_cli.exitcodes import UsageError

DEFAULT_LIMIT = 100
DEFAULT_STATES = ["ended"]  # a session still running may still be recording
PREVIEW = 10


@dataclass
class RecordingSelection:
    query: Query = field(default_factory=Query)
    older_than: str | None = None

    @property
    def given(self) -> bool:
        q = self.query
        return bool(q.filters or q.states or q.agent or q.activated_after or q.activated_before or self.older_than)


def session_query(sel: RecordingSelection, now: datetime):
    """The client's SessionQuery for the selection. --older-than is checked on `created` by the query model
    and also sent as `activated_before` (activated >= created), so the API can skip newer sessions."""
    from dataclasses import replace

    query = sel.query.build(default_states=DEFAULT_STATES, older_than=sel.older_than)
    if query.older_than is not None:
        cutoff = now - query.older_than
        before = query.activated_before
        query = replace(query, activated_before=min(before, cutoff) if before else cutoff)
    return query


def select_recorded(sel: RecordingSelection, ctx: Context, now: datetime, *, limit: int | None = None):
    """Recorded sessions in the selection, newest first: each one re-checked by the client's query model
    (a server that ignores a parameter cannot widen it), then `recorded: true`."""
    from cobrowse_cli.client.listing import select_sessions
    from cobrowse_cli.commands.sessions import print_notes

    selection = select_sessions(ctx.client(), session_query(sel, now), now=now)
    found = 0
    for session in selection:
        if session.get("recorded") is True:
            yield session
            found += 1
            if limit is not None and found >= limit:
                break
    print_notes(ctx, selection)


def _duration(session: dict) -> float | None:
    from cobrowse_cli.timeutil import parse_iso_or_none

    start, end = parse_iso_or_none(session.get("activated")), parse_iso_or_none(session.get("ended"))
    return round((end - start).total_seconds(), 3) if start and end and end >= start else None


def _columns(size: bool = False):
    from cobrowse_cli.output import Column

    columns = [Column("id", "SESSION"), Column("agent.name", "AGENT"), Column("custom_data", "CUSTOM DATA", kind="json"),
               Column("activated", "ACTIVATED", kind="time"), Column("duration", "DURATION (S)", kind="number")]
    return columns + [Column("size", "SIZE (B)", kind="number")] if size else columns


def _outcome_columns():
    from cobrowse_cli.output import Column

    return [Column("id", "SESSION"), Column("outcome", "OUTCOME", kind="state"), Column("bytes", "BYTES", kind="number"),
            Column("files", "FILES"), Column("error", "ERROR")]


# ---- list / get -------------------------------------------------------------------------------------


@dataclass
class ListOptions:
    selection: RecordingSelection = field(default_factory=RecordingSelection)
    limit: int | None = DEFAULT_LIMIT
    size: bool = False
    output: OutputFlags = field(default_factory=OutputFlags)


def run_list(opts: ListOptions, ctx: Context) -> int:
    from cobrowse_cli.client.recordings import SIZE_CONCURRENCY, RecordingSizes

    writer = make_writer(ctx, opts.output, _columns(opts.size))
    now = datetime.now(timezone.utc)
    rows = ({**s, "duration": _duration(s)} for s in select_recorded(opts.selection, ctx, now, limit=opts.limit))
    sizes = RecordingSizes(ctx.client(), concurrency=SIZE_CONCURRENCY) if opts.size else None
    if sizes is not None:
        rows = sizes.added(rows)
    if writer.is_machine:
        writer.write_rows(rows)
    else:
        with writer.progress("Finding recorded sessions"):
            collected = list(rows)
        writer.write_rows(collected)
    if sizes is not None and sizes.unknown:
        ctx.warn(f"size unknown for {sizes.unknown} recording(s): {sizes.first_error}")
    return exitcodes.OK


def public_url(url) -> str | None:
    """A media URL without its query: the signature is a credential and is never printed."""
    if not isinstance(url, str) or not url:
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class GetOptions:
    id: str = ""
    output: OutputFlags = field(default_factory=OutputFlags)


def run_get(opts: GetOptions, ctx: Context) -> int:
    from cobrowse_cli.output import Column

    session_id = _parse.require_id(opts.id)
    recording = ctx.client().get_recording(session_id)
    events = recording.get("events")
    row = {
        "id": session_id,
        "size": _number(recording.get("size")),
        "duration": _number(recording.get("duration")),
        "events": len(events) if isinstance(events, list) else None,
        "video": public_url(recording.get("video")),
        "actions": public_url(recording.get("actions")),
    }
    columns = [Column(k, kind="number" if k in ("size", "duration", "events") else "text") for k in row]
    make_writer(ctx, opts.output, columns).write_item(row)
    return exitcodes.OK


# ---- download / delete: choosing ids -------------------------------------------------------------------


def _ids(ids: list[str], from_stdin: bool, sel: RecordingSelection, ctx: Context, *, verb: str) -> tuple[list[str], list[str]]:
    """The session ids to act on (distinct, in order) and a preview of them for a confirmation."""
    ids = [_parse.require_id(i) for i in ids]
    if from_stdin:
        for line in ctx.stdin:
            line = line.strip()
            if line and not line.startswith("#"):
                ids.append(_parse.require_id(line))
    if ids and sel.given:
        raise UsageError("give either session ids or a selection (--filter/--state/--older-than/...), not both")
    preview: list[str] = []
    if sel.given:
        for session in select_recorded(sel, ctx, datetime.now(timezone.utc)):
            ids.append(session["id"])
            if len(preview) < PREVIEW:
                custom = session.get("custom_data") if isinstance(session.get("custom_data"), dict) else {}
                line = f"{session['id']}  {session.get('activated') or '-'}  " + " ".join(f"{k}={v}" for k, v in custom.items())
                # custom_data is the customer's text: no escape sequences reach the terminal asking for consent
                preview.append("".join(c if c.isprintable() else "?" for c in line)[:120])
    elif not ids and not from_stdin:
        raise UsageError(f"nothing selected: give session ids, --stdin, or a selection such as --older-than 90d to {verb}")
    ids = list(dict.fromkeys(ids))
    return ids, preview or ids[:PREVIEW]


def _check_concurrency(n: int) -> None:
    if not 1 <= n <= 32:
        raise UsageError(f"invalid --concurrency {n}: must be between 1 and 32")


def _finish(writer, counts: dict[str, int], total: int, started: float, stopped: list[Exception]) -> int:
    """The summary line, then the exit code: the stopping error's own, else 5 when anything is not done."""
    import time

    from cobrowse_cli.client.recordings import DONE

    summary = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(counts.items())) or "nothing to do"
    writer.info(f"{summary} (of {total}) in {time.monotonic() - started:.1f}s")
    if stopped:
        raise stopped[0]  # app.py maps it (401/403 -> 3, plain http -> 2) and prints it once
    return exitcodes.PARTIAL if any(n for k, n in counts.items() if k not in DONE) else exitcodes.OK


def _report(writer, outcomes, counts: dict[str, int], progress=None):
    done = 0
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        done += 1
        if progress is not None:
            progress(done)
        yield outcome.as_row()


# ---- download ------------------------------------------------------------------------------------------


@dataclass
class DownloadOptions:
    ids: list[str] = field(default_factory=list)
    from_stdin: bool = False
    selection: RecordingSelection = field(default_factory=RecordingSelection)
    directory: str = "."
    concurrency: int = 4
    idle_timeout: str = "60s"
    output: OutputFlags = field(default_factory=OutputFlags)
    fsync: bool = False


def run_download(opts: DownloadOptions, ctx: Context) -> int:
    import os
    import time
    from pathlib import Path

    from cobrowse_cli.client.media import MediaFetcher
    from cobrowse_cli.client.recordings import Downloader, download_recordings

    _check_concurrency(opts.concurrency)
    idle = _parse.parse_duration(opts.idle_timeout, option="--idle-timeout").total_seconds()
    directory = Path(opts.directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--dir {opts.directory}: {e.strerror or e}") from None
    if not os.access(directory, os.W_OK):
        raise UsageError(f"--dir {opts.directory}: not writable")
    ids, _ = _ids(opts.ids, opts.from_stdin, opts.selection, ctx, verb="download")
    writer = make_writer(ctx, opts.output, _outcome_columns())
    fetcher = MediaFetcher(ctx.connect().api, idle_timeout=idle, max_connections=opts.concurrency)
    counts: dict[str, int] = {}
    stopped: list[Exception] = []
    started = time.monotonic()
    try:
        downloader = Downloader(_DeferredClient(ctx), fetcher, directory, fsync=opts.fsync)
        if not all(downloader.is_complete(i) for i in ids):
            ctx.client()  # built now, so a missing login fails before any output
        with _stop_on_signals(stopped, downloader.abort):
            outcomes = download_recordings(downloader, ids, concurrency=opts.concurrency, stopped=stopped)
            if writer.is_machine:
                writer.write_rows(_report(writer, outcomes, counts))
            else:
                with writer.progress("Downloading recordings", total=len(ids)) as advance:
                    rows = list(_report(writer, outcomes, counts, advance))
                writer.write_rows(rows)
    finally:
        fetcher.close()
    if downloader.stale is not None and downloader.stale.removed:
        ctx.note(f"removed {downloader.stale.removed} temp file(s) an interrupted run left in {opts.directory}")
    return _finish(writer, counts, len(ids), started, stopped)


_SIGNAL_EXIT = {"SIGINT": exitcodes.INTERRUPTED, "SIGTERM": exitcodes.TERMINATED, "SIGHUP": exitcodes.HANGUP}


@contextmanager
def _stop_on_signals(stopped: list[Exception], abort):
    """SIGINT, SIGTERM and SIGHUP (Ctrl-C, cron's timeout, systemd, a closed terminal) stop a download the
    way a 401 does: transfers in flight give up and remove their temp files (`abort`), ids not started are
    reported `skipped`, every id still gets its row and the summary, and the signal's code is the exit
    code (130, 143, 129). A second signal exits at once (a re-run removes what that leaves). A SIGINT the
    parent set to ignore (a background job) stays ignored."""
    import os
    import signal
    import threading

    def handle(signum, frame):
        name = signal.Signals(signum).name
        if stopped and isinstance(stopped[0], exitcodes.Interrupted):
            os._exit(_SIGNAL_EXIT[name])
        stopped.insert(0, exitcodes.Interrupted(f"interrupted by {name}; a re-run resumes", _SIGNAL_EXIT[name]))
        abort.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in _SIGNAL_EXIT:
            sig = getattr(signal, name, None)
            if sig is not None and not (name == "SIGINT" and signal.getsignal(sig) == signal.SIG_IGN):
                previous[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _DeferredClient:
    """The command's Client, built on first use: a re-run that finds every file complete never needs it
    (nor the ~0.2 s of imports behind it)."""

    def __init__(self, ctx: Context):
        import threading

        self._ctx, self._lock = ctx, threading.Lock()

    def __getattr__(self, name: str):
        with self._lock:
            return getattr(self._ctx.client(), name)


# ---- delete --------------------------------------------------------------------------------------------


@dataclass
class DeleteOptions:
    ids: list[str] = field(default_factory=list)
    from_stdin: bool = False
    selection: RecordingSelection = field(default_factory=RecordingSelection)
    dry_run: bool = False
    yes: bool = False
    concurrency: int = 4
    output: OutputFlags = field(default_factory=OutputFlags)
    report: str | None = None
    summary_json: bool = False
    wait_lock: str | None = None
    no_lock: bool = False
    max_delete: int | None = None


def _delete_columns():
    from cobrowse_cli.output import Column

    return [Column("id", "SESSION"), Column("outcome", "OUTCOME", kind="state"), Column("error", "ERROR")]


def _confirm(ctx: Context, count: int, preview: list[str]) -> None:
    from cobrowse_cli.commands.sessions_end_run import confirm_run

    confirm_run(ctx, count, preview, action=f"delete {count} recording(s)",
                question=f"Delete {count} recording(s)? This cannot be undone.")  # "n": exit 10


def run_delete(opts: DeleteOptions, ctx: Context) -> int:
    """On the bulk-end engine (client/bulk.py, commands/sessions_end_run.py): the same interruption path,
    lost-output handling, --report, summary and exit codes as `sessions end`, and its own run lock."""
    from cobrowse_cli.client.recording_deleter import VOCABULARY, WOULD_DELETE, DeleteOutcome, RecordingDeleter
    from cobrowse_cli.commands import sessions_end_run as runner

    _check_concurrency(opts.concurrency)
    if opts.max_delete is not None and opts.max_delete < 0:
        raise UsageError(f"invalid --max-delete {opts.max_delete}: must be 0 or more")
    wait_s = runner.wait_seconds(opts.wait_lock, opts.no_lock)
    if opts.from_stdin and not (opts.yes or opts.dry_run):
        raise UsageError("--stdin needs --yes (or --dry-run): stdin carries ids, so there is no way to confirm")
    writer = make_writer(ctx, opts.output, _delete_columns())
    ctx.client().check_transport()  # a usage error before the lock, the report or any outcome
    spec = runner.BulkCommand("recordings delete", VOCABULARY, "recording", "--max-delete", WOULD_DELETE,
                              DeleteOutcome, _confirm)
    return runner.perform(spec, opts, ctx, writer, max_n=opts.max_delete, wait_s=wait_s,
                          select=lambda: _ids(opts.ids, opts.from_stdin, opts.selection, ctx, verb="delete"),
                          worker=lambda started: RecordingDeleter(ctx.client()))


# ---- registration --------------------------------------------------------------------------------------

OlderThanOpt = Annotated[Optional[str], typer.Option(
    "--older-than", metavar="DURATION", help="Only sessions created (and activated) longer ago than this, e.g. 90d.")]
AfterOpt = Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")]
StdinOpt = Annotated[bool, typer.Option("--stdin", help="Read session ids from stdin, one per line.")]
IdsArg = Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Session ids.")]
ConcurrencyOpt = Annotated[int, typer.Option(help="Recordings handled in parallel (1-32).")]


def _chosen(ids: IdsArg = None, stdin: StdinOpt = False, filter: FilterOpt = None, state: StateOpt = None,
            agent: AgentOpt = None, activated_after: AfterOpt = None, activated_before: AfterOpt = None,
            older_than: OlderThanOpt = None) -> tuple[list[str], bool, RecordingSelection]:
    """The options `download` and `delete` choose recordings with: (ids, --stdin, selection)."""
    query = Query(filter or [], state or [], agent, activated_after, activated_before)
    return ids or [], stdin, RecordingSelection(query, older_than)


def _choosing(command):
    """`command(ctx, chosen, ...)` as Typer sees it: `_chosen`'s options spliced in after `ctx`, handed to
    it as `chosen` (what _chosen returns). One home for the options both commands share."""
    import functools
    import inspect

    shared = inspect.signature(_chosen, eval_str=True).parameters
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "chosen"]

    @functools.wraps(command)
    def wrapper(**kwargs):
        chosen = _chosen(**{name: kwargs.pop(name) for name in shared})
        return command(kwargs.pop("ctx"), chosen, **kwargs)

    wrapper.__signature__ = inspect.Signature([own[0], *shared.values(), *own[1:]])
    return wrapper


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="List, inspect, download and delete session recordings.", no_args_is_help=True,
                      epilog=epilog("cobrowse recordings list --agent all --older-than 90d",
                                    "cobrowse recordings download --agent all --activated-after 1d --dir ./recordings",
                                    "cobrowse recordings delete --agent all --older-than 90d --yes --ndjson >> retention.log"))
    root.add_typer(app, name="recordings")

    @app.command("list", epilog=epilog("cobrowse recordings list --filter user_id=42",
                                       "cobrowse recordings list --agent all --older-than 90d --all -q",
                                       "cobrowse recordings list --agent all --limit 20 --size"))
    def list_(
        ctx: typer.Context, filter: FilterOpt = None, state: StateOpt = None, agent: AgentOpt = None,
        activated_after: AfterOpt = None, activated_before: AfterOpt = None, older_than: OlderThanOpt = None,
        limit: Annotated[Optional[int], typer.Option("--limit", "-L", help=f"At most N recordings [default: {DEFAULT_LIMIT}].")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Every matching recording.")] = False,
        size: Annotated[bool, typer.Option("--size", help="Add each recording's size (one request per recording).")] = False,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """List recorded sessions (ended ones unless --state says otherwise), newest first, with duration.

        The session list does not carry a recording's size: --size reads each recording (one request per
        row, a few at a time), and shows it where the API gives one."""
        if all_ and limit is not None:
            raise UsageError("--all and --limit cannot be used together")
        sel = RecordingSelection(Query(filter or [], state or [], agent, activated_after, activated_before), older_than)
        n = None if all_ else _parse.parse_limit(limit if limit is not None else DEFAULT_LIMIT)
        opts = ListOptions(sel, n, size, OutputFlags(json, fields, ndjson, csv, quiet, columns))
        raise typer.Exit(run_list(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse recordings get SESSION_ID --json"))
    def get(
        ctx: typer.Context, id: Annotated[str, typer.Argument(metavar="ID", help="Session id.")],
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Show a recording's metadata: size, duration, event count (media URLs without their signature)."""
        raise typer.Exit(run_get(GetOptions(id, OutputFlags(json, fields, ndjson, csv, quiet, columns)), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse recordings download SESSION_ID --dir ./recordings",
                               "cobrowse recordings download --agent all --activated-after 1d --dir ./recordings --ndjson",
                               "cobrowse sessions list --filter user_id=42 -q | cobrowse recordings download --stdin --dir out"))
    @_choosing
    def download(
        ctx: typer.Context, chosen,
        dir: Annotated[str, typer.Option("--dir", "-d", metavar="DIR", help="Where to write the files (created if missing).")] = ".",
        concurrency: ConcurrencyOpt = 4,
        idle_timeout: Annotated[str, typer.Option(metavar="DURATION", help="Give up on a download that makes no progress for this long.")] = "60s",
        fsync: Annotated[bool, typer.Option("--fsync", help="Flush each file to disk before renaming it (survives a power loss; slower).")] = False,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Download video + merged events JSON per session: DIR/ID.mp4 and DIR/ID.events.json.

        Files appear under their final name only when complete; sessions already downloaded are skipped, so
        re-running resumes. The media URLs are fetched without your token. Exit code 5 when any failed.
        """
        opts = DownloadOptions(*chosen, dir, concurrency, idle_timeout,
                               OutputFlags(json, fields, ndjson, csv, quiet, columns), fsync)
        raise typer.Exit(run_download(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse recordings delete SESSION_ID --yes",
                               "cobrowse recordings delete --agent all --older-than 90d --dry-run",
                               "cobrowse recordings delete --agent all --older-than 90d --yes --ndjson --report ~/retention.ndjson > /dev/null"))
    @_choosing
    def delete(
        ctx: typer.Context, chosen,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; change nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        concurrency: ConcurrencyOpt = 4,
        report: Annotated[Optional[str], typer.Option("--report", metavar="FILE", help="Append every outcome (NDJSON) and the run's summary to FILE, whatever happens to stdout.")] = None,
        summary_json: Annotated[bool, typer.Option("--summary-json", help="End stdout with a {\"type\":\"summary\",...} object (with --ndjson).")] = False,
        wait_lock: Annotated[Optional[str], typer.Option("--wait-lock", metavar="DURATION", help="Wait up to DURATION (e.g. 5m, 90s, 30) for another run's lock instead of exiting 9.")] = None,
        no_lock: Annotated[bool, typer.Option("--no-lock", help="Do not take the per-profile run lock.")] = False,
        max_delete: Annotated[Optional[int], typer.Option("--max-delete", metavar="N", help="Delete nothing (exit 5) when the selection holds more than N recordings.")] = None,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Delete recordings by session id, from stdin, or by selection; one outcome per session, summary on stderr.

        Outcomes: deleted, already_deleted (gone before this run: counts as done), not_found, failed,
        unknown (sent, no answer came), skipped (never attempted; `reason` says why). Each carries `at` (UTC).
        Each recording is read just before its DELETE; one whose answer never came is read back too.

        Whatever stops a run (SIGINT, SIGTERM, SIGHUP, an expired token, a 403 policy, a closed or full
        stdout, a dead API), it sends nothing more, waits up to 5 s for the deletes in flight, reports every
        selected id and prints the summary: exit 130 / 143 / 129 / 3 / 8 / 5. Outcomes stdout could not
        take go to stderr. One run at a time per profile and API (a lock in the user state dir; POSIX): a
        second exits 9. Exit 5 when anything is not done.
        """
        opts = DeleteOptions(*chosen, dry_run, yes, concurrency,
                             OutputFlags(json, fields, ndjson, csv, quiet, columns), report, summary_json,
                             wait_lock, no_lock, max_delete)
        raise typer.Exit(run_delete(opts, get_context(ctx)))
