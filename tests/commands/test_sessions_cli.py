"""`cobrowse sessions …` end to end: the CLI against a real sandbox process.

The CLI runs in-process (`cli_in_process`) except where a real process is the point (the closed pipe).
"""

from __future__ import annotations

import csv
import io
import json

import pytest


@pytest.fixture
def cli(cli_in_process):
    return cli_in_process


def _truth_ids(sandbox, state="active"):
    """Every session id in `state`, read from the sandbox with urllib (not our client)."""
    ids, before = set(), None
    while True:
        query = f"/api/1/sessions?agent=all&state={state}&limit=1000" + (f"&activated_before={before}" if before else "")
        page = sandbox.api("GET", query, token=sandbox.admin_token()).body
        new = {s["id"] for s in page} - ids
        ids |= new
        if len(page) < 1000:
            return ids
        assert new, "truth paging stalled"
        last = page[-1]["activated"] or page[-1]["created"]
        before = last[:-5] + f"{int(last[-4:-1]) + 1:03d}Z" if last[-4:-1] != "999" else last  # +1 ms


def test_list_json_is_an_array_of_sessions_with_field_selection(cli, sandbox):
    r = cli("sessions", "list", "--agent", "all", "--state", "active", "--all", "--json=id,state,custom_data.user_id")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert {row["id"] for row in rows} == _truth_ids(sandbox)
    assert all(list(row) == ["id", "state", "custom_data.user_id"] or set(row) == {"id", "state", "custom_data"}
               for row in rows)
    assert {row["state"] for row in rows} == {"active"}


def test_ndjson_csv_and_ids_agree(cli, sandbox):
    nd = cli("sessions", "list", "--agent", "all", "--all", "--ndjson")
    ids = cli("sessions", "list", "--agent", "all", "--all", "-q")
    table = cli("sessions", "list", "--agent", "all", "--all", "--csv", "--fields", "id,state")
    assert nd.code == ids.code == table.code == 0
    nd_ids = [json.loads(line)["id"] for line in nd.lines]
    assert len(nd_ids) == 200 and len(set(nd_ids)) == 200  # SMALL_SEED: every session once
    assert ids.lines == nd_ids
    rows = list(csv.DictReader(io.StringIO(table.out)))
    assert [row["id"] for row in rows] == nd_ids and set(rows[0]) == {"id", "state"}


def test_piped_output_is_plain_tab_separated(cli):
    r = cli("sessions", "list", "--agent", "all", "--limit", "5", env={"NO_COLOR": ""})
    assert r.code == 0 and len(r.lines) == 5
    assert "\x1b[" not in r.out
    assert all(len(line.split("\t")) == 6 for line in r.lines)


def test_filters_and_states_reach_the_api(cli, sandbox):
    created = sandbox.control("POST", "/_sandbox/sessions",
                              {"count": 3, "state": "active", "custom_data": {"user_id": "cli-42"}, "agent": "admin@sandbox.test"})
    r = cli("sessions", "list", "--filter", "user_id=cli-42", "--state", "active,pending", "--json")
    assert r.code == 0, r.err
    assert sorted(s["id"] for s in json.loads(r.out)) == sorted(created["ids"])


def test_empty_result_is_not_an_error(cli):
    for fmt, expected in (("--json", "[]"), ("--ndjson", ""), ("-q", "")):
        r = cli("sessions", "list", "--filter", "user_id=nobody", fmt)
        assert r.code == 0 and r.out.strip() == expected


def test_get_by_id_and_code_and_update_merges_custom_data(cli, sandbox):
    s = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active", "agent": "admin@sandbox.test",
                                                     "custom_data": {"plan": "pro", "old": "x"}})["sessions"][0]
    by_code = json.loads(cli("sessions", "get", s["code"], "--json").out)
    assert by_code["id"] == s["id"]
    r = cli("sessions", "update", s["id"], "--custom-data", "ticket=T-1", "--custom-data", "old=", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["custom_data"] == {"plan": "pro", "ticket": "T-1"}
    assert sandbox.api("GET", f"/api/1/sessions/{s['id']}", token=sandbox.admin_token()).body["custom_data"]["ticket"] == "T-1"


def test_open_prints_the_agent_url_without_the_token_unless_asked(cli, sandbox):
    s = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active"})["sessions"][0]
    plain = cli("sessions", "open", s["id"])
    assert plain.code == 0 and plain.out.strip() == f"{sandbox.url}/session/{s['id']}"
    secret = cli("sessions", "open", s["id"], "--with-token", "--end-action", "none")
    assert secret.out.startswith(f"{sandbox.url}/session/{s['id']}?end_action=none&token=ey")


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["sessions", "list", "--filter", "user_id"], 2, "KEY=VALUE"),
        (["sessions", "list", "--state", "activ"], 2, 'unknown state "activ"'),
        (["sessions", "list", "--activated-after", "yesterday"], 2, "--activated-after"),
        (["sessions", "list", "--limit", "0"], 2, "--limit"),
        (["sessions", "list", "--limit", "-3"], 2, "--limit"),
        (["sessions", "list", "--json", "--csv"], 2, ""),
        (["sessions", "list", "--bogus"], 2, "--bogus"),
        (["sessions", "get", "no-such-session"], 4, "no-such-session"),
        (["devices", "get", "no-such-device"], 4, "no-such-device"),
        (["sessions", "end"], 2, "nothing selected"),
        (["sessions", "end", "--older-than", "soon", "--yes"], 2, "--older-than"),
    ],
)
def test_bad_input_gives_one_line_and_the_right_code(cli, one_line_error, args, code, needle):
    one_line_error(cli(*args), code, needle)


def test_auth_failures_exit_3(cli, sandbox, one_line_error):
    one_line_error(cli("sessions", "list", token=None), 3)
    one_line_error(cli("sessions", "list", token=sandbox.token(ttl=-60)), 3, "expired")
    # role before reach: refused before any request, with the way out
    one_line_error(cli("sessions", "list", "--agent", "all", token=sandbox.token()), 3, "administrator", "--agent me")
    one_line_error(cli("sessions", "list", token="not-a-jwt"), 3, "401")


def test_closed_pipe_ends_quietly(sandbox, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    cobrowse = str(Path(sys.executable).with_name("cobrowse"))
    env = {**os.environ, "COBROWSE_API": sandbox.url, "COBROWSE_TOKEN": sandbox.admin_token(),
           "COBROWSE_CONFIG": str(tmp_path / "c.toml")}
    proc = subprocess.Popen([cobrowse, "sessions", "list", "--agent", "all", "--all", "--ndjson"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0
    assert json.loads(first)["id"]
    assert err == ""


def test_usage_errors_point_at_the_right_help(cli, one_line_error):
    one_line_error(cli("sessions", "list", "--state"), 2, "see 'cobrowse sessions list --help'")
    one_line_error(cli("count-active", "--json=active"), 2, "takes no field list")
