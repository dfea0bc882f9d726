"""On a terminal (a real pty): the progress bar, and the confirmation before deleting; stalls time out."""

from __future__ import annotations

import json

from tests.helpers import COBROWSE, isolated_env
from tests.support.pty import run_on_pty


def _on_a_terminal(sandbox, home, args, answer: str | None = None) -> tuple[int, str]:
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token(), TERM="xterm")
    env.pop("NO_COLOR", None)
    screen = run_on_pty([COBROWSE, *args], env, answers=[("[y/N]:", answer)] if answer is not None else [])
    return screen.code, screen.out


def _recorded_ids(sandbox, n):
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    return [s["id"] for s in sessions if s["recorded"]][:n]


def test_progress_bar_on_a_terminal_and_none_when_piped(cli, sandbox, home, tmp_path):
    ids = _recorded_ids(sandbox, 3)
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 1_000_000, "chunk_delay_ms": 150})
    code, screen = _on_a_terminal(sandbox, home, ["recordings", "download", *ids, "--dir", str(tmp_path / "tty")])
    assert code == 0, screen
    assert "Downloading recordings" in screen and "downloaded 3 (of 3)" in screen
    piped = cli("recordings", "download", *ids, "--dir", str(tmp_path / "piped"))
    assert piped.code == 0 and "Downloading" not in piped.err and "\x1b" not in piped.err + piped.out


def test_delete_asks_on_a_terminal_and_a_no_deletes_nothing(sandbox, home):
    ids = _recorded_ids(sandbox, 12)
    args = ["recordings", "delete", *ids]
    code, screen = _on_a_terminal(sandbox, home, args, "n")
    assert code == 10 and "Delete 12 recording(s)?" in screen and "and 2 more" in screen
    assert sandbox.control("GET", "/_sandbox/recordings") == []
    code, screen = _on_a_terminal(sandbox, home, args, "y")
    assert code == 0 and "deleted 12 (of 12)" in screen
    assert set(sandbox.control("GET", "/_sandbox/recordings")) == set(ids)


def test_a_stalled_download_times_out_and_fails_that_item(cli, sandbox, tmp_path):
    sid = _recorded_ids(sandbox, 1)[0]
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 600_000, "chunk_delay_ms": 2000})
    result = cli("recordings", "download", sid, "--dir", str(tmp_path / "out"), "--idle-timeout", "300ms", "--ndjson")
    assert result.code == 5, result.err
    row = json.loads(result.out)
    assert row["outcome"] == "failed" and "stalled" in row["error"]
    assert list((tmp_path / "out").iterdir()) == []


def test_unwritable_dir_is_a_usage_error(cli, sandbox, tmp_path, one_line_error):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(cli("recordings", "download", "abc", "--dir", str(blocker / "sub")), 2, "--dir")
