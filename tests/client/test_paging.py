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
    assert pages[0] == 1000 and 1000 < pages[1] < 2000 and pages[-1] == len(ids) and len(pages) == 3
    assert [s["id"] for s in small] == ids  # same walk whatever the page size
    keys = [_key(s) for s in items]
    assert keys == sorted(keys, reverse=True)  # newest first, across page joins too
    assert max(Counter(keys).values()) > 1
    # With 90 per page, the re-fetched boundary groups cost extra pages: proof that groups straddled edges.
    small_pages = _route_count(big, "/api/1/sessions") - len(pages)
    assert small_pages > -(-len(ids) // 90)


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
