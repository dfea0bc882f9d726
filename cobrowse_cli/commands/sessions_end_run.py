"""The acting phase of a bulk command (`sessions end`, `recordings delete`): one interruption path, every outcome written somewhere, a summary.

Whatever stops the run (SIGINT/SIGTERM/SIGHUP, a 401, a closed or failing stdout or --report, a dead
API), BulkEnd submits nothing more, waits a bounded time for the ends in flight and reports every id.
Each outcome goes, as one write, to --report (NDJSON) and to stdout; one that stdout could not take goes
to stderr instead, so stdout + stderr name every selected id exactly once, and so does the report.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cobrowse_cli import exitcodes
from cobrowse_cli.messages import PREFIX
from cobrowse_cli.output.stream import LineStream, OutputLost, write_line

if TYPE_CHECKING:
    from cobrowse_cli.client.bulk import BulkEnd, Outcome, Vocabulary

SIGNALS = {"SIGINT": exitcodes.INTERRUPTED, "SIGTERM": exitcodes.TERMINATED, "SIGHUP": exitcodes.HANGUP}


class Signals:
    """SIGINT, SIGTERM and SIGHUP, handled one way. Before any end is sent a signal raises Interrupted
    (nothing was ended); once `run` is set it asks the run to stop; a second signal aborts at once and
    says so. Handlers can only be installed from the main thread; elsewhere (tests) this does nothing."""

    def __init__(self, stderr, vocab: Vocabulary | None = None):
        self.stderr = stderr
        from cobrowse_cli.client.bulk import SESSIONS

        vocab = vocab or SESSIONS  # what the messages call an item's request: "end", "delete"
        self.verb, self.past, self.check = vocab.verb, vocab.past, vocab.check
        self.run: BulkEnd | None = None
        self.received: str | None = None
        self._previous: dict = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for name in SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def exit_code(self) -> int | None:
        return SIGNALS[self.received] if self.received else None

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        waiting = len(self.run.in_flight) if self.run else 0
        if self.received is not None:
            _notice(PREFIX + f"second {name}: stopped at once; {waiting} {self.verb} request(s) in flight were not "
                    f"reported (check them with `{self.check}`)")
            os._exit(SIGNALS[name])
        self.received = name
        if self.run is None:
            raise exitcodes.Interrupted(f"interrupted by {name}: nothing was {self.past}", SIGNALS[name])
        self.run.stop("interrupted", f"interrupted by {name}")
        _notice(PREFIX + f"{name}: stopping; waiting up to {self.run.grace_s:g}s for {waiting} {self.verb} request(s) "
                "in flight (again to stop at once)")


def _notice(line: str) -> None:
    """From a signal handler: a raw write, since the interrupted code may be inside a stderr write."""
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


class ReportFile:
    """--report FILE: NDJSON appended, one write per line; opened (or refused) before anything is ended."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.fd = os.open(Path(path).expanduser(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise exitcodes.UsageError(f"--report {path}: cannot write there: {e.strerror}") from None
        self.lost: str | None = None

    def write(self, text: str) -> None:
        try:
            written = os.write(self.fd, text.encode("utf-8", "replace"))
        except OSError as e:
            raise OutputLost(e.strerror or type(e).__name__) from None
        if written != len(text.encode("utf-8", "replace")):
            raise OutputLost("short write")

    def close(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError:
            pass  # a pipe or a character device (/dev/full) has nothing to sync
        os.close(self.fd)


class OutcomeSink:
    """Counts each outcome and writes it: to the report, to stdout, else to stderr. Stops the run on the
    first failing output (exit 8 at the end)."""

    def __init__(self, writer, stderr, run: BulkEnd, report: ReportFile | None):
        from cobrowse_cli.output import machine

        self.dumps = machine.dumps
        self.stream = LineStream(writer)
        self.stderr, self.run, self.report = stderr, run, report
        self.counts: Counter[str] = Counter()
        self.stdout_lost: str | None = None

    def emit(self, outcome: Outcome) -> None:
        self.counts[outcome.outcome] += 1
        row = outcome.as_row()
        line = self.dumps(row) + "\n"
        if self.report is not None and self.report.lost is None:
            try:
                self.report.write(line)
            except OutputLost as e:
                self.report.lost = e.reason
                self._lost(f"--report {self.report.path}: write failed ({e.reason}); stopping; "
                           "outcomes continue on stdout", f"--report failed ({e.reason})")
        if self.stdout_lost is None:
            try:
                self.stream.write(row)
                return
            except OutputLost as e:
                self.stdout_lost = e.reason
                self._lost(f"stdout failed ({e.reason}); stopping; the remaining outcomes follow on stderr",
                           f"stdout failed ({e.reason})")
        _say(self.stderr, PREFIX + "outcome not written to stdout: " + line)

    def close(self) -> None:
        if self.stdout_lost is None:
            try:
                self.stream.close()
            except OutputLost as e:
                self.stdout_lost = e.reason

    @property
    def output_lost(self) -> bool:
        return self.stdout_lost is not None or (self.report is not None and self.report.lost is not None)

    def _lost(self, message: str, reason: str) -> None:
        _say(self.stderr, PREFIX + message)
        self.run.stop("output_closed", reason)


def summary_line(counts: Counter, selected: int, started: datetime, seconds: float, stop: str | None,
                 outcomes: tuple[str, ...] | None = None) -> str:
    from cobrowse_cli.client.bulk import OUTCOMES
    from cobrowse_cli.timeutil import iso_ms

    parts = ", ".join(f"{name.replace('_', ' ')} {counts[name]}" for name in outcomes or OUTCOMES if counts[name])
    line = f"{parts or 'nothing to do'} (of {selected}) in {seconds:.1f}s, started {iso_ms(started)}"
    return f"{line}; stopped: {stop}" if stop else line


def summary_object(counts: Counter, selected: int, started: datetime, seconds: float, stop: str | None,
                   code: int) -> dict:
    from cobrowse_cli.timeutil import iso_ms

    return {"type": "summary", "started": iso_ms(started), "duration_s": round(seconds, 3), "selected": selected,
            "counts": dict(sorted(counts.items())), "stopped": stop, "exit_code": code}


def confirm_run(ctx, count: int, preview: list[str], *, action: str, question: str) -> None:
    """On a terminal: show `preview` (customer data, made inert) and ask `question`; "n" raises Declined
    (exit 10). Anywhere else `action` (e.g. "end 3 session(s)") is refused: a usage error, pass --yes."""
    if count == 0:
        return
    if not (ctx.stdin.isatty() and ctx.stderr.isatty()):
        raise exitcodes.UsageError(f"refusing to {action} without confirmation: not a terminal; pass --yes")
    from cobrowse_cli.commands._prompt import confirm
    from cobrowse_cli.output.safety import terminal_safe

    more = f"  … and {count - len(preview)} more (--dry-run lists them all)\n" if count > len(preview) else ""
    ctx.stderr.write("".join(f"  {terminal_safe(line)}\n" for line in preview) + more)
    confirm(question, stderr=ctx.stderr)


def refuse_or_dry_run(ids: list[str], writer, *, dry_run: bool, max_n: int | None, option: str, noun: str,
                      verb: str, past: str, dry_row) -> bool:
    """Before anything changes: `option` (--max-end, --max-delete) refuses a selection larger than `max_n`;
    --dry-run writes `dry_row(id)` per id. True when the dry run is all there is to do."""
    if max_n is not None and len(ids) > max_n:
        raise exitcodes.CLIError(f"the selection holds {len(ids)} {noun}s, more than {option} {max_n}: "
                                 f"nothing was {past}", exitcodes.PARTIAL)
    if dry_run:
        writer.write_rows(dry_row(i) for i in ids)
        writer.info(f"dry run: would {verb} {len(ids)} {noun}(s); nothing was changed")
    return dry_run


def execute(run: BulkEnd, ids: list[str], *, writer, stderr, signals: Signals, report: ReportFile | None,
            summary_json: bool, started: datetime, on_summary=None) -> int:
    """Run the ends and report them; returns the exit code (a 401 that stopped the run: 3).
    `on_summary(counts, code, seconds)` hears the final tally (for --metrics-textfile)."""
    done = run.vocab.done
    sink = OutcomeSink(writer, stderr, run, report)
    signals.run = run
    try:
        for outcome in run.run(ids):
            sink.emit(outcome)
    finally:
        sink.close()
    seconds = (utc_now() - started).total_seconds()  # the whole run, selection included
    code = _exit_code(run, sink, signals, incomplete=any(sink.counts[k] for k in sink.counts if k not in done))
    summary = summary_object(sink.counts, len(ids), started, seconds, run.stop_detail or None, code)
    if report is not None:
        if report.lost is None:
            try:
                report.write(sink.dumps(summary) + "\n")
            except OutputLost:
                pass
        report.close()
    if summary_json and sink.stdout_lost is None:
        try:
            write_line(writer.stdout, sink.dumps(summary) + "\n")
        except OutputLost:
            code = exitcodes.OUTPUT_LOST if code in (exitcodes.OK, exitcodes.PARTIAL) else code
    line = summary_line(sink.counts, len(ids), started, seconds, run.stop_detail or None, run.vocab.outcomes)
    _say(stderr, line + "\n")
    if on_summary is not None:
        on_summary(sink.counts, code, seconds)
    return code


def _exit_code(run: BulkEnd, sink: OutcomeSink, signals: Signals, *, incomplete: bool) -> int:
    from cobrowse_cli.client import errors

    if signals.exit_code is not None:
        return signals.exit_code
    if isinstance(run.fatal, (errors.AuthenticationError, errors.ForbiddenError)):  # 403: delete's policy
        return exitcodes.AUTH
    if sink.output_lost:
        return exitcodes.OUTPUT_LOST
    if run.fatal is not None:
        return exitcodes.USAGE if isinstance(run.fatal, errors.InsecureTransportError) else exitcodes.API_ERROR
    return exitcodes.PARTIAL if incomplete else exitcodes.OK


def _say(stderr, text: str) -> None:
    """stderr may be failing too; the report (if any) still has everything."""
    try:
        stderr.write(text if text.endswith("\n") else text + "\n")
        stderr.flush()
    except (OSError, ValueError):
        pass


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def run_lock(command: str, settings, *, wait_s: float, wait_text: str | None, started: datetime):
    """One run of `command` at a time per profile and API URL (advisory flock; POSIX); held: exit 9."""
    from cobrowse_cli.config.runlock import LockHeld, RunLock, lock_path
    from cobrowse_cli.timeutil import iso_ms

    name = command.replace(" ", "-")
    lock = RunLock(lock_path(name, settings.profile, settings.api), wait_s=wait_s, started=iso_ms(started))
    try:
        lock.acquire()
    except LockHeld as e:
        waited = f" after waiting {wait_text}" if wait_text else ""
        raise exitcodes.CLIError(
            f"another `{command}` run holds the lock for this profile and API ({e.holder or e.path}){waited}; "
            "--wait-lock DURATION waits for it, --no-lock runs anyway", exitcodes.LOCKED) from None
    try:
        yield
    finally:
        lock.release()


# ---- one bulk command, start to end (`sessions end`, `recordings delete`) ----------------------------------


@dataclass(frozen=True)
class BulkCommand:
    """What a bulk command calls itself: `name` (its lock and messages, e.g. "sessions end"), its outcome
    words, the items' `noun`, its size-limit option (--max-end), the dry-run outcome, the outcome type,
    and `confirm(ctx, count, preview)` (raises Declined on "n")."""

    name: str
    vocab: Vocabulary
    noun: str
    limit_option: str
    would: str
    outcome: type
    confirm: Callable


def wait_seconds(wait_lock: str | None, no_lock: bool) -> float:
    """--wait-lock / --no-lock, checked before anything is read or sent."""
    from cobrowse_cli import durations

    if wait_lock and no_lock:
        raise exitcodes.UsageError("--wait-lock and --no-lock cannot be used together")
    return durations.parse_seconds(wait_lock, option="--wait-lock", bare_seconds=True) if wait_lock else 0.0


def perform(spec: BulkCommand, opts, ctx, writer, *, select: Callable[[], tuple[list[str], list[str]]],
            worker: Callable[[datetime], Callable], max_n: int | None, wait_s: float, on_summary=None) -> int:
    """The part every bulk command shares, once its options are checked: --report opened, the run lock
    taken and signals handled before the selection; then the size limit or --dry-run, the confirmation,
    and the run. `opts` has dry_run, yes, concurrency, report, summary_json, wait_lock, no_lock;
    `select()` gives (ids, preview); `worker(started)` the per-id worker for BulkEnd."""
    from cobrowse_cli.client.bulk import BulkEnd

    report = ReportFile(opts.report) if opts.report and not opts.dry_run else None
    started = utc_now()
    lock = nullcontext() if opts.no_lock or opts.dry_run else run_lock(
        spec.name, ctx.connect(), wait_s=wait_s, wait_text=opts.wait_lock, started=started)
    try:
        with Signals(ctx.stderr, spec.vocab) as signals, lock:
            ids, preview = select()
            if refuse_or_dry_run(ids, writer, dry_run=opts.dry_run, max_n=max_n, option=spec.limit_option,
                                 noun=spec.noun, verb=spec.vocab.verb, past=spec.vocab.past,
                                 dry_row=lambda i: spec.outcome(i, spec.would).as_row()):
                return exitcodes.OK
            if not opts.yes:
                spec.confirm(ctx, len(ids), preview)
            run = BulkEnd(worker(started), concurrency=opts.concurrency, vocab=spec.vocab, outcome=spec.outcome)
            code = execute(run, ids, writer=writer, stderr=ctx.stderr, signals=signals, report=report,
                           summary_json=opts.summary_json, started=started, on_summary=on_summary)
            report = None  # closed (fsynced) by execute
            return code
    finally:
        if report is not None:
            report.close()
