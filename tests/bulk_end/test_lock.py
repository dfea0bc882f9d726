"""Overlapping runs: while another process holds the run lock a second run exits 9 at once (or waits with
--wait-lock), so every session the sandbox ended is reported `ended` by exactly one run. The test process
itself holds the lock (a real flock, like another run's), so nothing depends on how long a run takes."""

from __future__ import annotations

import time

from cobrowse_cli.config.runlock import RunLock, lock_path
from tests.helpers import run_cli

from .support import END, Accounting, create, ended_on_server, env_for, popen, record


def _held_lock(env: dict, sandbox, monkeypatch) -> RunLock:
    monkeypatch.setenv("COBROWSE_STATE_DIR", env["COBROWSE_STATE_DIR"])
    lock = RunLock(lock_path("sessions-end", "default", sandbox.url), started="2026-12-01T00:00:00.000Z")
    lock.acquire()
    return lock


def test_a_second_run_exits_9_and_two_waiting_runs_end_each_session_once(sandbox, home, monkeypatch):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 300))
    env = env_for(sandbox, home, COBROWSE_STATE_DIR=str(home / "state"))
    lock = _held_lock(env, sandbox, monkeypatch)
    try:
        refused = run_cli(env, *END)
        assert refused.code == 9 and refused.out == "", refused.err
        assert "another `sessions end` run holds the lock" in refused.err and "pid " in refused.err
        runs = [popen(env, *END, "--wait-lock", "2m") for _ in range(2)]  # both wait for the lock
    finally:
        lock.release()
    outputs = [p.communicate(timeout=120) for p in runs]
    results = [Accounting.of(p.returncode, *output) for p, output in zip(runs, outputs)]
    assert [r.code for r in results] == [0, 0], [r.err[-500:] for r in results]
    first, second = sorted(results, key=lambda r: -len(r.named))
    first.assert_every_id_once(selected)
    assert second.named == [] and "nothing to do (of 0)" in second.err  # it selected after the first finished
    ended = ended_on_server(sandbox, selected)
    assert ended == selected == first.by_outcome("ended")
    record("two runs", len(selected), len(first.named) + len(second.named), len(ended), refused_exit=refused.code)


def test_wait_lock_gives_up_with_exit_9_and_no_lock_opts_out(sandbox, home, monkeypatch):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 5)
    env = env_for(sandbox, home, COBROWSE_STATE_DIR=str(home / "state"))
    lock = _held_lock(env, sandbox, monkeypatch)
    try:
        started = time.monotonic()
        waited = run_cli(env, *END, "--wait-lock", "1s")
        assert waited.code == 9 and "after waiting 1s" in waited.err
        assert time.monotonic() - started >= 1.0  # it did wait (a lower bound only)
        assert run_cli(env, *END, "--wait-lock", "soon").code == 2
        assert run_cli(env, *END, "--dry-run").code == 0  # a dry run changes nothing: it takes no lock
        assert sandbox.stats()["ends"]["total"] == 0
        opted_out = run_cli(env, *END, "--no-lock")
        assert opted_out.code == 0 and len(opted_out.lines) == 5
    finally:
        lock.release()
