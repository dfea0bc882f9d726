"""The selection side of `sessions end`: re-checked before each PUT, capped by --max-end, verified against
a server that ignores filters, and a run with nothing selected still writes its summary."""

from __future__ import annotations

from tests.helpers import run_in_process

from .support import (
    END,
    Accounting,
    create,
    ended_on_server,
    env_for,
    popen,
    record,
    rest_of,
)


def test_a_session_that_changed_since_the_listing_is_left_alone(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 100))
    sandbox.faults(latency_ms=20)
    env = env_for(sandbox, home)
    proc = popen(env, *END, "--concurrency", "1")
    first = proc.stdout.readline()
    assert first
    moved = set()  # re-labelled while the run goes on: no longer cohort=x (unless the run ended it first)
    for sid in sorted(selected)[:10]:
        answer = sandbox.api("PUT", f"/api/1/sessions/{sid}", token=sandbox.admin_token(),
                             json={"id": sid, "custom_data": {"cohort": "y"}})
        assert answer.status == 200 or answer.body["id"] == "session_ended"
        moved |= {sid} if answer.status == 200 else set()
    out, err = rest_of(proc, timeout=120)
    run = Accounting.of(proc.returncode, first + out, err)
    assert run.code == 0, err[-2000:]
    run.assert_every_id_once(selected)
    changed = run.by_outcome("changed")
    assert changed and changed <= moved
    ended = ended_on_server(sandbox, selected)
    assert not changed & ended and run.by_outcome("ended") == ended
    record("re-check", len(selected), len(run.named), len(ended), changed=len(changed))


def test_max_end_ends_nothing_when_the_selection_is_larger(sandbox, cli, one_line_error):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 30)
    one_line_error(cli(*END, "--max-end", "29"), 5, "more than --max-end 29")
    assert sandbox.stats()["ends"]["total"] == 0
    assert cli(*END, "--max-end", "30").code == 0
    assert sandbox.stats()["ends"]["total"] == 30


def test_nothing_selected_still_writes_the_summary_and_report(sandbox, cli, tmp_path):
    report = tmp_path / "end.ndjson"
    r = cli(*END, "--report", str(report), "--summary-json")
    assert r.code == 0 and r.lines == ['{"type":"summary"' + r.lines[0][len('{"type":"summary"'):]]
    assert "nothing to do (of 0)" in r.err
    assert report.read_text().count('"type":"summary"') == 1


def test_sessions_a_filter_ignoring_server_returns_are_never_ended(sandbox, home):
    server = sandbox
    server.reset(sessions=20, active=5, devices=0, variants=["ignore-filters"])  # as `serve --variant` plays it
    target = set(create(server, 20, cohort="x"))
    others = set(create(server, 15, cohort="vip"))
    env = env_for(server, home)
    r = run_in_process(env, *END)  # the selection is the point, not the process
    run = Accounting.of(r.code, r.out, r.err)
    assert r.code == 0, r.err
    run.assert_every_id_once(target)
    assert "sessions outside the selection" in r.err  # the 15 vip ones and the seed's other open sessions
    assert not ended_on_server(server, others)
    debug = run_in_process(env, "--debug", *END, "--dry-run")
    listed = debug.err.split("outside the selection: ", 1)[1].splitlines()[0]
    assert others <= set(listed.split(", ")) and not target & set(listed.split(", "))
