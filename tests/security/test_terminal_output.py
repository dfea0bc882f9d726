"""Issue 13: customer-controlled custom_data never reaches a terminal, a pipe or a spreadsheet raw;
secrets are masked for people and kept for machines. Real sandbox, real CLI, a real pty where the
terminal is the point."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.helpers import isolated_env
from tests.security.hostile import FORBIDDEN, HOSTILE, run_in_pty


TAG = "hostile-13"


@pytest.fixture
def hostile_id(sandbox):
    body = {"count": 1, "state": "active", "custom_data": {**HOSTILE, "tag": TAG}, "agent": "admin@sandbox.test"}
    return sandbox.control("POST", "/_sandbox/sessions", body)["ids"][0]


# What our own progress bar and live view send (NO_COLOR: no SGR): hide/show cursor, erase line, cursor up.
OWN_SEQUENCES = re.compile(r"\x1b\[(?:\?25[lh]|2K|\d*A)")


def assert_inert(text: str) -> None:
    text = OWN_SEQUENCES.sub("", text)
    for char in FORBIDDEN:
        assert char not in text, (char, text)


def test_piped_tsv_list_and_get_escape_every_control_and_invisible_character(cli, hostile_id):
    listed = cli("sessions", "list", "--state", "active", "--columns", "id,custom_data,custom_data.title")
    got = cli("sessions", "get", hostile_id)
    for result in (listed, got):
        assert result.code == 0, result.err
        assert_inert(result.out)
    line = next(line for line in listed.out.splitlines() if line.startswith(hostile_id))
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in line and "user\\u202egnp.exe" in line
    assert "custom_data.\\x1b[31mkey\tred key" in got.out  # a key is escaped like a value
    assert "\\u2028" in got.out and "\\u200b" in got.out and "\\x9b31m" in got.out


def test_json_stays_exact(cli, hostile_id):
    result = cli("sessions", "get", hostile_id, "--json")
    assert json.loads(result.out)["custom_data"] == {**HOSTILE, "tag": TAG}


def test_csv_escapes_and_neutralises_formulas_and_csv_raw_is_exact(cli, hostile_id):
    fields = "id,custom_data.formula,custom_data.title"
    safe = cli("sessions", "get", hostile_id, "--csv", "--fields", fields)
    assert safe.code == 0, safe.err
    assert_inert(safe.out)
    rows = list(csv.reader(io.StringIO(safe.out, newline="")))
    assert rows[1][1] == "'=cmd|' /C calc'!A0" and rows[1][2] == "\\x1b]0;pwned\\x07\\x1b[2J"
    raw = cli("--csv-raw", "sessions", "get", hostile_id, "--csv", "--fields", fields)
    rows = list(csv.reader(io.StringIO(raw.out, newline="")))
    assert rows[1][1:] == [HOSTILE["formula"], HOSTILE["title"]]


def test_terminal_get_view_and_table_show_escapes_and_mask_tokens(sandbox, home, hostile_id):
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    code, screen = run_in_pty(["sessions", "get", hostile_id], env)
    assert code == 0, screen
    assert_inert(screen)  # NO_COLOR=1 (isolated_env): not even colour escapes
    assert "\\x1b]0;pwned\\x07" in screen and "[/oops]" in screen and "[link=https://evil.example]" in screen
    session = sandbox.api("GET", f"/api/1/sessions/{hostile_id}", token=sandbox.admin_token()).json
    token = session.get("control_token")
    if token:  # shown shortened, never whole
        assert token not in screen and f"{token[:5]}…(redacted)" in screen
    code, screen = run_in_pty(["sessions", "list", "--state", "active", "--columns", "id,custom_data.file,custom_data.m"], env)
    assert code == 0, screen
    assert_inert(screen)
    assert "user\\u202egnp.exe" in screen and "[/oops]" in screen


def test_piped_get_shows_token_fields_only_when_selected(cli, sandbox, hostile_id):
    session = sandbox.api("GET", f"/api/1/sessions/{hostile_id}", token=sandbox.admin_token()).json
    secret_keys = [k for k in session if k.endswith("_token")]
    if not secret_keys:
        pytest.skip("the sandbox's sessions carry no *_token field")
    key = secret_keys[0]
    assert key not in cli("sessions", "get", hostile_id).out
    chosen = cli("sessions", "get", hostile_id, "--columns", f"id,{key}")
    assert session[key] in chosen.out  # asked for by name: the real value, never a fake masked one
    assert json.loads(cli("sessions", "get", hostile_id, "--json").out)[key] == session[key]


def _live_count(env: dict, by: str, shown: bytes) -> tuple[int, str]:
    """`count-active --watch 1 --by BY` on a terminal, Ctrl-C typed once `shown` was drawn twice (a refresh
    survived it), not after a fixed time: under load the first frame can take longer than any fixed wait."""
    from tests.helpers import COBROWSE
    from tests.support.pty import run_on_pty

    env = {**env, "TERM": "xterm-256color", "COLUMNS": "160"}
    screen = run_on_pty([COBROWSE, "count-active", "--watch", "1", "--by", by], env, timeout=60,
                        ctrl_c_when=lambda text, _elapsed: text.count(shown) >= 2)
    return screen.code, screen.out


def test_live_count_survives_markup_in_data(sandbox, home, hostile_id):
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    code, screen = _live_count(env, "custom_data.m", b"[/oops]")
    assert "MarkupError" not in screen and "internal error" not in screen, screen
    assert "[/oops]" in screen
    assert code == 130, screen  # ended by our Ctrl-C, not by a crash
    code, screen = _live_count(env, "custom_data.title", b"pwned")
    assert "\\x1b]0;pwned\\x07" in screen and "\x1b]0;" not in screen
    assert code == 130, screen


def test_end_confirmation_preview_is_inert(sandbox, home, hostile_id):
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    code, screen = run_in_pty(["sessions", "end", "--filter", f"tag={TAG}"], env, answers=[("[y/N]:", "n")])
    assert "End 1 session" in screen, screen
    assert_inert(screen)
    assert "\\x1b]0;pwned" in screen or "\\u202e" in screen
