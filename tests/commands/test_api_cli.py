"""`cobrowse api METHOD PATH` end to end: the CLI against a real sandbox process.

The expected data is read from the sandbox with urllib (sandbox.api), never through our client. The CLI
runs in-process (`cli_in_process`): no test here is about a signal, a pipe or start-up; the terminal test
at the end runs a real process on a pty.
"""

from __future__ import annotations

import io
import json

import pytest

from cobrowse_cli.commands.api import ApiOptions, run
from cobrowse_cli.commands._context import Context
from tests.support.cli import isolated_env, run_in_process


@pytest.fixture
def cli(cli_in_process):
    return cli_in_process


def _requests(sandbox, method: str, path: str) -> dict[str, int]:
    """Requests the sandbox counted for one route: {status: count}."""
    routes = sandbox.stats()["requests"]["by_route"]
    return {str(r["status"]): r["count"] for r in routes if r["method"] == method and r["path"] == path}


def test_get_prints_the_response_as_compact_json_when_piped(cli, sandbox):
    r = cli("api", "GET", "/api/1/users/me")
    assert r.code == 0, r.err
    assert len(r.lines) == 1  # compact: one line for a pipe
    assert json.loads(r.out) == sandbox.api("GET", "/api/1/users/me", token=sandbox.admin_token()).body
    assert r.err == ""


def test_short_paths_mean_api_1(cli):
    full = cli("api", "GET", "/api/1/users/me")
    assert cli("api", "get", "users/me").out == full.out
    assert cli("api", "GET", "api/1/users/me").out == full.out


def test_fields_go_to_the_query_string_for_get(cli, sandbox):
    r = cli("api", "GET", "sessions", "-F", "state[]=active", "-F", "state[]=authorizing", "-F", "agent=all",
            "-F", "limit=7")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert len(rows) == 7 and {s["state"] for s in rows} <= {"active", "authorizing"}
    truth = sandbox.api("GET", "/api/1/sessions?agent=all&state[]=active&state[]=authorizing&limit=7",
                        token=sandbox.admin_token()).body
    assert [s["id"] for s in rows] == [s["id"] for s in truth]
    # a query in PATH is kept and extended by fields
    q = cli("api", "GET", "/api/1/sessions?agent=all&state[]=active", "-f", "limit=3")
    assert q.code == 0, q.err
    assert [s["state"] for s in json.loads(q.out)] == ["active"] * 3


def test_typed_fields_build_the_json_body(cli, sandbox, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("from a file\n")
    r = cli("api", "POST", "sessions",
            "-F", "custom_data[n]=7", "-F", "custom_data[vip]=true", "-F", "custom_data[gone]=null",
            "-F", "custom_data[code]=012345", "-F", "custom_data[version]=1.10", "-F", "custom_data[note]=@" + str(note),
            "-f", "custom_data[raw]=7", "-F", "custom_data[tags][]=a", "-F", "custom_data[tags][]=b")
    assert r.code == 0, r.err
    created = json.loads(r.out)
    expected = {"n": 7, "vip": True, "gone": None, "code": "012345", "version": "1.10", "note": "from a file\n",
                "raw": "7", "tags": ["a", "b"]}
    stored = sandbox.api("GET", f"/api/1/sessions/{created['id']}", token=sandbox.admin_token()).body
    # the sandbox drops null keys (merge semantics); everything else arrives typed as sent
    assert stored["custom_data"] == {k: v for k, v in expected.items() if v is not None}
    assert created["state"] == "pending"


def test_put_and_field_from_stdin(cli, sandbox):
    sid = json.loads(cli("api", "POST", "sessions").out)["id"]
    r = cli("api", "PUT", f"sessions/{sid}", "-F", "custom_data[ticket]=@-", "-F", "state=ended", "-F", f"id={sid}",
            input="T-99")
    assert r.code == 0, r.err
    stored = sandbox.api("GET", f"/api/1/sessions/{sid}", token=sandbox.admin_token()).body
    assert stored["state"] == "ended" and stored["custom_data"]["ticket"] == "T-99"


def test_input_sends_a_json_body_and_fields_go_to_the_query(cli, sandbox, tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"custom_data": {"user_id": "from-input", "n": [1, 2]}}))
    r = cli("api", "POST", "sessions", "--input", str(body))
    assert r.code == 0, r.err
    assert json.loads(r.out)["custom_data"] == {"user_id": "from-input", "n": [1, 2]}
    piped = cli("api", "POST", "sessions", "--input", "-", input='{"custom_data": {"user_id": "stdin"}}')
    assert piped.code == 0 and json.loads(piped.out)["custom_data"] == {"user_id": "stdin"}
    listed = cli("api", "GET", "sessions", "--input", "-", "-f", "filter_user_id=from-input", input="")
    assert [s["custom_data"]["user_id"] for s in json.loads(listed.out)] == ["from-input"]


def test_paginate_walks_every_page_into_one_array(cli, sandbox):
    r = cli("api", "GET", "sessions", "--paginate", "-F", "agent=all", "-F", "limit=100")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    truth = sandbox.api("GET", "/api/1/sessions?agent=all&limit=1000", token=sandbox.admin_token()).body
    assert len(rows) == len(truth) == 200 and {s["id"] for s in rows} == {s["id"] for s in truth}
    assert _requests(sandbox, "GET", "/api/1/sessions")["200"] >= 3  # 200 sessions in pages of 100 (+ the truth)


