"""Points 2-5 and 12: global options anywhere, loud typos, gh's --json/--jq habits, version/help, one
duration grammar, help nits."""

from __future__ import annotations

import json

import pytest

from cobrowse_cli import durations
from cobrowse_cli.app import _click_root, register_commands
from cobrowse_cli.argv_rules import expand_json_fields, hoist_globals
from cobrowse_cli.exitcodes import UsageError
from tests.helpers import assert_one_line_error


# ---- 2. global options before or after the subcommand -------------------------------------------


def test_global_options_move_in_front_of_the_command():
    register_commands()
    assert hoist_globals(["sessions", "list", "--profile", "eu", "--debug"], _click_root) == \
        ["--profile", "eu", "--debug", "sessions", "list"]
    assert hoist_globals(["sessions", "--no-color", "list", "--jq=.[]"], _click_root) == ["--no-color", "--jq=.[]", "sessions", "list"]
    assert hoist_globals(["auth", "login", "--sandbox"], _click_root) == ["auth", "login", "--sandbox"]  # login's own option
    assert hoist_globals(["sessions", "list", "--filter", "--debug"], _click_root) == ["sessions", "list", "--filter", "--debug"]  # a value
    assert hoist_globals(["api", "GET", "/x", "--", "--debug"], _click_root) == ["api", "GET", "/x", "--", "--debug"]


def test_profile_after_the_command_is_honoured(cli):
    assert_one_line_error(cli("sessions", "list", "--profile", "eu"), 2, "unknown profile 'eu' (flag)")
    code, out, _ = cli("count-active", "--no-color", "--debug")
    assert code == 0 and int(out) > 0


# ---- 3. typos are loud ------------------------------------------------------------------------


@pytest.mark.parametrize("argv,needle", [
    (["sessions", "list", "--json=bogus"], 'unknown --json field "bogus"; valid: id, code, state'),
    (["sessions", "list", "--json", "id,stat"], 'unknown --json field "stat" (did you mean "state"?)'),
    (["sessions", "list", "--columns", "id,bogus"], 'unknown --columns field "bogus"'),
    (["devices", "list", "--json", "id,conectable"], 'did you mean "connectable"?'),
    (["sessions", "list", "--state", "actve"], 'unknown state "actve" (did you mean "active"?)'),
    (["count-active", "--by", "agnet"], 'unknown --by key "agnet" (did you mean "agent"?)'),
    (["help", "sesions"], 'unknown command "sesions" (did you mean "sessions"?)'),
])
def test_typos_are_usage_errors_that_list_the_valid_values(cli, argv, needle):
    assert_one_line_error(cli(*argv), 2, needle)


def test_custom_data_paths_stay_open(cli):
    code, out, _ = cli("sessions", "list", "--agent", "all", "--limit", "2", "--json", "id,custom_data.anything")
    assert code == 0 and [set(r) for r in json.loads(out)] == [{"id", "custom_data"}] * 2


def test_an_agent_id_that_matches_nothing_is_said(cli):
    code, out, err = cli("count-active", "--agent", "Bob")
    assert code == 0 and out == "0\n" and "no sessions of agent 'Bob' in the whole listing; agents seen: " in err


# ---- 4. gh habits -----------------------------------------------------------------------------


def test_json_fields_with_a_space_or_an_equals(cli):
    for argv in (["--json", "id,state"], ["--json=id,state"]):
        code, out, _ = cli("sessions", "list", "--agent", "all", "--limit", "3", *argv)
        assert code == 0 and [list(r) for r in json.loads(out)] == [["id", "state"]] * 3


def test_a_word_after_json_that_is_not_a_field_list_stays_an_argument():
    assert expand_json_fields(["sessions", "get", "--json", "123456"]) == ["sessions", "get", "--json", "123456"]
    assert expand_json_fields(["sessions", "get", "--json", "state", "x"]) == \
        ["sessions", "get", "--json", "--fields", "state", "x"]


def test_get_by_code_with_json(cli, sandbox):
    session = sandbox.api("POST", "/api/1/sessions", json={"custom_data": {"t": "json-code"}}).json
    code, out, _ = cli("sessions", "get", "--json", session["code"])
    assert code == 0 and json.loads(out)["id"] == session["id"]


