"""Timestamps for people: ISO-8601 in, "3m ago" / "in 2h" out."""

from __future__ import annotations

from datetime import datetime, timezone

# (limit in seconds, seconds per unit, suffix), smallest unit first.
_UNITS = (
    (60, 1, "s"),
    (3600, 60, "m"),
    (86400, 3600, "h"),
    (86400 * 30, 86400, "d"),
    (86400 * 365, 86400 * 30, "mo"),
    (None, 86400 * 365, "y"),
)


def parse_iso(s: str) -> datetime:
    """ISO-8601 with `Z`, an offset, or none (read as UTC, which is what the API speaks). Raises ValueError."""
    if not isinstance(s, str):
        raise ValueError(f"not an ISO-8601 string: {s!r}")
    text = s.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def relative_time(iso: str, now: datetime) -> str:
    """"3m ago", "in 2h", "just now"; the input unchanged when it is not a timestamp."""
    try:
        then = parse_iso(iso)
    except ValueError:
        return str(iso)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    seconds = (now - then).total_seconds()
    past = seconds >= 0
    seconds = abs(seconds)
    if seconds < 1:
        return "just now"
    for limit, unit, suffix in _UNITS:
        if limit is None or seconds < limit:
            amount = f"{int(seconds // unit)}{suffix}"
            return f"{amount} ago" if past else f"in {amount}"
    raise AssertionError("unreachable")
