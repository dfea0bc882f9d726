"""`cobrowse recordings` end to end against the sandbox, whose media origin runs on a second port and
counts every bearer token that reaches it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from cobrowse_cli.sandbox.media import video_bytes_at, video_block


def _all_sessions(sandbox) -> list[dict]:
    res = sandbox.api("GET", "/api/1/sessions?agent=all&limit=1000", token=sandbox.admin_token())
    assert res.status == 200 and len(res.body) < 1000
    return res.body


def _recorded(sandbox, **custom) -> list[dict]:
    return [s for s in _all_sessions(sandbox) if s["recorded"] and s["state"] == "ended"
            and all(s["custom_data"].get(k) == v for k, v in custom.items())]


def _media(sandbox, **settings) -> dict:
    return sandbox.control("POST", "/_sandbox/media", settings)


def _expected_video(session_id: str, size: int) -> str:
    return hashlib.sha256(video_bytes_at(session_id, 0, size, video_block(session_id))).hexdigest()


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"  # created by the command; tmp_path itself also holds the test's HOME


def _ndjson(result) -> list[dict]:
    return [json.loads(line) for line in result.lines]


def test_list_shows_only_recorded_sessions_in_the_selection(cli, sandbox):
    expected = {s["id"] for s in _recorded(sandbox, plan="pro")}
    assert expected, "the seed has recorded sessions"
    result = cli("recordings", "list", "--agent", "all", "--filter", "plan=pro", "--all", "--ndjson")
    assert result.code == 0, result.err
    rows = _ndjson(result)
    assert {r["id"] for r in rows} == expected
    assert all(r["recorded"] is True and r["duration"] > 0 for r in rows)


def test_get_shows_metadata_but_never_the_signed_url(cli, sandbox):
    session = _recorded(sandbox)[0]
    result = cli("recordings", "get", session["id"], "--json")
    assert result.code == 0, result.err
    row = json.loads(result.out)
    assert row["id"] == session["id"] and row["size"] > 0 and row["events"] == 3
    assert "sig=" not in result.out and row["video"].endswith("?…")


def test_download_writes_video_and_merged_events_without_ever_sending_the_token(cli, sandbox, out):
    sessions = _recorded(sandbox)[:6]
    ids = [s["id"] for s in sessions]
    result = cli("recordings", "download", *ids, "--dir", str(out), "--ndjson", "--concurrency", "3")
    assert result.code == 0, result.err
    rows = _ndjson(result)
    assert sorted(r["id"] for r in rows) == sorted(ids) and {r["outcome"] for r in rows} == {"downloaded"}
    media = sandbox.control("GET", "/_sandbox/media")
    assert media["bearer_seen"] == 0
    assert media["counts"]["served_video"] == 6 and media["counts"]["served_actions"] == 6
    for sid in ids:
        size = sandbox.api("GET", f"/api/1/sessions/{sid}/recording", token=sandbox.admin_token()).body["size"]
        assert hashlib.sha256((out / f"{sid}.mp4").read_bytes()).hexdigest() == _expected_video(sid, size)
        events = json.loads((out / f"{sid}.events.json").read_text())
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps) and len(events) >= 5  # actions (>= 2) + events (3), merged
        assert {e["type"] for e in events} >= {"session.activated", "session.ended"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    again = cli("recordings", "download", *ids, "--dir", str(out), "--ndjson")
    assert again.code == 0 and {r["outcome"] for r in _ndjson(again)} == {"already_downloaded"}
    assert sandbox.control("GET", "/_sandbox/media")["counts"]["served_video"] == 6  # nothing fetched again


def test_a_download_cut_mid_file_leaves_no_file_and_a_rerun_resumes(cli, sandbox, out):
    ids = [s["id"] for s in _recorded(sandbox)[:4]]
    _media(sandbox, video_bytes=600_000, drop_rate=1, drop_after_bytes=300_000)
    cut = cli("recordings", "download", *ids, "--dir", str(out), "--ndjson")
    assert cut.code == 5, cut.err
    rows = _ndjson(cut)
    assert sorted(r["id"] for r in rows) == sorted(ids) and {r["outcome"] for r in rows} == {"failed"}
    assert list(out.iterdir()) == []  # the directory was created; nothing in it  # no partial file under any name, no temp file left behind
    assert sandbox.control("GET", "/_sandbox/media")["counts"]["dropped"] >= 4

    _media(sandbox, drop_rate=0)
    resumed = cli("recordings", "download", *ids, "--dir", str(out), "--ndjson")
    assert resumed.code == 0, resumed.err
    for sid in ids:
        data = (out / f"{sid}.mp4").read_bytes()
        assert len(data) == 600_000 and hashlib.sha256(data).hexdigest() == _expected_video(sid, 600_000)


def test_one_drop_is_retried_within_the_run(cli, sandbox, out):
    ids = [s["id"] for s in _recorded(sandbox)[:3]]
    _media(sandbox, video_bytes=400_000, drop_rate=0.5, drop_after_bytes=100_000, seed=3)
    result = cli("recordings", "download", *ids, "--dir", str(out), "--ndjson", "--concurrency", "1")
    counts = sandbox.control("GET", "/_sandbox/media")["counts"]
    assert counts.get("dropped", 0) >= 1, counts
    assert result.code == 0, result.err
    assert all((out / f"{sid}.mp4").stat().st_size == 400_000 for sid in ids)


def test_an_expired_media_url_is_fetched_again_through_the_api(cli, sandbox, out):
    sid = _recorded(sandbox)[0]["id"]
    _media(sandbox, expire_next=1)
    result = cli("recordings", "download", sid, "--dir", str(out), "--ndjson")
    assert result.code == 0, result.err
    assert _ndjson(result)[0]["outcome"] == "downloaded"
    assert sandbox.control("GET", "/_sandbox/media")["counts"]["expired"] == 1
    gets = [r["count"] for r in sandbox.stats()["requests"]["by_route"]
            if (r["method"], r["path"], r["status"]) == ("GET", f"/api/1/sessions/{sid}/recording", 200)]
    assert gets == [2]  # the first answer's URL had expired: asked the API for a fresh one


def test_expired_urls_that_stay_expired_fail_the_item_not_the_run(cli, sandbox, out):
    first, second = [s["id"] for s in _recorded(sandbox)[:2]]
    _media(sandbox, expire_next=3)  # the first download's URL, and both fresh ones
    result = cli("recordings", "download", first, second, "--dir", str(out), "--ndjson", "--concurrency", "1")
    assert result.code == 5
    outcomes = {r["id"]: r for r in _ndjson(result)}
    assert outcomes[first]["outcome"] == "failed" and "expired" in outcomes[first]["error"]
    assert outcomes[second]["outcome"] == "downloaded"


def test_delete_by_selection_never_leaves_it_and_reports_every_id(cli, sandbox):
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(days=3)
    expected = {s["id"] for s in _recorded(sandbox, plan="pro")
                if datetime.fromisoformat(s["activated"].replace("Z", "+00:00")) < cutoff}
    assert expected
    dry = cli("recordings", "delete", "--agent", "all", "--filter", "plan=pro", "--older-than", "3d", "--dry-run", "--ndjson")
    assert dry.code == 0 and {r["id"] for r in _ndjson(dry)} == expected
    assert sandbox.control("GET", "/_sandbox/recordings") == []

    result = cli("recordings", "delete", "--agent", "all", "--filter", "plan=pro", "--older-than", "3d", "--yes", "--ndjson")
    assert result.code == 0, result.err
    rows = _ndjson(result)
    assert len(rows) == len(expected) and {r["id"] for r in rows} == expected
    assert {r["outcome"] for r in rows} == {"deleted"}
    assert set(sandbox.control("GET", "/_sandbox/recordings")) == expected  # nothing outside the selection
    assert f"deleted {len(expected)} (of {len(expected)})" in result.err

    again = cli("recordings", "delete", "--agent", "all", "--filter", "plan=pro", "--older-than", "3d", "--yes", "--ndjson")
    assert again.code == 0  # the nightly job does not fail forever on what it already deleted
    assert {r["outcome"] for r in _ndjson(again)} == {"already_deleted"}


def test_delete_partial_failure_exits_5_and_reports_each_id(cli, sandbox):
    sid = _recorded(sandbox)[0]["id"]
    unrecorded = next(s["id"] for s in _all_sessions(sandbox) if not s["recorded"])
    result = cli("recordings", "delete", sid, "no-such-session", unrecorded, "--yes", "--ndjson")
    assert result.code == 5
    outcomes = {r["id"]: r["outcome"] for r in _ndjson(result)}
    # a recording that never existed reads the same as one already gone: done, not a failure
    assert outcomes == {sid: "deleted", "no-such-session": "not_found", unrecorded: "already_deleted"}


def test_delete_refuses_without_a_terminal_and_stdin_needs_yes(cli, sandbox, one_line_error):
    sid = _recorded(sandbox)[0]["id"]
    one_line_error(cli("recordings", "delete", sid), 2, "without confirmation")
    one_line_error(cli("recordings", "delete", "--stdin", input=sid + "\n"), 2, "--stdin needs --yes")
    one_line_error(cli("recordings", "delete"), 2, "nothing selected")
    assert sandbox.control("GET", "/_sandbox/recordings") == []
    piped = cli("recordings", "delete", "--stdin", "--yes", "--ndjson", input=f"# retention\n{sid}\n{sid}\n")
    assert piped.code == 0 and [r["outcome"] for r in _ndjson(piped)] == ["deleted"]


def test_an_agent_sees_what_its_policy_allows(cli, sandbox, out):
    agent = sandbox.token()  # agent@sandbox.test, no administrator role
    mine = {s["id"] for s in _recorded(sandbox) if s["agent"]["email"] == "agent@sandbox.test"}
    theirs = next(s["id"] for s in _recorded(sandbox) if s["agent"]["email"] != "agent@sandbox.test")
    listed = cli("recordings", "list", "--all", "--ndjson", token=agent)
    assert listed.code == 0 and {r["id"] for r in _ndjson(listed)} == mine

    account = cli("account", "--json", token=agent)
    assert account.code == 0, account.err
    info = json.loads(account.out)
    assert info["role"] == "agent" and info["permissions"]["recordings:delete"] == "none"

    some = sorted(mine)[:2]
    down = cli("recordings", "download", some[0], theirs, "--dir", str(out), "--ndjson", token=agent)
    assert down.code == 5
    outcomes = {r["id"]: r for r in _ndjson(down)}
    assert outcomes[some[0]]["outcome"] == "downloaded"
    # another agent's session reads like a missing one (the sandbox's permission model)
    assert outcomes[theirs]["outcome"] == "not_found" and outcomes[theirs]["status"] == 404

    deleting = cli("recordings", "delete", *some, "--yes", "--ndjson", "--concurrency", "1", token=agent)
    assert deleting.code == 3
    rows = _ndjson(deleting)  # every id accounted for: the 403 stops the run (the policy forbids all of it)
    assert [(r["outcome"], r["reason"]) for r in rows] == [("skipped", "forbidden")] * 2
    assert rows[0]["status"] == 403 and rows[0]["error"].startswith("not deleted: ")
    assert "skipped 2 (of 2)" in deleting.err and "stopped: " in deleting.err and "403" in deleting.err
    assert sandbox.control("GET", "/_sandbox/recordings") == []


@pytest.mark.parametrize("bad", ["../etc", "a b"])
def test_bad_ids_are_usage_errors(cli, sandbox, out, one_line_error, bad):
    one_line_error(cli("recordings", "download", bad, "--dir", str(out)), 2, "invalid session id")


@pytest.mark.parametrize("variant", ["ignore-filters", "ignore-state", "inclusive-cursor", "page-cap=50"])
def test_delete_stays_in_its_selection_on_other_servers(cli, sandbox, variant):
    """A server that ignores a filter or the state, or pages differently, can never widen a delete."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=3)
    expected = {s["id"] for s in _recorded(sandbox, plan="pro")
                if datetime.fromisoformat(s["activated"].replace("Z", "+00:00")) < cutoff}
    sandbox.reset(variants=[variant])
    result = cli("recordings", "delete", "--agent", "all", "--filter", "plan=pro", "--older-than", "3d", "--yes", "--ndjson")
    assert result.code == 0, result.err
    assert {r["id"] for r in _ndjson(result)} == expected
    assert set(sandbox.control("GET", "/_sandbox/recordings")) == expected


def test_fsync_download_is_complete_too(cli, sandbox, out):
    ids = [s["id"] for s in _recorded(sandbox)[:2]]
    result = cli("recordings", "download", *ids, "--dir", str(out), "--fsync", "--ndjson")
    assert result.code == 0 and {r["outcome"] for r in _ndjson(result)} == {"downloaded"}
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{i}{ext}" for i in ids for ext in (".mp4", ".events.json"))
