"""End many sessions concurrently, reporting every one's outcome exactly once, whatever stops the run.

Library code (no CLI imports): `for outcome in end_sessions(client, ids): ...`, or `BulkEnd` to stop a
run from outside (a signal, a dead stdout). Two parts, each with its state in plain sight:

- `SessionEnder` decides ONE session's outcome (runs in worker threads; it keeps no state between calls;
  `sent_before=True` tells it an earlier request of this run for that id may have been applied).
  Ending is an idempotent PUT, so the client's retries after a dropped response can never end a session
  twice; an answer that never came (a drop, a 5xx after retries) is checked with a GET before it is
  reported, and a 401 stops the whole run (`StopRun`) while a 403 is that one session's `failed`.
- `BulkEnd` runs the ids through a few daemon worker threads and yields the outcomes. `stop(reason)`
  makes it submit nothing more, wait at most `grace_s` for the ends in flight (`unknown` for those whose
  answer never came) and report every id never attempted as `skipped` with the reason. Daemon threads:
  a hung request can never keep the process alive after the run has reported everything.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cobrowse_cli.client import errors
from cobrowse_cli.timeutil import now_iso, parse_iso_or_none

ENDED = "ended"
ALREADY_ENDED = "already_ended"
CHANGED = "changed"  # re-read just before the PUT, it no longer matched the selection: left alone
NOT_FOUND = "not_found"
FAILED = "failed"
UNKNOWN = "unknown"  # the end request may have been applied; its answer never came
SKIPPED = "skipped"  # never attempted; `reason` says why
WOULD_END = "would_end"
DONE = frozenset({ENDED, ALREADY_ENDED, CHANGED})
OUTCOMES = (ENDED, ALREADY_ENDED, CHANGED, NOT_FOUND, FAILED, UNKNOWN, SKIPPED)

# Why a run stopped early: the `reason` of its skipped and unknown outcomes.
INTERRUPTED = "interrupted"
AUTH_EXPIRED = "auth_expired"
OUTPUT_CLOSED = "output_closed"
API_DOWN = "api_down"
ERROR = "error"

FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class Vocabulary:
    """What one bulk command calls things: its verb, outcomes (summary order) and which count as done."""

    verb: str = "end"  # "the end request was sent"
    past: str = "ended"  # "nothing was ended"
    outcomes: tuple[str, ...] = OUTCOMES
    done: frozenset[str] = DONE
    check: str = "cobrowse sessions get ID"  # how to check an item whose answer never came


SESSIONS = Vocabulary()

GRACE_S = 5.0  # a container stop kills 10 s after SIGTERM: leave time to report
_AGE_SLACK = timedelta(seconds=60)  # clock skew allowed when judging "ended before this run"


@dataclass
class Outcome:
    id: str
    outcome: str
    state: str | None = None
    ended_reason: str | None = None
    error: str | None = None
    status: int | None = None
    reason: str | None = None
    at: str = field(default_factory=now_iso)  # when the outcome was known
    # Run-internal hints, never reported: try once more at the end / the API itself looked down.
    retryable: bool = field(default=False, repr=False, compare=False)
    api_down: bool = field(default=False, repr=False, compare=False)

    def as_row(self) -> dict:
        return {"id": self.id, "outcome": self.outcome, "state": self.state, "ended_reason": self.ended_reason,
                "error": self.error, "status": self.status, "reason": self.reason, "at": self.at}


class StopRun(Exception):
    """Raised by SessionEnder when no other session can succeed either (a 401, an insecure transport)."""

    def __init__(self, reason: str, cause: Exception):
        super().__init__(str(cause))
        self.reason, self.cause = reason, cause


def is_ambiguous(e: errors.CobrowseError) -> bool:
    """The request may or may not have been applied: a network failure, a 5xx or 429 after retries, junk."""
    status = getattr(e, "status", None)
    return isinstance(e, (errors.NetworkError, errors.InvalidResponseError)) or status == 429 or (status or 0) >= 500


def fatal_stop(e: Exception) -> StopRun | None:
    if isinstance(e, errors.AuthenticationError):
        return StopRun(AUTH_EXPIRED, e)
    if isinstance(e, errors.InsecureTransportError):
        return StopRun(ERROR, e)
    return None


class SessionEnder:
    """`ender(session_id) -> Outcome` for one session; raises StopRun. Holds only read-only settings.

    `recheck(session) -> bool`, when given, re-reads each session just before its PUT and leaves it alone
    (`changed`) when it no longer matches the selection; it also tells `ended` from `already_ended`
    without guessing, since the state just before our PUT is known.
    """

    def __init__(self, client, *, started: datetime | None = None,
                 recheck: Callable[[dict], bool] | None = None):
        self.client = client
        self.started = started or datetime.now(timezone.utc)
        self.recheck = recheck

    def __call__(self, session_id: str, *, sent_before: bool = False) -> Outcome:
        seen_open = False
        if self.recheck is not None:
            try:
                current = self.client.get_session(session_id)
            except errors.CobrowseError as e:
                return self._failure(session_id, e, verb="re-read")
            if current.get("state") == "ended":
                # After our own unanswered PUT (sent only once the re-read saw it open), "ended now" is
                # not "ended before we acted": judge it like the answer to that PUT.
                return self._classify(session_id, current, seen_open=sent_before, before=not sent_before)
            try:
                still_selected = self.recheck(current)
            except errors.CobrowseError as e:  # the check itself cannot be made (an agent without email)
                raise StopRun(ERROR, e) from None
            if not still_selected:
                return Outcome(session_id, CHANGED, state=current.get("state"),
                               error="no longer matches the selection: not ended")
            seen_open = True
        try:
            answer = self.client.end_session(session_id)
        except errors.CobrowseError as e:
            if not is_ambiguous(e):
                return self._failure(session_id, e, verb="end")
            return self._verify(session_id, e, seen_open)
        return self._classify(session_id, answer, seen_open=seen_open)

    def _failure(self, session_id: str, e: errors.CobrowseError, *, verb: str) -> Outcome:
        stop = fatal_stop(e)
        if stop is not None:
            raise stop
        status = getattr(e, "status", None)
        if isinstance(e, errors.NotFoundError):
            return Outcome(session_id, NOT_FOUND, error=str(e), status=status)
        flaky = is_ambiguous(e)  # only from a re-read: nothing was sent to end it
        return Outcome(session_id, FAILED, error=f"{verb}: {e}", status=status, retryable=flaky, api_down=flaky)

    def _verify(self, session_id: str, put_error: errors.CobrowseError, seen_open: bool) -> Outcome:
        """The PUT's result is unknown: report what the server says the session is now."""
        status = getattr(put_error, "status", None)
        try:
            session = self.client.get_session(session_id)
        except errors.CobrowseError as e:
            stop = fatal_stop(e)
            if stop is not None:
                raise stop from None
            if isinstance(e, errors.NotFoundError):
                return Outcome(session_id, NOT_FOUND, error=str(e), status=404)
            return Outcome(session_id, UNKNOWN, status=status, retryable=True, api_down=True,
                           error=f"end: {put_error}; reading it back failed too: {e}")
        if session.get("state") == "ended":
            return self._classify(session_id, session, seen_open=seen_open)
        return Outcome(session_id, FAILED, state=session.get("state"), status=status, retryable=True,
                       error=f"end: {put_error} (read back: still {session.get('state')})")

    def _classify(self, session_id: str, session: dict, *, seen_open: bool, before: bool = False) -> Outcome:
        state, reason = session.get("state"), session.get("ended_reason")
        if state != "ended":
            return Outcome(session_id, FAILED, state=state, error=f"session is still {state} after the end request")
        if before:
            outcome = ALREADY_ENDED  # seen ended before we sent anything
        elif seen_open:
            # Open just before our PUT: ended by us unless the answer names another ender.
            outcome = ENDED if reason in (None, "agent_ended") else ALREADY_ENDED
        else:
            # Nothing seen before the PUT: judge by the answer (another agent ending it at the same
            # moment is indistinguishable; the run lock keeps our own overlapping runs apart).
            ended_at = parse_iso_or_none(session.get("ended"))
            earlier = ended_at is not None and ended_at < self.started - _AGE_SLACK
            outcome = ENDED if reason == "agent_ended" and not earlier else ALREADY_ENDED
        return Outcome(session_id, outcome, state=state, ended_reason=reason)


