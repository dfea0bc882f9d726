from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from cobrowse_cli.output import Column

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)

SESSION_COLUMNS = [
    Column("id"),
    Column("state", kind="state"),
    Column("agent.name", header="AGENT"),
    Column("custom_data", kind="json"),
    Column("activated", kind="time"),
]


class TTYStream(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class PipeStream(io.StringIO):
    def isatty(self) -> bool:
        return False


def make_session(i: int, **overrides) -> dict:
    row = {
        "id": f"s{i:04d}",
        "code": f"{100000 + i}",
        "state": ("pending", "active", "ended")[i % 3],
        "custom_data": {"user_id": str(i), "plan": "pro"},
        "agent": {"id": "ag1", "name": "Zoë Agent"} if i % 2 else None,
        "created": "2026-03-01T11:00:00.000Z",
        "activated": "2026-03-01T11:57:00.000Z",
        "recorded": bool(i % 2),
    }
    row.update(overrides)
    return row


@pytest.fixture(autouse=True)
def _clean_colour_env(monkeypatch):
    # The developer's own terminal settings must not change what the tests see.
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "TERM", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
