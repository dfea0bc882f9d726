"""Timestamps for people: ISO-8601 in, "3m ago" / "in 2h" out."""

from __future__ import annotations

from datetime import datetime, timezone

from cobrowse_cli.timeutil import parse_iso

# (limit in seconds, seconds per unit, suffix), smallest unit first.
_UNITS = (
    (60, 1, "s"),
    (3600, 60, "m"),
    (86400, 3600, "h"),
    (86400 * 30, 86400, "d"),
    (86400 * 365, 86400 * 30, "mo"),
    (None, 86400 * 365, "y"),
)


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
