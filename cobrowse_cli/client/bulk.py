"""End many sessions concurrently, reporting every one's outcome exactly once.

Library code (no CLI imports): `for outcome in end_sessions(client, ids): ...`.
Ending is an idempotent PUT, so the client's retries after a dropped response can never end a
session twice; a session that is already ended counts as done, not as a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from cobrowse_cli.client import errors
from cobrowse_cli.timeutil import parse_iso_or_none

ENDED = "ended"
ALREADY_ENDED = "already_ended"
NOT_FOUND = "not_found"
FAILED = "failed"
WOULD_END = "would_end"
SKIPPED = "skipped"
DONE = {ENDED, ALREADY_ENDED}


@dataclass
class Outcome:
    id: str
    outcome: str
    state: str | None = None
    ended_reason: str | None = None
    error: str | None = None
    status: int | None = None

    def as_row(self) -> dict:
        return asdict(self)


def _end_one(client, session_id: str, started: datetime) -> Outcome:
    try:
        session = client.end_session(session_id)
    except errors.NotFoundError as e:
        return Outcome(session_id, NOT_FOUND, error=str(e), status=e.status)
    except (errors.AuthenticationError, errors.ForbiddenError, errors.InsecureTransportError):
        raise  # every other item would fail the same way: stop the run
    except errors.CobrowseError as e:
        return Outcome(session_id, FAILED, error=str(e), status=getattr(e, "status", None))
    state = session.get("state")
    if state != "ended":
        return Outcome(session_id, FAILED, state=state, error=f"session is still {state} after the end request")
    ended_at = parse_iso_or_none(session.get("ended"))
    # Ended by someone or something else, or before this run started: done, but not by us.
    earlier = ended_at is not None and ended_at < started - timedelta(seconds=60)
    outcome = ALREADY_ENDED if session.get("ended_reason") != "agent_ended" or earlier else ENDED
    return Outcome(session_id, outcome, state=state, ended_reason=session.get("ended_reason"))


def _api_down(outcome: Outcome) -> bool:
    """A failure that says the API itself is unwell (network, 5xx, 429), not this one session."""
    return outcome.outcome == FAILED and outcome.state is None and (
        outcome.status is None or outcome.status == 429 or outcome.status >= 500)


def end_sessions(client, ids: Iterable[str], *, concurrency: int = 10,
                 give_up_after: int | None = None) -> Iterator[Outcome]:
    """Yield one Outcome per distinct id, with at most `concurrency` in flight.

    A session whose end failed because the API was unwell (network, 5xx, 429: already retried by the
    client) gets one more try after all the others; ending is idempotent, so that can never end anything
    twice. After `give_up_after` such failures in a row the rest are not attempted and are reported as
    `skipped`: a cron run against a dead API ends in minutes, not hours, and still accounts for every id.
    """
    give_up_after = give_up_after or max(10, 2 * concurrency)
    started = datetime.now(timezone.utc)
    seen: set[str] = set()
    held: list[Outcome] = []  # API-down failures, tried once more at the end
    down = 0

    def settle(outcome: Outcome, *, last_try: bool) -> Iterator[Outcome]:
        nonlocal down
        down = down + 1 if _api_down(outcome) else 0
        if _api_down(outcome) and not last_try:
            held.append(outcome)
        else:
            yield outcome

    def skipped(session_id: str) -> Outcome:
        return Outcome(session_id, SKIPPED, error=f"not attempted: the API failed {down} times in a row")

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="end") as pool:
        def run(batch: Iterable[str], *, last_try: bool) -> Iterator[Outcome]:
            pending: dict[Future, int] = {}  # future -> submission number

            def finished() -> Iterator[Outcome]:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                # Several may finish together: report them in the order they were selected, not set order.
                for future in sorted(done, key=pending.__getitem__):
                    del pending[future]
                    yield from settle(future.result(), last_try=last_try)

            try:
                for number, session_id in enumerate(batch):
                    if down >= give_up_after:
                        yield skipped(session_id)
                        continue
                    pending[pool.submit(_end_one, client, session_id, started)] = number
                    if len(pending) >= concurrency * 2:
                        yield from finished()
                while pending:
                    yield from finished()
            finally:
                for future in pending:
                    future.cancel()

        def distinct() -> Iterator[str]:
            for session_id in ids:
                if session_id not in seen:
                    seen.add(session_id)
                    yield session_id

        yield from run(distinct(), last_try=False)
        if held and down < give_up_after:
            down = 0
            yield from run([o.id for o in held], last_try=True)
        else:
            yield from held  # the API is down: report the failures as they were
