"""When a watch stops: `--until FIELD=VALUE` (all must hold on one resource), `--count N`, `--timeout`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from cobrowse_cli.exitcodes import UsageError
from cobrowse_cli.fieldpath import get_path

_MISSING = object()


@dataclass(frozen=True)
class Until:
    path: str  # dotted: state, online, custom_data.plan
    expected: str

    def holds(self, resource: dict) -> bool:
        value = _lookup(resource, self.path)
        return value is not _MISSING and _as_text(value) == self.expected


def parse_until(values: list[str] | None) -> list[Until]:
    out = []
    for raw in values or []:
        path, sep, expected = raw.partition("=")
        path = path.strip()
        if not sep or not path or any(not part for part in path.split(".")):
            raise UsageError(f"invalid --until {raw!r}: expected FIELD=VALUE, e.g. --until state=ended")
        out.append(Until(path, expected.strip()))
    return out


def _lookup(resource: Any, path: str) -> Any:
    return get_path(resource, path, _MISSING)


def _as_text(value: Any) -> str:
    """How a value compares with the text after `=`: true/false, null, numbers and strings as typed."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


@dataclass
class Conditions:
    until: list[Until] = field(default_factory=list)
    count: int | None = None
    timeout: float | None = None  # seconds
    seen: int = 0  # events after the first listing
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise UsageError(f"invalid --count {self.count}: must be at least 1")

    @property
    def deadline(self) -> float | None:
        return None if self.timeout is None else self.started + self.timeout

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def met_by(self, resource: dict, *, initial: bool) -> bool:
        """Called once per printed event, after printing it."""
        if not initial:
            self.seen += 1
        if self.until and all(u.holds(resource) for u in self.until):
            return True
        return self.count is not None and self.seen >= self.count
