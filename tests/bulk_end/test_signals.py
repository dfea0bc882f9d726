"""SIGINT, SIGTERM and SIGHUP mid-run, sent to the real process: it stops sending ends, waits for those in
flight, names every selected id exactly once (stdout + stderr, and the report), prints the summary and exits
128 + the signal's number. The sandbox's own counters say what was really ended."""

from __future__ import annotations

import signal

import pytest

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

SESSIONS = 300


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_mid_run_reports_every_id_and_exits_128_plus_n(sandbox, home, tmp_path, sig, code):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, SESSIONS))
    sandbox.faults(latency_ms=20)  # 300 x 20 ms / 5 in flight: over a second of ending to interrupt
    report = tmp_path / "end.ndjson"
    proc = popen(env_for(sandbox, home), *END, "--concurrency", "5", "--report", str(report))
    first = [proc.stdout.readline() for _ in range(30)]
    assert all(first), "the run ended before it could be interrupted"
    proc.send_signal(sig)
    out, err = rest_of(proc)
    run = Accounting.of(proc.returncode, "".join(first) + out, err, report)

    assert run.code == code, err[-2000:]
    run.assert_every_id_once(selected)
    ended = ended_on_server(sandbox, selected)
    assert run.by_outcome("ended") == ended  # all in-flight ends were answered within the grace time
    assert not run.by_outcome("unknown")
    skipped = [o for o in run.stdout + run.stderr if o["outcome"] == "skipped"]
    assert skipped and {o["reason"] for o in skipped} == {"interrupted"}
    assert f"stopped: interrupted by {sig.name}" in err
    assert run.summary["exit_code"] == code and run.summary["stopped"] == f"interrupted by {sig.name}"
    record(sig.name, len(selected), len(run.named), len(ended), skipped=len(skipped), exit=run.code)


def test_a_signal_during_the_listing_ends_nothing_and_says_so(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 50)
    sandbox.faults(latency_ms=3000)  # the listing hangs on its first page
    proc = popen(env_for(sandbox, home, COBROWSE_DEBUG="1"), *END)
    while "> GET" not in (line := proc.stderr.readline()):  # --debug logs each request before sending it
        assert line, "the process ended before listing"
    proc.send_signal(signal.SIGTERM)
    out, err = rest_of(proc, timeout=30)
    assert proc.returncode == 143, err
    assert out == "" and err.strip().splitlines()[-1] == "cobrowse: interrupted by SIGTERM: nothing was ended"
    sandbox.faults()
    assert sandbox.stats()["ends"]["total"] == 0


def _hung_run(sandbox, home, n: int):
    """A run whose end requests hang (8 s latency, longer than the 5 s grace), ids on stdin, --debug on."""
    sandbox.reset(sessions=20, active=5, devices=0)
    ids = create(sandbox, n)
    sandbox.faults(latency_ms=8000)
    proc = popen(env_for(sandbox, home, COBROWSE_DEBUG="1"), "sessions", "end", "--stdin", "--yes", "--ndjson",
                 "--concurrency", "2", stdin=-1)
    proc.stdin.write("\n".join(ids) + "\n")
    proc.stdin.close()
    sent = 0
    while sent < 2:  # --debug logs each request before sending it: wait until both workers have sent one
        line = proc.stderr.readline()
        assert line, "the process ended before ending anything"
        sent += "> PUT" in line
    return proc, set(ids)


def test_ends_in_flight_past_the_grace_time_are_unknown(sandbox, home):
    proc, selected = _hung_run(sandbox, home, 10)
    proc.send_signal(signal.SIGTERM)
    out, err = rest_of(proc)
    run = Accounting.of(proc.returncode, out, err)
    assert run.code == 143, err[-2000:]
    run.assert_every_id_once(selected)
    unknown = run.by_outcome("unknown")
    assert len(unknown) == 2 and len(run.by_outcome("skipped")) == 8  # the two in flight, the eight never sent
    record("SIGTERM, hung ends", len(selected), len(run.named), len(ended_on_server(sandbox, selected)),
           unknown=len(unknown))


def test_a_second_signal_stops_at_once_and_says_so(sandbox, home):
    proc, _ = _hung_run(sandbox, home, 10)
    proc.send_signal(signal.SIGINT)
    while "stopping; waiting up to 5s for 2 end request(s)" not in (line := proc.stderr.readline()):
        assert line, "no notice of the first SIGINT"
    proc.send_signal(signal.SIGINT)
    out, err = rest_of(proc)
    assert proc.returncode == 130
    assert "second SIGINT: stopped at once; 2 end request(s) in flight were not reported" in err
