"""Parsing of user input shared by every command: filters, states, dates, durations.

The one place dates and durations are parsed, so `--activated-after 2h` means the same everywhere.
Errors are UsageError (exit 2) with one line naming the bad value.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from cobrowse_cli import durations, timeutil
from cobrowse_cli.choices import unknown
from cobrowse_cli.exitcodes import UsageError

SESSION_STATES = ("pending", "authorizing", "active", "ended")
_FILTER_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


def parse_filters(values: list[str] | None) -> dict[str, str]:
    """`user_id=42` -> {"user_id": "42"}: literal custom_data keys (the query model encodes them)."""
    filters: dict[str, str] = {}
    for raw in values or []:
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"invalid --filter {raw!r}: expected KEY=VALUE, e.g. --filter user_id=42")
        if not _FILTER_KEY.match(key):
            raise UsageError(f"invalid --filter key {key!r}: use letters, digits, '_', '-' or '.'")
        if key in filters:
            # What the API does with a repeated filter_ key (any of, all of, last wins) is undocumented.
            raise UsageError(f"--filter {key} given twice: one value per key (what the API does with more is unknown)")
        filters[key] = value
    return filters


def parse_states(values: list[str] | None) -> list[str]:
    states: list[str] = []
    for raw in values or []:
        for state in raw.split(","):
            state = state.strip().lower()
            if state not in SESSION_STATES:
                raise unknown("state", state, SESSION_STATES)
            if state not in states:
                states.append(state)
    return states


def parse_duration(raw: str, *, option: str = "duration") -> timedelta:
    """An age or span that needs a unit (`30m`, `2h`, `7d`): the one grammar in durations.py."""
    return durations.parse_timedelta(raw, option=option)


def parse_time(raw: str, *, option: str = "time", now: datetime | None = None) -> datetime:
    """ISO-8601 (`2026-11-25`, `2026-11-25T10:00:00Z`, with offset) or relative (`30m` = 30 minutes ago)."""
    now = now or datetime.now(timezone.utc)
    text = (raw or "").strip()
    if durations.is_duration(text):
        return now - parse_duration(text, option=option)
    try:
        return timeutil.parse_iso(text)  # naive input means UTC, as the API speaks UTC
    except ValueError as e:
        if "out of range" in str(e):
            raise UsageError(f"invalid {option} {raw!r}: out of range") from None
        raise UsageError(
            f"invalid {option} {raw!r}: expected ISO-8601 (2026-11-25T10:00:00Z) or a relative time (30m, 2h, 7d)"
        ) from None


iso = timeutil.iso_ms  # the API's timestamp form


def require_id(value: str, *, kind: str = "session") -> str:
    """A session or device id (or 6-digit code) as one URL path segment; anything else is a usage error."""
    text = (value or "").strip()
    # "." and ".." would be normalised away in the URL path and address another resource.
    if not text or text in (".", "..") or "/" in text or any(c.isspace() or not c.isprintable() for c in text):
        raise UsageError(f"invalid {kind} id {value!r}")
    return text


def parse_limit(value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise UsageError(f"invalid --limit {value}: must be a positive number")
    return value


def parse_key_values(values: list[str] | None, *, option: str) -> dict[str, str | None]:
    """`plan=pro` -> {"plan": "pro"}; `plan=` -> {"plan": None} (removes the key, as the API merges)."""
    out: dict[str, str | None] = {}
    for raw in values or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid {option} {raw!r}: expected KEY=VALUE (KEY= removes the key)")
        out[key.strip()] = value if value != "" else None
    return out
