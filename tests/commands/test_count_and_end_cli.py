"""count-active exactness and the cron job's bulk end, end to end, with the sandbox's faults switched on."""

from __future__ import annotations

import json
import threading
import time

import pytest


def _create(sandbox, n, custom_data, state="active", batch=250):
    """Create n sessions in batches (each batch shares a few milliseconds: boundary duplicates galore)."""
    ids = []
    while len(ids) < n:
        body = {"count": min(batch, n - len(ids)), "state": state, "custom_data": custom_data,
                "agent": "admin@sandbox.test"}
        ids += sandbox.control("POST", "/_sandbox/sessions", body)["ids"]
    return ids


class Churn(threading.Thread):
    """Keeps creating and ending *other* sessions while a command runs, like a busy account."""

    def __init__(self, sandbox):
        super().__init__(daemon=True)
        self.sandbox, self.stop, self.created, self.ended = sandbox, threading.Event(), 0, 0

    def run(self):
        alive = []
        while not self.stop.is_set():
            alive += _create(self.sandbox, 5, {"cohort": "churn"})
            self.created += 5
            for sid in alive[:3]:
                self.sandbox.control("POST", f"/_sandbox/sessions/{sid}/end")
                self.ended += 1
            alive = alive[3:]
            time.sleep(0.01)


def test_count_active_is_exact_past_1000_while_sessions_come_and_go(cli, sandbox):
    sandbox.reset(sessions=0, active=0, devices=0)
    _create(sandbox, 3000, {"cohort": "stable"})
    churn = Churn(sandbox)
    churn.start()
    try:
        r = cli("count-active", "--by", "custom_data.cohort", "--json")
    finally:
        churn.stop.set()
        churn.join()
    assert r.code == 0, r.err
    body = json.loads(r.out)
    assert churn.created > 0 and churn.ended > 0, "the churn did not overlap the count"
    assert body["by"]["stable"] == 3000  # untouched sessions: every one counted, none twice
    assert body["active"] == sum(body["by"].values())
    assert 0 <= body["by"].get("churn", 0) <= churn.created - churn.ended + 5
    # and without churn the plain count equals the sandbox's truth
    truth = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    assert cli("count-active").out.strip() == str(truth)


def test_count_active_max_exits_6_but_still_prints(cli, sandbox):
    truth = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    over = cli("count-active", "--max", str(truth - 1))
    assert over.code == 6 and over.out.strip() == str(truth) and "above --max" in over.err
    assert cli("count-active", "--max", str(truth)).code == 0


def test_count_active_by_agent_json(cli, sandbox):
    body = json.loads(cli("count-active", "--by", "agent", "--json").out)
    assert body["active"] == sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    assert sum(body["by"].values()) == body["active"] and len(body["by"]) > 1


# Each fault hits about one request in ten, at random (seeded): over 200 sessions (400+ requests, the
# re-check GET and the PUT of each) every kind hits the end requests many times; the test asserts it did.
# 429 is injected at random with "Retry-After: 0" (the rate limiter's real one-second windows would make
# the test wait; tests/reliability/test_fault_matrix_reads.py covers those).
FAULTS = {
    "5xx": {"error_rate": 0.1, "error_status": 503},  # 6 tries each: P(one of 200 fails) ~ 0.02%
    "429": {"error_rate": 0.1, "error_status": 429, "retry_after": 0},
    "drop-before": {"drop_rate": 0.1, "drop_when": "before"},
    "drop-after": {"drop_rate": 0.1, "drop_when": "after"},  # ended, answer lost: the exactly-once case
    "slow": {"latency_ms": 20},
}
FAULT_STATUS = {"5xx": "503", "429": "429", "drop-before": "dropped_before", "drop-after": "dropped_after"}
BULK = 200


