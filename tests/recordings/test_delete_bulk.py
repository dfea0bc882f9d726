"""`recordings delete` on the bulk-end engine, as a cron retention job meets it: real signals, `| head -3`,
/dev/full, an overlapping run, the sandbox's faults. Every selected id is named exactly once (stdout +
stderr, and --report), the summary is there, the exit code is the documented one, and what the sandbox
really deleted is exactly what was reported `deleted`."""

from __future__ import annotations

import signal

import pytest

from cobrowse_cli.config.runlock import RunLock, lock_path
from tests.bulk_end.support import (
    Accounting,
    env_for,
    into_dev_full,
    piped_to_head,
    popen,
    record,
)
from tests.helpers import run_cli

DELETE = ["recordings", "delete", "--agent", "all", "--yes", "--ndjson"]


def _recorded(sandbox, sessions: int = 1000) -> set[str]:
    """~265 recordings of 1000 sessions: the seed records a share of the ended sessions (one page of them)."""
    sandbox.reset(sessions=sessions, active=5, devices=0)
    rows = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    return {s["id"] for s in rows if s.get("recorded")}


def _deleted(sandbox) -> set[str]:
    sandbox.faults()
    return set(sandbox.control("GET", "/_sandbox/recordings"))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_mid_run_reports_every_id_and_exits_128_plus_n(sandbox, home, tmp_path, sig, code):
    selected = _recorded(sandbox)
    report = tmp_path / "retention.ndjson"
    proc = popen(env_for(sandbox, home), *DELETE, "--concurrency", "2", "--report", str(report))
    first = [proc.stdout.readline() for _ in range(1)]
    sandbox.faults(latency_ms=30)  # after the listing: ~4 s of deleting left to interrupt
    first += [proc.stdout.readline() for _ in range(20)]
    assert all(first), "the run ended before it could be interrupted"
    proc.send_signal(sig)
    out = proc.stdout.read()  # not communicate(): it reads the raw pipe, past lines readline() buffered
    err = proc.stderr.read()
    proc.wait(timeout=60)
    run = Accounting.of(proc.returncode, "".join(first) + out, err, report)

    assert run.code == code, err[-2000:]
    run.assert_every_id_once(selected)
    deleted = _deleted(sandbox)
    assert run.by_outcome("deleted") == deleted and 20 <= len(deleted) < len(selected)
    skipped = [o for o in run.stdout + run.stderr if o["outcome"] == "skipped"]
    assert skipped and {o["reason"] for o in skipped} == {"interrupted"}
    assert all(o["error"] == f"not attempted: interrupted by {sig.name}" for o in skipped)
    assert "delete request(s)" in err and f"stopped: interrupted by {sig.name}" in err
    assert run.summary["exit_code"] == code and set(run.stdout[0]) == {"id", "outcome", "error", "status", "reason", "at"}
    record(f"delete {sig.name}", len(selected), len(run.named), len(deleted), skipped=len(skipped), exit=run.code)


def test_head_3_stops_the_run_exit_8_and_the_report_has_every_id(sandbox, home, tmp_path):
    selected = _recorded(sandbox)
    report = tmp_path / "retention.ndjson"
    sandbox.faults(latency_ms=20)
    run, shown = piped_to_head(env_for(sandbox, home), *DELETE, report=report)
    err = run.err

    assert run.code == 8, err[-2000:]
    assert len(shown.splitlines()) == 3
    assert sorted(o["id"] for o in run.report) == sorted(selected)
    assert "stopped: stdout failed" in err
    assert {o["id"] for o in run.report if o["outcome"] == "deleted"} == _deleted(sandbox)
    record("delete head -3", len(selected), len(run.report), len(_deleted(sandbox)), exit=run.code)


def test_dev_full_as_stdout_sends_every_outcome_to_stderr(sandbox, home):
    selected = _recorded(sandbox)
    run = into_dev_full(env_for(sandbox, home), *DELETE)
    err = run.err

    assert run.code == 8, err[-2000:]
    run.assert_every_id_once(selected)
    assert "stdout failed (No space left on device)" in err
    assert run.by_outcome("deleted") == _deleted(sandbox)