class BulkEnd:
    """Run `end_one` (any `id -> Outcome` worker raising StopRun, e.g. SessionEnder) over ids with at most `concurrency` in flight; yield one Outcome per distinct id.

    A session whose end failed while the API was unwell gets one more try after all the others; when its
    first outcome was `unknown` (the request went out, no answer came), that try is called with
    `end_one(id, sent_before=True)`, so the worker does not mistake our own earlier request's effect for
    someone else's ("already ended/deleted"). After
    `give_up_after` API-down failures in a row the run stops (reason `api_down`): a cron run against a
    dead API ends in minutes, not hours, and still accounts for every id.
    """

    def __init__(self, end_one: Callable[[str], Outcome], *, concurrency: int = 10,
                 give_up_after: int | None = None, grace_s: float = GRACE_S,
                 clock: Callable[[], float] = time.monotonic, vocab: Vocabulary = SESSIONS,
                 outcome: type[Outcome] = Outcome):
        self.end_one = end_one
        self.vocab = vocab
        self.outcome = outcome  # the type of the skipped/unknown outcomes this run makes itself
        self.concurrency = max(1, concurrency)
        self.give_up_after = give_up_after or max(10, 2 * self.concurrency)
        self.grace_s = grace_s
        self.clock = clock
        self.stop_reason: str | None = None
        self.stop_detail = ""
        self.fatal: Exception | None = None  # what stopped the run from inside (a 401): the caller maps it
        self.down = 0  # API-down failures in a row
        self.in_flight: dict[str, int] = {}  # session id -> selection number
        self.held: list[tuple[int, Outcome]] = []  # API-down failures, tried once more at the end
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._workers = 0
        self._sent: set[str] = set()  # ids whose earlier request may have been applied (second pass)

    def stop(self, reason: str, detail: str = "") -> None:
        """Submit nothing more. Safe from a signal handler or another thread; the first reason wins."""
        if self.stop_reason is None:
            self.stop_detail = detail or reason
            self.stop_reason = reason

    def run(self, ids: Iterable[str]) -> Iterator[Outcome]:
        try:
            yield from self._pass(deque(enumerate(dict.fromkeys(ids))), last_try=False)
            held, self.held = sorted(self.held, key=lambda h: h[0]), []
            if held and self.stop_reason is None:
                self.down = 0
                self._sent = {o.id for _, o in held if o.outcome == UNKNOWN}
                yield from self._pass(deque((n, o.id) for n, o in held), last_try=True)
            else:
                yield from (o for _, o in held)  # stopped: report the failures as they were
        finally:
            for _ in range(self._workers):
                self._jobs.put(None)  # idle workers exit; a busy (hung) one is a daemon

    # -- internals ------------------------------------------------------------------------------

    def _pass(self, todo: deque, *, last_try: bool) -> Iterator[Outcome]:
        while True:
            while todo and self.stop_reason is None and len(self.in_flight) < self.concurrency:
                if self.down >= self.give_up_after:
                    self.stop(API_DOWN, f"the API failed {self.down} times in a row")
                    break
                number, session_id = todo.popleft()
                self._submit(number, session_id)
            if not self.in_flight:
                break
            if self.stop_reason is not None:
                yield from self._drain(last_try)
                break
            yield from self._collect(0.1, last_try)
        for _, session_id in todo:
            yield self.outcome(session_id, SKIPPED, reason=self.stop_reason, error=f"not attempted: {self.stop_detail}")

    def _submit(self, number: int, session_id: str) -> None:
        self.in_flight[session_id] = number
        self._jobs.put((number, session_id))
        if self._workers < min(self.concurrency, len(self.in_flight)):
            self._workers += 1
            threading.Thread(target=self._work, name=f"end-{self._workers}", daemon=True).start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            number, session_id = job
            try:
                if session_id in self._sent:
                    result: Outcome | BaseException = self.end_one(session_id, sent_before=True)
                else:
                    result = self.end_one(session_id)
            except BaseException as e:  # noqa: BLE001 - handed to the run, which accounts for the id
                result = e
            self._results.put((number, session_id, result))

    def _collect(self, timeout: float, last_try: bool) -> Iterator[Outcome]:
        try:
            batch = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return
        while True:  # several may finish together: report them in selection order
            try:
                batch.append(self._results.get_nowait())
            except queue.Empty:
                break
        for number, session_id, result in sorted(batch, key=lambda r: r[0]):
            if self.in_flight.pop(session_id, None) is None:
                continue  # a late answer after the run gave up waiting: already reported `unknown`
            yield from self._settle(number, session_id, result, last_try)

    def _settle(self, number: int, session_id: str, result, last_try: bool) -> Iterator[Outcome]:
        if isinstance(result, BaseException):
            yield self._stopped_by(session_id, result)
            return
        self.down = self.down + 1 if result.api_down else 0
        if result.retryable and not last_try and self.stop_reason is None:
            self.held.append((number, result))
        else:
            yield result

    def _stopped_by(self, session_id: str, e: BaseException) -> Outcome:
        if isinstance(e, StopRun):
            self.fatal = self.fatal or e.cause
            self.stop(e.reason, str(e.cause))
            status = getattr(e.cause, "status", None)
            return self.outcome(session_id, SKIPPED, reason=e.reason, status=status,
                                error=f"not {self.vocab.past}: {e.cause}")
        self.fatal = self.fatal or e  # a bug: whether the request went out is not known
        self.stop(ERROR, f"{type(e).__name__}: {e}")
        return self.outcome(session_id, UNKNOWN, reason=ERROR, error=f"{type(e).__name__}: {e}")

    def _drain(self, last_try: bool) -> Iterator[Outcome]:
        deadline = self.clock() + self.grace_s
        while self.in_flight and (left := deadline - self.clock()) > 0:
            yield from self._collect(min(0.1, left), last_try=True)
        for session_id in sorted(self.in_flight, key=self.in_flight.__getitem__):
            yield self.outcome(session_id, UNKNOWN, reason=self.stop_reason,
                               error=f"the {self.vocab.verb} request was sent; no answer within {self.grace_s:g}s of stopping")
        self.in_flight.clear()


def end_sessions(client, ids: Iterable[str], *, concurrency: int = 10, give_up_after: int | None = None,
                 recheck: Callable[[dict], bool] | None = None) -> Iterator[Outcome]:
    """Yield one Outcome per distinct id (see BulkEnd); a 401 ends the run with every id accounted for
    and the error re-raised afterwards."""
    run = BulkEnd(SessionEnder(client, recheck=recheck), concurrency=concurrency, give_up_after=give_up_after)
    yield from run.run(ids)
    if run.fatal is not None:
        raise run.fatal
