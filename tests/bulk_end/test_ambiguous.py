"""Ambiguous failures (500s, connections dropped after the server processed the end): each is read back
before it is reported, so nothing the server ended is reported `failed`, and nothing is reported twice."""

from __future__ import annotations

from tests.support.cli import no_backoff, run_in_process

from .support import END, Accounting, create, ended_on_server, env_for, record


def test_500s_and_drops_after_processing_are_checked_before_reporting(sandbox, home, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 200))
    report = tmp_path / "end.ndjson"
    env = env_for(sandbox, home)
    listing = run_in_process(env, *END, "--dry-run")  # select with a healthy server, then break it for the ends
    ids = [o["id"] for o in Accounting.of(0, listing.out, "").stdout]
    assert set(ids) == selected
    sandbox.faults(error_rate=0.3, error_status=500, drop_rate=0.3, drop_when="after", seed=11)
    with no_backoff():  # in-process: retries at once; nothing here is about a process or a signal
        r = run_in_process(env, "sessions", "end", "--stdin", "--yes", "--ndjson", "--concurrency", "16",
                           "--report", str(report), input="\n".join(ids) + "\n")
    run = Accounting.of(r.code, r.out, r.err, report)
    err = r.err
    sandbox.faults()

    assert run.code in (0, 5), err[-2000:]
    run.assert_every_id_once(selected)
    ended = ended_on_server(sandbox, selected)
    failed = run.by_outcome("failed") | run.by_outcome("unknown")
    assert not failed & ended - run.by_outcome("unknown")  # nothing the server ended is reported failed
    assert run.by_outcome("ended") | run.by_outcome("already_ended") <= ended
    assert ended - run.by_outcome("ended") - run.by_outcome("already_ended") <= run.by_outcome("unknown")
    assert run.code == (5 if failed else 0)
    record("500s+drops", len(selected), len(run.named), len(ended), failed=len(run.by_outcome("failed")),
           unknown=len(run.by_outcome("unknown")), already_ended=len(run.by_outcome("already_ended")),
           exit=run.code)
