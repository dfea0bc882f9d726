"""Input parsing: the one place filters, states, durations and times are read."""

from datetime import datetime, timedelta, timezone

import pytest

from cobrowse_cli.commands import _parse
from cobrowse_cli.exitcodes import USAGE, UsageError

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def test_filters_become_literal_keys():
    assert _parse.parse_filters(["user_id=42", "plan=pro=x", "empty="]) == {
        "user_id": "42",
        "plan": "pro=x",
        "empty": "",
    }


def test_a_repeated_filter_key_is_a_usage_error():
    with pytest.raises(UsageError, match="--filter plan given twice"):
        _parse.parse_filters(["plan=a", "plan=b"])


@pytest.mark.parametrize("bad", ["user_id", "=42", "", "user id=4", "a&b=1"])
def test_malformed_filters_are_usage_errors(bad):
    with pytest.raises(UsageError) as err:
        _parse.parse_filters([bad])
    assert err.value.exit_code == USAGE
    assert "\n" not in str(err.value)


def test_states_accept_repeats_and_commas_and_dedupe():
    assert _parse.parse_states(["active,pending", "ACTIVE", "ended"]) == ["active", "pending", "ended"]
    with pytest.raises(UsageError, match='unknown state "activ"'):
        _parse.parse_states(["activ"])


@pytest.mark.parametrize(
    "raw,seconds", [("30m", 1800), ("2h", 7200), ("7d", 604800), ("90s", 90), ("1.5h", 5400), ("250ms", 0.25)]
)
def test_durations(raw, seconds):
    assert _parse.parse_duration(raw) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "30", "m", "-5m", "0s", "5 years", "1e3s"])
def test_bad_durations(bad):
    with pytest.raises(UsageError):
        _parse.parse_duration(bad, option="--older-than")


def test_relative_and_iso_times():
    assert _parse.parse_time("2h", now=NOW) == NOW - timedelta(hours=2)
    assert _parse.parse_time("2026-11-25T10:00:00Z", now=NOW) == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert _parse.parse_time("2026-11-25T12:00:00+02:00") == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert _parse.parse_time("2026-11-25") == datetime(2026, 11, 25, tzinfo=timezone.utc)  # naive means UTC


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "10:00pm", ""])
def test_bad_times_name_the_option(bad):
    with pytest.raises(UsageError, match="--activated-after"):
        _parse.parse_time(bad, option="--activated-after")


def test_iso_matches_javascript_to_iso_string():
    assert _parse.iso(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)) == "2026-01-02T03:04:05.678Z"


def test_limits_and_key_values():
    assert _parse.parse_limit(5) == 5 and _parse.parse_limit(None) is None
    for bad in (0, -1):
        with pytest.raises(UsageError):
            _parse.parse_limit(bad)
    assert _parse.parse_key_values(["a=1", "b="], option="--custom-data") == {"a": "1", "b": None}
    with pytest.raises(UsageError):
        _parse.parse_key_values(["novalue"], option="--custom-data")


def test_iso_pads_years_below_1000_as_the_api_expects():
    assert _parse.iso(datetime(999, 1, 2, tzinfo=timezone.utc)) == "0999-01-02T00:00:00.000Z"
    assert _parse.iso(_parse.parse_time("0001-01-01")) == "0001-01-01T00:00:00.000Z"
