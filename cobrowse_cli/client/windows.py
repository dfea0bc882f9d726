"""List everything matching a query in a few round trips: when the first page is full, fetch the rest
concurrently over disjoint time windows of the cursor field. Items come out in no particular order.

- A full first page proves the server does not cap pages below the size asked, so from then on a short
  page is a query's last (paging.iter_paged's `uncapped`): no proof page per window.
- The second page is read as the sequential walk reads it (a one-page account costs no more). After it,
  each round runs a growing number of windows below the oldest item seen, each sized from the density seen
  so far to fill most of a page, together with the "tail": one page of everything older than the lowest
  window. A short tail ends the listing (nothing older remains); a full one starts the next round below it.
- Adjacent windows overlap by a millisecond on each side (cursor strictness is inferred, not documented),
  so items near an edge are de-duplicated by id; only those ids are kept, so memory stays flat in N.
- Every item of a window or tail must lie within its bounds. One that does not shows the server ignored a
  bound: the rest is listed sequentially (exact or a PagingError), skipping what verified windows gave.
- Concurrency is bounded; a 429 (the client retries it, honouring Retry-After) halves it for the run.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from cobrowse_cli.client import paging
from cobrowse_cli.client.paging import MAX_PAGE, ONE_MS, Cursor, item_time, iter_paged
from cobrowse_cli.timeutil import iso_ms

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
WINDOW_FILL = 0.8  # of a page: density varies, and a window that overflows costs a second page


class BoundsIgnored(Exception):
    """A window's answer held an item outside the window: the server did not apply a time bound."""


def iter_windowed(
    fetch_page: Callable[[dict[str, Any]], list[dict]],
    cursor: Cursor,
    query: dict[str, Any] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    page_size: int = MAX_PAGE,
    rate_limited: Callable[[], int] = lambda: 0,
    log: Callable[[str], None] = lambda line: None,
) -> Iterator[dict]:
    """Every item once, any order. `rate_limited()` counts the 429s the client has met so far."""
    base = {k: v for k, v in (query or {}).items() if k != "limit"}
    if concurrency <= 1 or not cursor.after or cursor.param in base or cursor.after in base:
        yield from iter_paged(fetch_page, cursor, base, page_size=page_size)
        return
    yield from _Run(fetch_page, cursor, base, concurrency, page_size, rate_limited, log).items()


