"""API timestamps, read and written in one place (stdlib only, importable from every layer but the
sandbox, which keeps its own on purpose: server and client must not share a bug).

The API speaks UTC ISO-8601 with milliseconds and `Z`, like JavaScript's `toISOString()`.
"""

from __future__ import annotations

from datetime import datetime, timezone


def parse_iso(text: str) -> datetime:
    """`2026-11-25T10:00:00.123Z`, an offset, or none (read as UTC) -> an aware UTC datetime.

    Raises ValueError for anything else, and for values that leave datetime's range in UTC.
    """
    if type(text) is str and len(text) == 24 and text[-1] == "Z":  # the API's own form, a listing's hot path
        try:
            return datetime.fromisoformat(text)  # Python >= 3.11 reads `Z` as timezone.utc
        except ValueError:
            pass  # e.g. padded with spaces: the general path below decides
    if not isinstance(text, str):
        raise ValueError(f"not an ISO-8601 string: {text!r}")
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00
        raise ValueError(f"out of range: {text!r}") from None


def parse_iso_or_none(text: object) -> datetime | None:
    try:
        return parse_iso(text)  # type: ignore[arg-type]
    except ValueError:
        return None


def iso_ms(moment: datetime) -> str:
    """UTC, milliseconds, `Z`, four-digit year (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    m = moment.astimezone(timezone.utc)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
            f"{m.microsecond // 1000:03d}Z")


def now_iso() -> str:
    return iso_ms(datetime.now(timezone.utc))
