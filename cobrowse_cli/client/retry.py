"""When to retry, and how long to wait: the one place for the client's retry policy.

- GET, PUT and DELETE are idempotent (the SDK's PUT sends the whole change set with the id), so they
  are retried after connect errors, dropped connections and timeouts, 429, 502/503/504, and 500 for GET.
- POST is never retried once it may have reached the server: a second `POST /sessions` would create a
  second session. The one safe case is a failure to connect at all (nothing was sent).
- Waits are capped exponential backoff with full jitter; a 429's Retry-After (seconds or an HTTP date)
  is honoured up to RETRY_AFTER_CAP, and a longer demand fails at once instead of hanging the CLI.
- A 429 means the request was refused, not processed, so it is retried more often (RATE_LIMITED_RETRIES)
  than other failures, still within the call's time budget; and its Retry-After gets up to as much again
  (at most 1 s) on top: clients told to come back in the same second do not all come back in it and
  meet the same limit again (processes sharing one rate limit ran out of retries that way).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP = 60.0
RATE_LIMITED_RETRIES = 20
sleep = time.sleep  # the one wait between attempts; tests replace it (tests/support/cli.py)


def retry_status(method: str, status: int) -> bool:
    if method not in IDEMPOTENT:
        return False
    return status in RETRY_STATUSES or (status == 500 and method in ("GET", "HEAD"))


def retry_error(method: str, *, sent: bool) -> bool:
    """A transport error: `sent` is False when the connection was never established."""
    return not sent or method in IDEMPOTENT


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return (rng or random).uniform(0, ceiling)


def spread(retry_after: float, rng: random.Random | None = None) -> float:
    """Retry-After plus up to as much again, at most 1 s more: never sooner than the server asked."""
    return retry_after + (rng or random).uniform(0, min(retry_after, 1.0))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