class _Run:
    def __init__(self, fetch_page, cursor, base, concurrency, page_size, rate_limited, log):
        self.fetch, self.cursor, self.base, self.page_size = fetch_page, cursor, base, page_size
        self.cap = self.limit = min(concurrency, MAX_CONCURRENCY)  # a 429 halves both
        self.rate_limited, self.log = rate_limited, log
        self.edges: set[datetime] = set()  # milliseconds next to a window edge (±1 ms)
        self.edge_ids: set[str] = set()  # ids already yielded within those milliseconds
        self.covered: list[tuple[datetime, datetime]] = []  # [lo, hi) of windows already yielded
        self.items_seen, self.span_seen = 0, timedelta(0)

    def items(self) -> Iterator[dict]:
        head = self.fetch(dict(self.base, limit=self.page_size))
        paging._check_items(head, self.cursor)
        oldest = self._usable(head)
        if oldest is None:  # short, unsorted or timeless: the sequential walk decides what it means
            yield from self._sequential(head, dict(self.base), uncapped=False)
            return
        windows = 0  # the first round is the sequential walk's second page alone (the tail)
        while True:
            self._learn(head)
            self._edge(oldest)
            yield from self._fresh(head)
            try:
                tail = yield from self._round(oldest + ONE_MS, windows)
            except BoundsIgnored as exc:
                self.log(f"  windowed listing: {exc}; listing the rest sequentially")
                yield from self._fresh(self._walk(oldest + ONE_MS), skip_covered=True)
                return
            if tail is None:
                return
            bottom, head = tail
            oldest = self._usable(head)
            if oldest is None:  # a full tail we cannot continue from (unsorted or timeless): the plain walk
                start = dict(self.base, **{self.cursor.param: iso_ms(bottom)})
                yield from self._sequential(head, start, uncapped=True)
                return
            windows = min(max(windows * 2, self.cap - 1, 1), MAX_CONCURRENCY * 4)

    def _usable(self, page: list[dict]) -> datetime | None:
        """The oldest millisecond of a full, sorted page whose items all have a time; else None."""
        if len(page) < self.page_size or not paging._sorted(page, self.cursor):
            return None
        times = [item_time(item, self.cursor) for item in page]
        return None if any(t is None for t in times) else times[-1]

    def _learn(self, page: list[dict]) -> None:
        first, last = item_time(page[0], self.cursor), item_time(page[-1], self.cursor)
        self.items_seen += len(page)
        self.span_seen += max(first - last, ONE_MS)

    def _span(self) -> timedelta:
        per_ms = self.items_seen / max(self.span_seen / ONE_MS, 1)
        return max(ONE_MS * 3, ONE_MS * int(self.page_size * WINDOW_FILL / max(per_ms, 1e-9)))

    def _round(self, top: datetime, windows: int) -> Iterator[dict]:
        """`windows` windows below `top` and the tail below them, run at once; yield what they hold.
        Returns None when the tail was short (nothing older remains), else (tail bound, the full tail page)."""
        jobs, hi, span = [], top, self._span()
        for _ in range(windows):
            self._edge(hi - span)
            jobs.append((hi - span, hi))
            hi -= span
        bottom, tail = hi, None
        jobs.insert(0, (None, bottom))  # the tail first: its answer says whether another round follows
        running: dict = {}
        with ThreadPoolExecutor(max_workers=self.cap, thread_name_prefix="cobrowse-window") as pool:
            try:
                while jobs or running:
                    while jobs and len(running) < self.limit:
                        lo, whi = jobs.pop(0)
                        running[pool.submit(self._window, lo, whi)] = (lo, whi)
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        lo, whi = running.pop(future)
                        items, limited = future.result()
                        if limited and self.cap > 1:
                            self.cap = max(1, self.cap // 2)
                            self.log(f"  windowed listing: rate limited; concurrency lowered to {self.cap}")
                        self.limit = min(self.cap, self.limit)
                        if lo is None:
                            tail = items
                            continue  # yielded below, once its fullness is known
                        self.items_seen += len(items)
                        self.span_seen += whi - lo
                        yield from self._fresh(items, timed=True)
                        self.covered.append((lo, whi))
            finally:
                for future in running:
                    future.cancel()
        self.log(f"  windowed listing: {windows} windows, then {len(tail)} {self.cursor.noun} "
                 f"older than {iso_ms(bottom)}")
        if len(tail) < self.page_size:
            yield from self._fresh(tail, timed=True)
            return None
        return bottom, [item for item, _ in tail]

    def _window(self, lo: datetime | None, hi: datetime) -> tuple[list[tuple[dict, datetime]], bool]:
        """One window [lo, hi), asked with a millisecond of overlap each side; checked against its bounds.
        Without `lo`, the tail: one page of everything older than `hi`."""
        before = self.rate_limited()
        if lo is None:
            items = self.fetch(dict(self.base, **{self.cursor.param: iso_ms(hi)}, limit=self.page_size))
            paging._check_items(items, self.cursor)
        else:
            query = dict(self.base, **{self.cursor.param: iso_ms(hi), self.cursor.after: iso_ms(lo - ONE_MS)})
            items = list(iter_paged(self.fetch, self.cursor, query, page_size=self.page_size, uncapped=True))
        timed = [(item, item_time(item, self.cursor)) for item in items]  # parsed once, here in the worker
        for item, moment in timed:
            if moment is None or moment > hi or (lo is not None and moment < lo - ONE_MS):
                bounds = f"{self.cursor.param}={iso_ms(hi)}" + (f" {self.cursor.after}={iso_ms(lo - ONE_MS)}" if lo else "")
                raise BoundsIgnored(
                    f"the API answered {self.cursor.noun} outside {bounds} "
                    f"(id {item.get('id')} at {iso_ms(moment) if moment else 'no time'})"
                )
        return timed, self.rate_limited() > before

    def _walk(self, before: datetime) -> Iterator[dict]:
        return iter_paged(self.fetch, self.cursor, dict(self.base, **{self.cursor.param: iso_ms(before)}),
                          page_size=self.page_size)

    def _sequential(self, head: list[dict], start: dict, *, uncapped: bool) -> Iterator[dict]:
        """The plain walk from `start`, its first page being `head` (already fetched)."""
        replay = [head]

        def fetch(q: dict) -> list[dict]:
            return replay.pop() if replay else self.fetch(q)

        pages = iter_paged(fetch, self.cursor, start, page_size=self.page_size, uncapped=uncapped)
        yield from self._fresh(pages, skip_covered=True)

    def _edge(self, moment: datetime) -> None:
        self.edges.update((moment - ONE_MS, moment, moment + ONE_MS))

    def _fresh(self, items, *, skip_covered: bool = False, timed: bool = False) -> Iterator[dict]:
        """`items`, less those already yielded; `timed`: they come as (item, time) pairs."""
        for entry in items:
            item, moment = entry if timed else (entry, item_time(entry, self.cursor))
            if moment in self.edges:
                if item["id"] in self.edge_ids:
                    continue
                self.edge_ids.add(item["id"])
            elif skip_covered and moment is not None and any(lo <= moment < hi for lo, hi in self.covered):
                continue
            yield item
