"""The pure parts of a watch: diff/dedupe, stop conditions, backoff, line format (no server needed)."""

from __future__ import annotations

import pytest

from cobrowse_cli.exitcodes import UsageError
from cobrowse_cli.output.events import format_line
from cobrowse_cli.watch.conditions import Conditions, parse_until
from cobrowse_cli.watch.diff import Tracker
from cobrowse_cli.watch.socket import backoff_delay


def session(updated: str, **fields) -> dict:
    return {"id": "s1", "state": "pending", "custom_data": {}, "updated": updated, **fields}


def test_same_change_twice_prints_once_and_stale_copies_are_ignored():
    t = Tracker("session")
    assert t.observe(session("2026-01-01T00:00:00.000Z"), initial=True).type == "added"
    newer = session("2026-01-01T00:00:05.000Z", state="active", custom_data={"a": "1"})
    event = t.observe(newer)
    assert event.type == "updated"
    assert [c.as_dict() for c in event.changed] == [
        {"field": "state", "old": "pending", "new": "active"},
        {"field": "custom_data.a", "old": None, "new": "1"},
    ]
    assert t.observe(dict(newer)) is None  # the re-list sees what the socket already reported
    assert t.observe(session("2026-01-01T00:00:01.000Z")) is None  # an older listing, overtaken
    assert t.get("s1")["state"] == "active"


def test_ended_and_removed_keys():
    t = Tracker("session")
    t.observe(session("2026-01-01T00:00:00.000Z", state="active", custom_data={"k": "v"}))
    event = t.observe(session("2026-01-01T00:00:09.000Z", state="ended", ended_reason="agent_ended"))
    assert event.type == "ended"
    assert {"field": "custom_data.k", "old": "v", "new": None} in [c.as_dict() for c in event.changed]


def test_presence_is_kept_across_device_bodies():
    t = Tracker("device")
    t.observe({"id": "d1", "connectable": True, "custom_data": {}})
    first = t.presence({"id": "d1", "present": False, "last_seen": "2026-01-01T00:00:00.000Z"})
    assert first.initial and first.changed[0].new is False
    assert t.presence({"id": "d1", "present": False}) is None
    assert t.presence({"id": "d1", "present": True}).type == "presence"
    assert t.observe({"id": "d1", "connectable": True, "custom_data": {}}) is None  # online not lost
    assert t.get("d1")["online"] is True


def test_until_and_count():
    c = Conditions(until=parse_until(["state=ended", "custom_data.plan=pro"]))
    assert not c.met_by({"state": "ended", "custom_data": {}}, initial=False)
    assert c.met_by({"state": "ended", "custom_data": {"plan": "pro"}}, initial=False)
    assert Conditions(until=parse_until(["online=true"])).met_by({"online": True}, initial=True)
    c = Conditions(count=2)
    assert not c.met_by({}, initial=True) and not c.met_by({}, initial=False) and c.met_by({}, initial=False)
    with pytest.raises(UsageError):
        parse_until(["=x"])
    with pytest.raises(UsageError):
        Conditions(count=0)


def test_backoff_follows_the_sdk_formula():
    assert backoff_delay(0, 1.5) == 0
    assert backoff_delay(1, 1.5) == 1.5  # (300 ms)^1.2 ≈ 0.94-1.4 s is below the 1-2 s floor
    for attempt in (5, 10):
        base = (300 * attempt) ** 1.2 / 1000
        assert base <= backoff_delay(attempt, 1.0) <= base * 1.5 + 0.001
    assert backoff_delay(100, 1.0) == 60.0


def test_line_format():
    line = format_line({"type": "updated", "kind": "session", "at": "2026-11-25T21:03:04.123Z", "resource": {"id": "5f2c"},
                        "changed": [{"field": "state", "old": "pending", "new": "active"},
                                    {"field": "custom_data.ticket", "old": None, "new": "T-1\x1b[2J"}]})
    assert line == "2026-11-25T21:03:04Z  session 5f2c  updated  state pending → active, custom_data.ticket (none) → T-1\\x1b[2J\n"
