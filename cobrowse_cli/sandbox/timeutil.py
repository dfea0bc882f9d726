"""Timestamps the way the API serves them: ISO-8601 UTC, milliseconds, `Z` (JS `toISOString()`)."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


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
