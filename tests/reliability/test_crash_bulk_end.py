"""Crash safety of the cron job's bulk end: SIGKILL it mid-run a few times, re-run it, and the job is done
with every session ended exactly once (the sandbox's own counters are the truth, not the CLI's report)."""

from __future__ import annotations

import json
import random
import subprocess
import time

from .conftest import COBROWSE, isolated_env

SESSIONS = 300  # four kills after at most 50 outcomes each (+ ends in flight) leave some for the re-run
KILLS = 4
END_ARGS = ["sessions", "end", "--filter", "cohort=x", "--agent", "all", "--yes", "--ndjson"]


def _create(sandbox, n: int, custom_data: dict) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        body = {"count": min(250, n - len(ids)), "state": "active", "custom_data": custom_data,
                "agent": "admin@sandbox.test"}
        ids += sandbox.control("POST", "/_sandbox/sessions", body)["ids"]
    return ids


def test_rerun_after_sigkill_finishes_the_job_ending_each_once(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    target = set(_create(sandbox, SESSIONS, {"cohort": "x"}))
    bystanders = sandbox.control("GET", "/_sandbox/truth/active-count")["count"] - SESSIONS
    sandbox.faults(latency_ms=20)  # 300 x 20 ms / 10 in flight: over half a second of ending to interrupt
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    rng = random.Random(8)
    ended_after_kill = []
    for attempt in range(KILLS):
        proc = subprocess.Popen([COBROWSE, *END_ARGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if attempt == 0:  # at a random time: under load this may still be starting up or listing
            time.sleep(rng.uniform(0.2, 1.0))
        else:  # after a random number of reported outcomes, so the kill surely lands mid-ending
            for _ in range(rng.randint(1, 50)):
                if not proc.stdout.readline():
                    break
        proc.kill()
        proc.communicate()
        time.sleep(0.1)  # requests already in the server's hands may still land: let them
        ended_after_kill.append(sandbox.stats()["ends"]["total"])
    print(f"ended after each of {KILLS} kills: {ended_after_kill}")
    assert ended_after_kill[-1] < SESSIONS, "the kills came too late to interrupt anything"

    rerun = subprocess.run([COBROWSE, *END_ARGS], capture_output=True, text=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    reported = [json.loads(line) for line in rerun.stdout.splitlines() if line]
    assert {o["outcome"] for o in reported} <= {"ended"}
    sandbox.faults()
    ends = sandbox.stats()["ends"]
    assert ends["max_per_session"] == 1  # nothing ended twice, across the killed runs and the re-run
    assert {sid for sid, n in ends["by_session"].items() if n} == target  # all of them, and only them
    assert len(reported) == SESSIONS - ended_after_kill[-1]  # the re-run reports exactly what was left
    assert sandbox.control("GET", "/_sandbox/truth/active-count")["count"] == bystanders
