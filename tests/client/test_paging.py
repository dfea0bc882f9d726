"""Paging across thousands of sandbox sessions that share boundary milliseconds (the seed makes groups
of 2-20 sessions with one `activated` ms on purpose): every id exactly once, newest first, or a clear
PagingError when one millisecond holds more than a page."""

from __future__ import annotations

from collections import Counter

import pytest

from cobrowse_cli.client import Client, PagingError
from cobrowse_cli.timeutil import parse_iso as parse_time

BIG = {"sessions": 2600, "active": 300, "devices": 5, "seed": 7}


def _key(s: dict):
    return parse_time(s.get("activated") or s["created"])


@pytest.fixture
def big(sandbox):
    sandbox.reset(**BIG)
    return sandbox


def _total(sandbox) -> int:
    return sum(sandbox.stats()["sessions"].values())


def _route_count(sandbox, path: str) -> int:
    return sum(r["count"] for r in sandbox.stats()["requests"]["by_route"] if r["path"] == path)


def test_every_session_exactly_once_across_pages(big):
    pages: list[int] = []
    with Client(big.url, token=big.admin_token()) as c:
        items = list(c.iter_sessions({"agent": "all"}, on_page=pages.append))  # pages of 1000
        small = list(c.iter_sessions({"agent": "all"}, page_size=90))
    ids = [s["id"] for s in items]
    assert len(ids) == len(set(ids)) == _total(big) >= 2500
    # Page 2 re-fetched the boundary millisecond of page 1 (asked `< boundary + 1 ms`) and yielded only new ids.
    # The walk ends on a page that adds nothing (here: the last boundary group again), never on a short page.
    assert pages[0] == 1000 and 1000 < pages[1] < 2000 and pages[-1] == pages[-2] == len(ids) and len(pages) == 4
    assert [s["id"] for s in small] == ids  # same walk whatever the page size
    keys = [_key(s) for s in items]
    assert keys == sorted(keys, reverse=True)  # newest first, across page joins too
    assert max(Counter(keys).values()) > 1
    # With 90 per page, the re-fetched boundary groups cost extra pages: proof that groups straddled edges.
    small_pages = _route_count(big, "/api/1/sessions") - len(pages)
    assert small_pages > -(-len(ids) // 90) + 1


def test_caller_bounds_and_filters_are_kept_on_every_page(big):
    with Client(big.url, token=big.admin_token()) as c:
        everything = list(c.iter_sessions({"agent": "all", "state": ["ended"]}))
        newest, oldest = _key(everything[200]), _key(everything[-200])
        window = list(
            c.iter_sessions(
                {"agent": "all", "state": ["ended"], "activated_before": newest, "activated_after": oldest},
                page_size=150,
            )
        )
    expected = [s["id"] for s in everything if oldest < _key(s) < newest]
    assert [s["id"] for s in window] == expected and len(expected) > 1000
    assert all(s["state"] == "ended" for s in window)


def test_limit_stops_early_and_reports_progress(big):
    pages: list[int] = []
    with Client(big.url, token=big.admin_token()) as c:
        items = list(c.iter_sessions({"agent": "all"}, page_size=100, limit=150, on_page=pages.append))
    assert len(items) == 150 and len({s["id"] for s in items}) == 150
    assert pages == [100, 150]
    assert _route_count(big, "/api/1/sessions") == 2


def test_a_millisecond_fuller_than_a_page_raises_paging_error(sandbox):
    sandbox.reset(sessions=0, active=0, devices=0)
    # One control call creates them in a tight loop: dozens land in the same millisecond.
    sandbox.control("POST", "/_sandbox/sessions", {"count": 400, "state": "active"})
    seen: list[str] = []
    with Client(sandbox.url, token=sandbox.admin_token()) as c:
        with pytest.raises(PagingError, match=r"at least 3 sessions share that millisecond; narrow the query"):
            for s in c.iter_sessions({"agent": "all"}, page_size=3):
                seen.append(s["id"])
    assert len(seen) == len(set(seen))


# ---- the walk itself, against small in-memory servers of each plausible kind ----------------------

from datetime import datetime, timedelta, timezone  # noqa: E402

from cobrowse_cli.client.paging import SESSIONS, iter_paged  # noqa: E402
from cobrowse_cli.timeutil import iso_ms  # noqa: E402

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _items(n: int, group: int = 3) -> list[dict]:
    """n sessions newest first, `group` sharing each millisecond."""
    return [{"id": f"s{i}", "activated": iso_ms(T0 - timedelta(milliseconds=i // group))} for i in range(n)]


def _server(items, *, cap=None, inclusive=False, requests=None):
    def fetch(query):
        if requests is not None:
            requests.append(dict(query))
        before = query.get("activated_before")
        bound = parse_time(before) if isinstance(before, str) else before
        keep = [s for s in items if bound is None or (parse_time(s["activated"]) <= bound if inclusive
                                                     else parse_time(s["activated"]) < bound)]
        return keep[: min(query["limit"], cap or query["limit"])]
    return fetch


@pytest.mark.parametrize("cap,inclusive", [(None, False), (7, False), (7, True), (None, True), (1000, False)])
@pytest.mark.parametrize("n", [0, 1, 2, 10, 50, 99])
def test_capped_and_inclusive_servers_yield_everything_once(n, cap, inclusive):
    items = _items(n)
    got = [s["id"] for s in iter_paged(_server(items, cap=cap, inclusive=inclusive), SESSIONS, page_size=20)]
    assert got == [s["id"] for s in items]


def test_a_capped_server_no_longer_ends_the_walk_early():
    requests: list = []
    items = _items(95)
    got = list(iter_paged(_server(items, cap=10, requests=requests), SESSIONS, page_size=1000))
    assert len(got) == 95  # the old "page shorter than asked: done" rule stopped at 10
    # pages of 10 that each repeat the boundary group (7-9 new items each), then one that only repeats it
    assert 10 < len(requests) <= 14


@pytest.mark.parametrize("inclusive", [False, True])
def test_one_millisecond_larger_than_a_cap_is_a_paging_error(inclusive):
    items = _items(30, group=15)  # 15 per millisecond, the server hands out 10 at most
    with pytest.raises(PagingError, match="share that millisecond"):
        list(iter_paged(_server(items, cap=10, inclusive=inclusive), SESSIONS, page_size=1000))


@pytest.mark.parametrize("inclusive", [False, True])
def test_a_tiny_listing_in_one_millisecond_is_not_an_error(inclusive):
    items = _items(3, group=3)
    assert len(list(iter_paged(_server(items, inclusive=inclusive), SESSIONS, page_size=1000))) == 3


def test_an_unsorted_page_is_an_error_once_the_walk_continues_past_it():
    items = _items(40, group=1)
    shuffled = items[:10][::-1] + items[10:]  # the first page is oldest-first
    with pytest.raises(PagingError, match="did not sort"):
        list(iter_paged(lambda q: _server(shuffled)(q) if "activated_before" not in q else _server(items)(q),
                        SESSIONS, page_size=10))
    # a one-page answer needs no order: it holds everything
    assert len(list(iter_paged(_server(items[:5][::-1]), SESSIONS, page_size=10))) == 5
