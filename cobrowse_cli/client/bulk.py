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


def end_sessions(client, ids: Iterable[str], *, concurrency: int = 10) -> Iterator[Outcome]:
    """Yield one Outcome per distinct id, in completion order, with at most `concurrency` in flight."""
    started = datetime.now(timezone.utc)
    seen: set[str] = set()
    pending: set[Future] = set()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="end") as pool:
        try:
            for session_id in ids:
                if session_id in seen:
                    continue
                seen.add(session_id)
                pending.add(pool.submit(_end_one, client, session_id, started))
                if len(pending) >= concurrency * 2:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        finally:
            for f in pending:
                f.cancel()
