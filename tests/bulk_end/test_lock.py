"""Two overlapping runs: the second exits 9 at once (or waits with --wait-lock), so every session the
sandbox ended is reported `ended` by exactly one run."""

from __future__ import annotations

import time

from tests.helpers import run_cli

from .support import END, Accounting, create, ended_on_server, env_for, popen, record


def test_a_second_run_exits_9_then_wait_lock_runs_after_the_first(sandbox, home, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 300))
    sandbox.faults(latency_ms=20)
    env = env_for(sandbox, home)
    first = popen(env, *END, "--concurrency", "5")
    head = first.stdout.readline()  # the first run holds the lock and is ending
    assert head

    second = run_cli(env, *END)
    assert second.code == 9 and second.out == ""
    assert "another `sessions end` run holds the lock" in second.err and "pid " in second.err

    waiting = popen(env, *END, "--wait-lock", "2m")
    out_a, err_a = first.communicate(timeout=120)
    out_b, err_b = waiting.communicate(timeout=120)
    a = Accounting.of(first.returncode, head + out_a, err_a)
    b = Accounting.of(waiting.returncode, out_b, err_b)
    assert a.code == 0 and b.code == 0, (err_a[-1000:], err_b[-1000:])
    a.assert_every_id_once(selected)
    assert b.named == [] and "nothing to do (of 0)" in err_b  # it selected after the first had finished
    ended = ended_on_server(sandbox, selected)
    assert ended == selected == a.by_outcome("ended")
    record("two runs", len(selected), len(a.named) + len(b.named), len(ended), second_exit=second.code)


def test_wait_lock_gives_up_with_exit_9_and_no_lock_opts_out(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 100)
    sandbox.faults(latency_ms=200)
    env = env_for(sandbox, home)
    first = popen(env, *END, "--concurrency", "1")
    assert first.stdout.readline()
    started = time.monotonic()
    waited = run_cli(env, *END, "--wait-lock", "1s")
    assert waited.code == 9 and "after waiting 1s" in waited.err
    assert time.monotonic() - started >= 1.0  # it did wait (a lower bound only)
    bad = run_cli(env, *END, "--wait-lock", "soon")
    assert bad.code == 2 and "--wait-lock" in bad.err
    dry = run_cli(env, *END, "--dry-run")  # a dry run changes nothing: it takes no lock
    assert dry.code == 0
    first.kill()
    first.communicate()