def test_paginate_ndjson_streams_devices(cli, sandbox):
    r = cli("api", "GET", "/api/1/devices", "--paginate", "--ndjson")
    assert r.code == 0, r.err
    ids = [json.loads(line)["id"] for line in r.lines]
    truth = sandbox.api("GET", "/api/1/devices?limit=1000", token=sandbox.admin_token()).body
    assert sorted(ids) == sorted(d["id"] for d in truth) and len(ids) == 10


def test_ndjson_without_paginate_prints_a_lists_items(cli):
    r = cli("api", "GET", "sessions", "-F", "agent=all", "-F", "limit=4", "--ndjson")
    assert r.code == 0 and len(r.lines) == 4
    assert all(json.loads(line)["id"] for line in r.lines)


def test_include_prints_status_and_headers_first(cli, sandbox):
    r = cli("api", "GET", "users/me", "--include")
    assert r.code == 0, r.err
    head, _, body = r.out.partition("\n\n")
    lines = head.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "content-type: application/json" in [line.lower() for line in lines[1:]]
    assert json.loads(body)["email"] == "admin@sandbox.test"
    missing = cli("api", "GET", "sessions/nope", "-i")
    assert missing.code == 4 and missing.out.startswith("HTTP/1.1 404 Not Found\n")
    assert len(missing.err.strip().splitlines()) == 1


def test_retries_come_from_the_client(cli, sandbox):
    sandbox.faults(error_rate=0.5, error_status=503, seed=7)
    r = cli("api", "GET", "users/me")
    assert r.code == 0, r.err
    counts = _requests(sandbox, "GET", "/api/1/users/me")
    assert counts.get("200") == 1
    sandbox.faults(error_rate=1.0, error_status=503, seed=7)
    post = cli("api", "POST", "sessions")
    assert post.code == 1 and "503" in post.err
    assert _requests(sandbox, "POST", "/api/1/sessions") == {"503": 1}  # a POST is never resent


def test_debug_log_redacts_the_token(cli, sandbox):
    token = sandbox.admin_token()
    r = cli("--debug", "api", "GET", "users/me", token=token)
    assert r.code == 0, r.err
    assert "> GET" in r.err and "/api/1/users/me" in r.err
    assert token not in r.err and token[-20:] not in r.err


def test_api_errors_are_one_line_with_the_usual_exit_codes(cli, sandbox, one_line_error):
    one_line_error(cli("api", "GET", "sessions/nope"), 4, "404")
    one_line_error(cli("api", "GET", "users/me", token=sandbox.token(ttl=-60)), 3, "expired")
    one_line_error(cli("api", "GET", "sessions", "-F", "agent=all", token=sandbox.token()), 3, "403")
    one_line_error(cli("api", "GET", "users/me", token=None), 3, "not logged in")
    one_line_error(cli("api", "GET", "https://example.invalid/api/1/users/me"), 2, "refusing")  # a usage error: the token never leaves the API


@pytest.mark.parametrize("args, needle, stdin", [
    (["FETCH", "users/me"], "invalid method 'FETCH'", ""),
    (["POST", "sessions", "-F", "novalue"], "expected KEY=VALUE", ""),
    (["POST", "sessions", "-F", "a[]b=1"], "invalid field name", ""),
    (["POST", "sessions", "-F", "a=1", "-F", "a[b]=2"], "conflicts", ""),
    (["POST", "sessions", "-F", "x=@/nonexistent/file"], "cannot read", ""),
    (["POST", "sessions", "--input", "-"], "not JSON", "{not json"),
    (["GET", "users/me", "--paginate"], "--paginate works for /api/1/sessions", ""),
    (["POST", "sessions", "--paginate"], "GET only", ""),
    (["GET", "sessions", "--paginate", "-F", "limit=5000"], "page size", ""),
    (["GET", "sessions", "--paginate", "-i"], "--include", ""),
    (["GET"], "PATH", ""),
])
def test_usage_errors(args, needle, stdin, tmp_path, one_line_error):
    """In process (no server, no token: a usage error must come before any request)."""
    env = isolated_env(tmp_path, COBROWSE_CONFIG="/nonexistent/config.toml")
    one_line_error(run_in_process(env, "api", *args, input=stdin), 2, needle)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_output_is_pretty_on_a_terminal(sandbox):
    """In process, with a real Client on the sandbox and a stdout that says it is a TTY."""
    from cobrowse_cli.client import Client

    out = _Terminal()
    with Client(api=sandbox.url, token=sandbox.admin_token()) as client:
        env = Context(stdout=out, stderr=io.StringIO(), stdin=io.StringIO(), _client=client)
        assert run(ApiOptions("GET", "users/me"), env) == 0
        me = out.getvalue()
        assert me.startswith('{\n  "id": ') and json.loads(me)["email"] == "admin@sandbox.test"
        out.seek(0), out.truncate()
        run(ApiOptions("GET", "sessions", fields=["agent=all", "limit=100"], paginate=True), env)
        text = out.getvalue()
        assert text.startswith('[\n  {\n    "id": ') and text.endswith("\n]\n")
        assert len(json.loads(text)) == 200