def test_a_second_run_exits_9_and_waiting_runs_delete_each_recording_once(sandbox, home, monkeypatch, tmp_path):
    selected = _recorded(sandbox)
    env = env_for(sandbox, home, COBROWSE_STATE_DIR=str(home / "state"))
    monkeypatch.setenv("COBROWSE_STATE_DIR", env["COBROWSE_STATE_DIR"])
    lock = RunLock(lock_path("recordings-delete", "default", sandbox.url), started="2026-12-01T00:00:00.000Z")
    lock.acquire()  # another run's lock, held by this process: nothing depends on timing
    try:
        refused = run_cli(env, *DELETE)
        assert refused.code == 9 and refused.out == "", refused.err
        assert "another `recordings delete` run holds the lock" in refused.err
        assert run_cli(env, "sessions", "end", "no-such-id", "--yes").code != 9  # a different lock
        reports = [tmp_path / f"run{n}.ndjson" for n in range(2)]
        runs = [popen(env, *DELETE, "--wait-lock", "2m", "--report", str(r)) for r in reports]
    finally:
        lock.release()
    outputs = [p.communicate(timeout=120) for p in runs]
    results = [Accounting.of(p.returncode, *output, r) for p, output, r in zip(runs, outputs, reports)]
    assert [r.code for r in results] == [0, 0], [r.err[-500:] for r in results]
    for run in results:
        run.assert_every_id_once(selected)  # the second selects after the first finished: still `recorded`
    first, second = sorted(results, key=lambda r: -len(r.by_outcome("deleted")))
    assert first.by_outcome("deleted") == _deleted(sandbox) == selected  # each deleted by exactly one run
    assert second.by_outcome("already_deleted") == selected
    record("delete two runs", len(selected), len(first.named) + len(second.named), len(selected),
           refused_exit=refused.code)


def test_faults_every_id_once_and_ambiguous_deletes_are_read_back(sandbox, cli_in_process, tmp_path):
    """30% 503s and 30% drops after the server acted (the client retries at once: no backoff): what this
    run deleted is reported `deleted` (never `already_deleted` nor `failed`), what it did not is not. Now
    and then a DELETE exhausts its retries and is read back; the exact interleaving behind issue 16's wrong
    outcome (the read-back lost too, found gone on the second try) is injected in test_answer_lost.py."""
    selected = _recorded(sandbox, sessions=400)
    report = tmp_path / "retention.ndjson"
    sandbox.faults(error_rate=0.3, error_status=503, drop_rate=0.3, drop_when="after", seed=7)
    result = cli_in_process(*DELETE, "--report", str(report), "--summary-json")
    run = Accounting.of(result.code, result.out, result.err, report)

    assert run.code in (0, 5), result.err[-2000:]
    run.assert_every_id_once(selected)
    deleted = _deleted(sandbox)
    reported = {o["id"]: o for o in run.stdout + run.stderr}
    # Each class of mismatch named with what the run said about it, so a failure explains itself.
    assert {i: reported[i] for i in run.by_outcome("deleted") - deleted} == {}, "reported deleted, still there"
    assert {i: reported[i] for i in deleted - run.by_outcome("deleted") - run.by_outcome("unknown")} == {}, \
        "deleted by this run, reported otherwise"
    assert not run.by_outcome("already_deleted")
    assert result.out.splitlines()[-1].startswith('{"type":"summary"')
    record("delete faults", len(selected), len(run.named), len(deleted), exit=run.code,
           failed=len(run.by_outcome("failed")), unknown=len(run.by_outcome("unknown")))


def test_max_delete_and_lock_options_are_checked_before_anything_is_deleted(cli, sandbox, one_line_error, tmp_path):
    selected = _recorded(sandbox)
    over = cli(*DELETE, "--max-delete", "3")
    assert over.code == 5 and f"holds {len(selected)} recordings, more than --max-delete 3" in over.err
    one_line_error(cli(*DELETE, "--wait-lock", "1m", "--no-lock"), 2, "cannot be used together")
    one_line_error(cli(*DELETE, "--report", str(tmp_path / "no-such-dir" / "r.ndjson")), 2, "--report")
    assert sandbox.control("GET", "/_sandbox/recordings") == []
