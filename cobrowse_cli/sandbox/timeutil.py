"""Timestamps the way the API serves them: ISO-8601 UTC, milliseconds, `Z` (JS `toISOString()`)."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_DAY_PREFIX: dict[int, str] = {}
_DAY_MS = 86_400_000


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    # Formatting datetimes was the hot spot of seeding 100k sessions: cache the date, do the clock by hand.
    day, rem = divmod(ms, _DAY_MS)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = datetime.fromtimestamp(day * 86_400, timezone.utc).strftime("%Y-%m-%dT")
    h, rem = divmod(rem, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, milli = divmod(rem, 1000)
    return "%s%02d:%02d:%02d.%03dZ" % (prefix, h, m, s, milli)


def parse_iso_us(text: str) -> int:
    """Parse an ISO-8601 date into integer microseconds since the epoch (naive means UTC).

    Microseconds rather than ms so a boundary like `...00.000500Z` still compares exactly.
    Raises ValueError on anything that is not a date.
    """
    text = text.strip()
    if not text or len(text) > 64:
        raise ValueError("empty or too long")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
