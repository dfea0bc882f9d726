"""Issue 18: windows only when they pay. From the first two pages' (wait, CPU) the listing chooses windows
(the round trip waits at least twice as long as parsing takes) or the plain walk, and says which (--debug).
The clocks are injected: each request advances them by what the test says it cost."""

from __future__ import annotations

import io
from datetime import datetime

from cobrowse_cli.client import Client, windows
from cobrowse_cli.client.paging import SESSIONS, iter_paged
from cobrowse_cli.client.selection import SessionQuery
from cobrowse_cli.timeutil import iso_ms

PARAMS = SessionQuery(states=("active",), agent="all").to_params(admin=True)


def listing(sandbox, costs_ms: list[tuple[int, int]]):
    """The windowed listing with request i costing costs_ms[i] (the last repeats) as (wall, CPU) in ms."""
    log, asked, now = io.StringIO(), [], {"wall": 0.0, "cpu": 0.0}
    client = Client(sandbox.url, sandbox.admin_token(), debug=log)

    def fetch(query: dict) -> list[dict]:
        wall, cpu = costs_ms[min(len(asked), len(costs_ms) - 1)]
        asked.append(query)
        now["wall"] += wall / 1000
        now["cpu"] += cpu / 1000
        return client.list_sessions(**query)

    with client:
        ids = [s["id"] for s in windows.iter_windowed(fetch, SESSIONS, PARAMS, concurrency=4, log=client._log,
                                                      adaptive=True, clocks=(lambda: now["wall"], lambda: now["cpu"]))]
        plain = []
        walked = [s["id"] for s in iter_paged(lambda q: plain.append(q) or client.list_sessions(**q), SESSIONS, PARAMS)]
    return ids, sent(asked), log.getvalue(), walked, sent(plain)


def sent(queries: list[dict]) -> list[dict]:
    """Queries as the API receives them (the walk passes datetimes, the windows strings)."""
    return [{k: iso_ms(v) if isinstance(v, datetime) else v for k, v in q.items()} for q in queries]


def test_a_round_trip_quicker_than_parsing_pages_one_page_after_another(sandbox):
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=12)
    ids, asked, log, walked, plain = listing(sandbox, [(25, 10)])  # waits 15 ms, parses 10: not twice
    assert len(ids) == len(set(ids)) == 3500 and set(ids) == set(walked)
    assert "waited 15 ms for the API and took 10 ms to parse: paging one page after another" in log
    assert "windows and a tail" not in log
    assert asked == plain  # the very requests of the plain walk, no more


def test_a_round_trip_waiting_longer_than_parsing_uses_windows(sandbox):
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=12)
    ids, asked, log, walked, plain = listing(sandbox, [(31, 10)])  # waits 21 ms, parses 10
    assert len(ids) == len(set(ids)) == 3500 and set(ids) == set(walked)
    assert "waited 21 ms for the API and took 10 ms to parse: windows" in log
    assert "next 3 windows and a tail" in log


def test_the_first_requests_connecting_does_not_decide(sandbox):
    """The first request also pays for connecting (and for imports, in CPU): the least of the two pages
    decides, so a slow first answer on a quick link does not buy windows."""
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=12)
    ids, asked, log, _, plain = listing(sandbox, [(300, 40), (12, 9)])
    assert "waited 3 ms for the API and took 9 ms to parse: paging one page after another" in log
    assert len(set(ids)) == 3500 and asked == plain


def test_one_full_page_makes_no_choice(sandbox):
    sandbox.reset(sessions=1200, active=1000, devices=0, seed=3)
    ids, asked, log, _, plain = listing(sandbox, [(15, 10)])
    assert len(set(ids)) == 1000 and len(asked) == len(plain) == 2 and "waited" not in log
