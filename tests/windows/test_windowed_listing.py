"""Issue 18: listing concurrently over time windows (client/windows.py), against the real sandbox.

Every answer is compared with a truth computed without the windowed code: the sandbox's own count, or the
ids of the plain sequential walk. Seeds share `activated` milliseconds (the seeder groups them, and
sessions created in bulk share a few), so window edges fall inside groups.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time

import pytest

from cobrowse_cli.client import Client, windows
from cobrowse_cli.client.errors import PagingError
from cobrowse_cli.client.listing import newest_first, select_sessions
from cobrowse_cli.client.paging import SESSIONS, item_time
from cobrowse_cli.client.selection import SessionQuery

ACTIVE = SessionQuery(states=("active",), agent="all")


def client_for(sandbox, **kw) -> tuple[Client, io.StringIO]:
    log = io.StringIO()
    return Client(sandbox.url, sandbox.admin_token(), debug=log, **{"concurrency": 4, **kw}), log


def truth(sandbox) -> int:
    return sandbox.control("GET", "/_sandbox/truth/active-count")["count"]


def listed(client, unordered: bool) -> list[str]:
    return [s["id"] for s in select_sessions(client, ACTIVE, unordered=unordered)]


def create(sandbox, n, custom_data, batch=250):
    """Sessions created in bulk: each batch shares a few milliseconds of `activated`."""
    ids = []
    while len(ids) < n:
        body = {"count": min(batch, n - len(ids)), "state": "active", "custom_data": custom_data,
                "agent": "admin@sandbox.test"}
        ids += sandbox.control("POST", "/_sandbox/sessions", body)["ids"]
    return ids


@pytest.mark.parametrize("seed", [2, 7])
def test_windows_list_exactly_what_the_sequential_walk_lists(sandbox, seed):
    sandbox.reset(sessions=6000, active=5200, devices=10, seed=seed)
    create(sandbox, 1500, {"cohort": "bulk"})  # 250 per few milliseconds: many shared timestamps
    client, log = client_for(sandbox)
    with client:
        plain, fast = listed(client, False), listed(client, True)
    assert len(fast) == len(set(fast)) == len(plain) == truth(sandbox) == 6700
    assert set(fast) == set(plain)
    windowed = log.getvalue().count("windowed listing:")
    assert windowed >= 1, "the windows were never used"  # the final query below the oldest window logs


def test_one_page_or_less_is_one_sequential_walk(sandbox):
    sandbox.reset(sessions=900, active=800, devices=0, seed=3)
    client, log = client_for(sandbox)
    with client:
        assert len(listed(client, True)) == 800
    requests = [line for line in log.getvalue().splitlines() if line.startswith("> GET")]
    assert len(requests) == 2 and "windowed" not in log.getvalue()  # the page, then the empty proof


def test_exactly_one_full_page_costs_what_the_sequential_walk_costs(sandbox):
    sandbox.reset(sessions=1200, active=1000, devices=0, seed=3)
    client, log = client_for(sandbox)
    with client:
        assert len(set(listed(client, True))) == 1000
    assert sum(line.startswith("> GET") for line in log.getvalue().splitlines()) == 2


@pytest.mark.parametrize("variant", ["inclusive-cursor", "after-inclusive", "inclusive-cursor,after-inclusive",
                                     "page-cap=300", "page-cap=300,inclusive-cursor,after-inclusive",
                                     "ignore-state", "ignore-filters", "ignore-agent", "no-ended-reason"])
def test_exact_under_server_variants(sandbox, variant):
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=5)
    expected = truth(sandbox)
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=5, variants=variant.split(","))
    client, _ = client_for(sandbox)
    with client:
        selection = select_sessions(client, ACTIVE, unordered=True)
        ids = [s["id"] for s in selection]
    assert len(ids) == len(set(ids)) == expected
    if variant == "ignore-state":
        assert selection.outside  # the pending and ended ones were seen and not counted


def test_unsorted_server_fails_loudly_never_miscounts(sandbox):
    sandbox.reset(sessions=3000, active=2500, devices=0, seed=5, variants=["order=created"])
    client, _ = client_for(sandbox)
    with client:
        try:
            n = len(listed(client, True))
        except PagingError:
            return
    assert n == 2500


def test_a_server_ignoring_the_lower_bound_falls_back_to_sequential(sandbox):
    """No sandbox variant ignores `activated_after`, so the request drops it on the way (a server that does
    not know the parameter); the sandbox answers for real. Windows ask it only when an answer stops inside
    a window, so most bounded answers are cut to 50 sessions (a cap varying by load)."""
    sandbox.reset(sessions=5000, active=4500, devices=0, seed=9)
    client, log = client_for(sandbox)
    params = ACTIVE.to_params(admin=True)
    rng, asked = random.Random(5), []

    def ignores_after(query: dict) -> list[dict]:
        asked.append("activated_after" in query)
        page = client.list_sessions(**{k: v for k, v in query.items() if k != "activated_after"})
        return page[:50] if "activated_before" in query and rng.random() < 0.8 else page

    with client:
        ids = [s["id"] for s in windows.iter_windowed(ignores_after, SESSIONS, params, log=client._log)]
    assert len(ids) == len(set(ids)) == 4500
    assert any(asked) and "listing the rest sequentially" in log.getvalue()


def test_429_under_concurrency_lowers_it_and_still_counts_exactly(sandbox):
    sandbox.reset(sessions=6000, active=5500, devices=0, seed=4)
    sandbox.faults(rate_limit=3, retry_after=1)  # few requests now: a low limit, so it bites
    client, log = client_for(sandbox)
    client.concurrency = 8
    with client:
        assert len(set(listed(client, True))) == 5500
    assert client.rate_limited > 0
    assert "concurrency lowered to" in log.getvalue()


def test_sessions_activating_and_ending_while_windows_are_fetched(sandbox):
    sandbox.reset(sessions=0, active=0, devices=0)
    stable = set(create(sandbox, 3000, {"cohort": "stable"}))
    stop, churned = threading.Event(), [0]

    def churn():
        alive = []
        while not stop.is_set():
            alive += create(sandbox, 5, {"cohort": "churn"})
            for sid in alive[:3]:
                sandbox.control("POST", f"/_sandbox/sessions/{sid}/end")
                churned[0] += 1
            alive = alive[3:]
            time.sleep(0.005)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    time.sleep(0.05)
    client, log = client_for(sandbox)
    try:
        with client:
            sessions = list(select_sessions(client, ACTIVE, unordered=True))
    finally:
        stop.set()
        thread.join()
    ids = [s["id"] for s in sessions]
    assert churned[0] > 0 and len(ids) == len(set(ids))
    assert stable <= set(ids)  # every stable one, once
    assert all(s["custom_data"]["cohort"] in ("stable", "churn") for s in sessions)
    assert "windowed listing:" in log.getvalue()


def test_newest_first_restores_the_sequential_order(sandbox):
    sandbox.reset(sessions=3000, active=2600, devices=0, seed=6)
    client, _ = client_for(sandbox)
    with client:
        plain = list(select_sessions(client, ACTIVE))
        fast = newest_first(select_sessions(client, ACTIVE, unordered=True))
    times = [item_time(s, SESSIONS) for s in fast]
    assert times == sorted(times, reverse=True) == [item_time(s, SESSIONS) for s in plain]


def test_count_active_cli_uses_windows_and_matches_the_truth(cli, sandbox):
    sandbox.reset(sessions=4000, active=3300, devices=0, seed=8)
    r = cli("--debug", "count-active", "--json")  # windows by default (concurrency 4)
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"active": truth(sandbox)} and "windowed listing:" in r.err


def test_concurrency_setting_one_means_sequential_and_a_bad_value_is_a_usage_error(cli, sandbox, one_line_error):
    sandbox.reset(sessions=2500, active=2100, devices=0, seed=8)
    r = cli("--debug", "count-active", env={"COBROWSE_CONCURRENCY": "1"})
    assert r.code == 0 and r.out.strip() == "2100" and "windowed listing:" not in r.err
    one_line_error(cli("count-active", env={"COBROWSE_CONCURRENCY": "lots"}), 2, "concurrency")


def test_sessions_list_unordered_needs_all_and_sorts_a_table(cli, sandbox, one_line_error):
    sandbox.reset(sessions=2600, active=2300, devices=0, seed=6)
    r = cli("sessions", "list", "--unordered", "--agent", "all")
    one_line_error(r, 2, "--unordered needs --all")
    fast = cli("--debug", "sessions", "list", "--all", "--unordered", "--agent", "all", "--state", "active", "-q")
    plain = cli("sessions", "list", "--all", "--agent", "all", "--state", "active", "-q")
    assert fast.code == plain.code == 0 and "windowed listing:" in fast.err
    assert sorted(fast.out.split()) == sorted(plain.out.split()) and len(plain.out.split()) == 2300
