"""The one duration grammar: `500ms`, `30s`, `5m`, `2h`, `7d`, `1w` (decimals allowed: `1.5h`).

Every duration option parses here. A bare number means seconds only where the caller says so
(refresh intervals and timeouts); an age that selects what to end or delete must carry a unit,
since `--older-than 30` read as 30 seconds would select almost everything.
Only plain decimals are accepted, so NaN, inf and 1e-300 can never arrive.
Stdlib only: imported on the start-up path.
"""

from __future__ import annotations

import re
from datetime import timedelta

from cobrowse_cli.exitcodes import UsageError

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_GRAMMAR = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,9})?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
MAX_SECONDS = 100 * 365 * 86400  # beyond this, datetime arithmetic overflows; no one means it
EXAMPLES = "30s, 5m, 2h, 7d"


def is_duration(text: str, *, bare_seconds: bool = False) -> bool:
    match = _GRAMMAR.match(text or "")
    return bool(match) and (bare_seconds or match.group(2) is not None)


def parse_seconds(raw: str, *, option: str = "duration", bare_seconds: bool = False, minimum: float | None = None) -> float:
    """`raw` -> seconds (> 0, >= minimum, <= 100 years); anything else is a UsageError naming `option`."""
    text = raw if isinstance(raw, str) else ""
    match = _GRAMMAR.match(text)
    if not match:
        bare = " or a number of seconds" if bare_seconds else ""
        raise UsageError(f"invalid {option} {raw!r}: expected a number and a unit (ms, s, m, h, d, w){bare}, e.g. {EXAMPLES}")
    if match.group(2) is None and not bare_seconds:
        raise UsageError(f"invalid {option} {raw!r}: give a unit ({EXAMPLES}); a bare number is ambiguous here")
    seconds = float(match.group(1)) * UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise UsageError(f"invalid {option} {raw!r}: must be greater than zero")
    if minimum is not None and seconds < minimum:
        raise UsageError(f"invalid {option} {raw!r}: must be at least {format_seconds(minimum)}")
    if seconds > MAX_SECONDS:
        raise UsageError(f"invalid {option} {raw!r}: at most 100 years")
    return seconds


def parse_timedelta(raw: str, *, option: str = "duration", bare_seconds: bool = False, minimum: float | None = None) -> timedelta:
    return timedelta(seconds=parse_seconds(raw, option=option, bare_seconds=bare_seconds, minimum=minimum))


def format_seconds(seconds: float) -> str:
    """0.2 -> "0.2s", 90 -> "90s", 300 -> "5m": the inverse of the grammar, for messages."""
    for unit in ("w", "d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"