def test_jq_filters_json_output(cli):
    code, out, _ = cli("sessions", "list", "--agent", "all", "--limit", "3", "--jq", ".[].state")
    assert code == 0 and len(out.splitlines()) == 3 and all(s in ("pending", "authorizing", "active", "ended")
                                                                for s in out.split())  # strings raw, as gh
    code, out, _ = cli("count-active", "--by", "agent", "--jq", ".active")
    assert code == 0 and int(out) > 0
    code, out, _ = cli("--jq", "{id}", "sessions", "list", "--agent", "all", "--limit", "1", "--ndjson")
    assert code == 0 and list(json.loads(out)) == ["id"]


def test_jq_on_watch_status_and_config(cli):
    code, out, _ = cli("sessions", "watch", "--agent", "all", "--state", "active", "--transport", "poll",
                              "--timeout", "1", "--jq", ".resource.state")
    assert code == 7 and out and set(out.split()) == {"active"}
    code, out, _ = cli("config", "profiles", "--jq", "length")
    assert code == 0 and out == "0\n"


def test_jq_where_no_json_is_printed_is_a_usage_error(cli):
    assert_one_line_error(cli("config", "path", "--jq", "."), 2, "--jq does not apply to 'config path'")


def test_bad_jq_is_a_usage_error_before_any_request(cli):
    nowhere = {"COBROWSE_API": "http://127.0.0.1:9"}  # nothing listens: any request would fail with 1
    assert_one_line_error(cli("sessions", "list", "--jq", ".[", env=nowhere), 2, "invalid --jq expression")
    assert_one_line_error(cli("sessions", "list", "--jq", ".", "--csv", env=nowhere), 2, "--jq filters JSON")


def test_version_and_help_commands(cli):
    code, out, _ = cli("version")
    assert code == 0 and out.startswith("cobrowse ")
    assert cli("--version").out == out
    code, out, _ = cli("help", "sessions", "list")
    assert code == 0 and "Usage: cobrowse sessions list" in out and "--limit" in out


# ---- 5. one duration grammar (and issue 13 item 8) ----------------------------------------------


@pytest.mark.parametrize("raw,seconds", [("30s", 30), ("5m", 300), ("2h", 7200), ("7d", 604800), ("1.5h", 5400),
                                          ("250ms", 0.25), ("5", 5), (" 10 S ", 10)])
def test_grammar(raw, seconds):
    assert durations.parse_seconds(raw, bare_seconds=True) == seconds


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e-300", "1e3", "-5s", "0", "0s", "", "5 years", "0x10", "½s"])
def test_not_a_duration(raw):
    with pytest.raises(UsageError):
        durations.parse_seconds(raw, option="--watch", bare_seconds=True, minimum=1)


def test_ages_need_a_unit_and_intervals_have_a_minimum():
    with pytest.raises(UsageError, match="give a unit"):
        durations.parse_seconds("30", option="--older-than")
    with pytest.raises(UsageError, match="at least 1s"):
        durations.parse_seconds("0.5", option="--watch", bare_seconds=True, minimum=1)


@pytest.mark.parametrize("argv,needle", [
    (["count-active", "--watch", "nan"], "invalid --watch 'nan'"),
    (["count-active", "--watch", "0.5"], "must be at least 1s"),
    (["count-active", "--watch", "inf"], "invalid --watch 'inf'"),
    (["sessions", "end", "--older-than", "30", "--dry-run"], "give a unit"),
    (["sessions", "end", "--inactive-for", "1e-300", "--dry-run"], "invalid --inactive-for"),
    (["sessions", "watch", "--timeout", "nan"], "invalid --timeout"),
    (["sessions", "watch", "--interval", "0.01"], "at least 0.2s"),
])
def test_duration_options_share_the_grammar(cli, argv, needle):
    assert_one_line_error(cli(*argv), 2, needle)


def test_bare_seconds_for_timeouts(cli, sandbox):
    code, _, err = cli("sessions", "watch", "--filter", "none=none", "--transport", "poll", "--timeout", "1")
    assert code == 7, err


# ---- 12. help nits ------------------------------------------------------------------------------


def test_help_nits(cli):
    _, out, _ = cli("sessions", "get", "--help")
    assert "Usage: cobrowse sessions get [OPTIONS] ID_OR_CODE" in out
    _, out, _ = cli("sessions", "list", "--help")
    assert "At most N sessions (default 100" in out
    _, out, _ = cli("count-active", "--help")
    assert "selects fields" not in out and "--json" in out
    _, out, _ = cli("--help")
    assert "--install-completion" not in out and "--show-completion" not in out