@pytest.mark.parametrize("fault", list(FAULTS))
def test_bulk_end_ends_each_exactly_once_under_faults(cli_in_process, sandbox, fault):
    sandbox.reset(sessions=50, active=10, devices=0)
    target = set(_create(sandbox, BULK, {"cohort": "stale"}))
    others = sandbox.control("GET", "/_sandbox/truth/active-count")["count"] - BULK
    sandbox.faults(seed=3, **FAULTS[fault])
    r = cli_in_process("sessions", "end", "--agent", "all", "--filter", "cohort=stale", "--yes", "--ndjson",
                       "--concurrency", "16")
    sandbox.faults()  # off again, to read the truth
    requests = sandbox.stats()["requests"]
    puts = [row for row in requests["by_route"] if row["method"] == "PUT"]
    if fault in FAULT_STATUS:  # the fault really hit the end requests, and the retries absorbed it
        hit = sum(row["count"] for row in puts if str(row["status"]) == FAULT_STATUS[fault])
        assert hit >= 5, (fault, requests["by_route"])
        assert sum(row["count"] for row in puts) > BULK, (fault, puts)
    assert r.code == 0, r.err[-2000:]
    outcomes = [json.loads(line) for line in r.lines]
    assert len(outcomes) == BULK and {o["id"] for o in outcomes} == target  # every session reported once
    assert {o["outcome"] for o in outcomes} == {"ended"}
    ends = sandbox.stats()["ends"]
    assert {sid for sid, n in ends["by_session"].items() if n} == target  # ended exactly these...
    assert ends["max_per_session"] == 1  # ...each exactly once, whatever the retries
    assert sandbox.control("GET", "/_sandbox/truth/active-count")["count"] == others  # nothing else touched
    assert f"ended {BULK} (of {BULK})" in r.err


def test_dry_run_changes_nothing(cli, sandbox):
    ids = _create(sandbox, 30, {"cohort": "dry"})
    before = sandbox.stats()["ends"]["total"]
    r = cli("sessions", "end", "--agent", "all", "--filter", "cohort=dry", "--dry-run", "--ndjson")
    assert r.code == 0
    assert sorted(json.loads(line)["id"] for line in r.lines) == sorted(ids)
    assert {json.loads(line)["outcome"] for line in r.lines} == {"would_end"}
    assert sandbox.stats()["ends"]["total"] == before
    assert "nothing was changed" in r.err


def test_partial_failure_exits_5_and_reports_every_id(cli, sandbox):
    real = _create(sandbox, 3, {"cohort": "partial"})
    r = cli("sessions", "end", *real, "does-not-exist", "--yes", "--ndjson")
    assert r.code == 5
    by_id = {o["id"]: o["outcome"] for o in map(json.loads, r.lines)}
    assert by_id == {**{sid: "ended" for sid in real}, "does-not-exist": "not_found"}


def test_already_ended_counts_as_done_and_stdin_ids(cli, sandbox):
    ids = _create(sandbox, 4, {"cohort": "stdin"})
    sandbox.control("POST", f"/_sandbox/sessions/{ids[0]}/end")  # the customer left already
    r = cli("sessions", "end", "--stdin", "--yes", "--ndjson", input="\n".join(ids + [ids[1]]) + "\n")
    assert r.code == 0, r.err
    by_id = {o["id"]: o["outcome"] for o in map(json.loads, r.lines)}
    assert by_id == {ids[0]: "already_ended", ids[1]: "ended", ids[2]: "ended", ids[3]: "ended"}
    assert sandbox.stats()["ends"]["max_per_session"] == 1


def test_no_tty_means_no_prompt(cli, sandbox, one_line_error):
    ids = _create(sandbox, 1, {"cohort": "prompt"})
    one_line_error(cli("sessions", "end", *ids), 2, "--yes")
    one_line_error(cli("sessions", "end", "--stdin", input=ids[0]), 2, "--yes")
    assert sandbox.stats()["ends"]["total"] == 0


def _run_on_a_terminal(sandbox, home, args, answer: str) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (stdin and stderr are TTYs) and answer its prompt."""
    from tests.support.cli import COBROWSE, isolated_env
    from tests.support.pty import run_on_pty

    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    screen = run_on_pty([COBROWSE, *args], env, answers=[("[y/N]:", answer)], timeout=60)
    return screen.code, screen.out


def test_terminal_confirmation_shows_the_selection_and_respects_the_answer(sandbox, home):
    ids = _create(sandbox, 12, {"cohort": "tty"})
    args = ["sessions", "end", "--agent", "all", "--filter", "cohort=tty"]
    code, screen = _run_on_a_terminal(sandbox, home, args, "n")
    assert code == 10 and "End 12 session(s)?" in screen and "and 2 more" in screen
    assert sum(sid in screen for sid in ids) == 10  # the preview shows the first ten
    assert sandbox.stats()["ends"]["total"] == 0  # "n" ends nothing
    code, screen = _run_on_a_terminal(sandbox, home, args, "y")
    assert code == 0 and "ended 12 (of 12)" in screen
    assert set(sandbox.stats()["ends"]["by_session"]) == set(ids)
