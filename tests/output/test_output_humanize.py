from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cobrowse_cli.output.humanize import relative_time
from cobrowse_cli.timeutil import parse_iso

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def iso_ago(**delta) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "when, expected",
    [
        (iso_ago(seconds=0), "just now"),
        (iso_ago(seconds=5), "5s ago"),
        (iso_ago(seconds=59), "59s ago"),
        (iso_ago(minutes=3), "3m ago"),
        (iso_ago(minutes=3, seconds=59), "3m ago"),
        (iso_ago(hours=2), "2h ago"),
        (iso_ago(days=2), "2d ago"),
        (iso_ago(days=60), "2mo ago"),
        (iso_ago(days=800), "2y ago"),
        (iso_ago(hours=-2), "in 2h"),
        (iso_ago(minutes=-90), "in 1h"),
        (iso_ago(days=-3), "in 3d"),
    ],
)
def test_relative_time(when, expected):
    assert relative_time(when, NOW) == expected


def test_relative_time_accepts_offsets_and_milliseconds():
    assert relative_time("2026-03-01T13:56:59.500+02:00", NOW) == "3m ago"
    assert relative_time("2026-03-01T11:57:00.000Z", NOW) == "3m ago"


def test_relative_time_leaves_non_dates_alone():
    assert relative_time("not a date", NOW) == "not a date"
    assert relative_time("", NOW) == ""


def test_parse_iso():
    assert parse_iso("2026-03-01T12:00:00Z") == NOW
    assert parse_iso("2026-03-01T12:00:00.000z") == NOW
    assert parse_iso("2026-03-01T14:00:00+02:00") == NOW
    naive_is_utc = parse_iso("2026-03-01T12:00:00")
    assert naive_is_utc == NOW and naive_is_utc.tzinfo is not None
    with pytest.raises(ValueError):
        parse_iso("yesterday")
    with pytest.raises(ValueError):
        parse_iso(None)  # type: ignore[arg-type]
