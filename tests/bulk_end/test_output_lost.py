"""A reader that goes away (`| head -3`) or a full disk (/dev/full) as stdout or as --report: the run stops,
exits 8, and every id is still named exactly once somewhere a cron job keeps (the report, stderr)."""

from __future__ import annotations

from .support import (
    END,
    Accounting,
    create,
    ended_on_server,
    env_for,
    into_dev_full,
    piped_to_head,
    popen,
    record,
)

SESSIONS = 300


def _setup(sandbox, latency_ms: int = 10) -> set[str]:
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, SESSIONS))
    sandbox.faults(latency_ms=latency_ms)
    return selected


def test_head_3_stops_the_run_exit_8_and_the_report_has_every_id(sandbox, home, tmp_path):
    selected = _setup(sandbox, latency_ms=30)  # slow enough that head exits long before a pipe buffer fills
    report = tmp_path / "end.ndjson"
    run, shown = piped_to_head(env_for(sandbox, home), *END, report=report)
    err = run.err

    assert run.code == 8, err[-2000:]
    assert len(shown.splitlines()) == 3
    assert sorted(o["id"] for o in run.report) == sorted(selected)  # the log names every id once
    assert not {o["id"] for o in run.stderr} & {line.split('"')[3] for line in shown.splitlines()}
    assert "stdout failed" in err and "stopped: stdout failed" in err
    ended = ended_on_server(sandbox, selected)
    assert {o["id"] for o in run.report if o["outcome"] == "ended"} == ended
    record("head -3", len(selected), len(run.report), len(ended), on_stderr=len(run.stderr), exit=run.code)


def test_dev_full_as_stdout_sends_every_outcome_to_stderr(sandbox, home, tmp_path):
    selected = _setup(sandbox)
    run = into_dev_full(env_for(sandbox, home), *END)
    err = run.err

    assert run.code == 8, err[-2000:]
    run.assert_every_id_once(selected)  # all of them on stderr, since stdout took none
    assert "stdout failed (No space left on device)" in err
    ended = ended_on_server(sandbox, selected)
    assert run.by_outcome("ended") == ended
    assert {o["reason"] for o in run.stderr if o["outcome"] == "skipped"} == {"output_closed"}
    record("/dev/full stdout", len(selected), len(run.named), len(ended), exit=run.code)


def test_dev_full_as_report_stops_the_run_and_stdout_keeps_every_outcome(sandbox, home):
    selected = _setup(sandbox)
    proc = popen(env_for(sandbox, home), *END, "--report", "/dev/full")
    out, err = proc.communicate(timeout=60)
    run = Accounting.of(proc.returncode, out, err)

    assert run.code == 8, err[-2000:]
    run.assert_every_id_once(selected)
    assert "--report /dev/full: write failed" in err
    ended = ended_on_server(sandbox, selected)
    assert run.by_outcome("ended") == ended
    record("/dev/full report", len(selected), len(run.named), len(ended), exit=run.code)


def test_an_unwritable_report_is_a_usage_error_before_anything_is_ended(sandbox, cli, tmp_path, one_line_error):
    _setup(sandbox)
    one_line_error(cli(*END, "--report", str(tmp_path / "no-such-dir" / "end.ndjson")), 2, "--report")
    one_line_error(cli(*END, "--report", str(tmp_path)), 2, "--report")
    assert sandbox.stats()["ends"]["total"] == 0
