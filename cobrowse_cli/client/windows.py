"""List everything matching a query in about one round trip: when the first page is full, fetch the rest
concurrently over disjoint time windows of the cursor field, each window paged to an empty page by
paging.iter_paged. Items come out in no particular order (newest-first within a window).

- Window spans come from the density (items per millisecond) seen so far, aiming at a bit under one page.
- When a window comes back empty no more are started; once the running ones are done, a query below the
  oldest window proves nothing older remains (or, when it finds more, starts the next round from there).
- Adjacent windows overlap by a millisecond on each side (cursor strictness is inferred, not documented),
  so items near an edge are de-duplicated by id; only those ids are kept, so memory stays flat in N.
- Every item of a window must lie within its bounds. One that does not shows the server ignored a bound:
  the rest is listed sequentially (exact or a PagingError), skipping what verified windows already gave.
- The second page is read as the sequential walk reads it (so a one-page account costs no more); windows
  start below it when it is full too.
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
WINDOW_FILL = 0.9  # of a page: one full-enough page plus the small page that proves the window's end


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
        start = dict(self.base)
        head = self.fetch(dict(start, limit=self.page_size))
        paging._check_items(head, self.cursor)
        second = True  # the first round reads a second page as the sequential walk would
        while True:
            oldest = self._usable(head)
            if oldest is None:  # short, unsorted or timeless: the sequential walk decides what it means
                yield from self._sequential(head, start)
                return
            self._learn(head)
            self._edge(oldest)
            yield from self._fresh(head)
            if second:  # a one-page account then costs what the sequential walk costs: no idle windows
                second, start = False, dict(self.base, **{self.cursor.param: iso_ms(oldest + ONE_MS)})
                size, head = len(head), self.fetch(dict(start, limit=self.page_size))
                paging._check_items(head, self.cursor)
                if len(head) < size and all(item["id"] in self.edge_ids for item in head):
                    return  # only the edge group came back, and no cap cut it (paging.py's rule)
                continue
            try:
                bottom = yield from self._windows(oldest + ONE_MS)
            except BoundsIgnored as exc:
                self.log(f"  windowed listing: {exc}; listing the rest sequentially")
                yield from self._fresh(self._walk(oldest + ONE_MS), skip_covered=True)
                return
            # Prove nothing older than the oldest window remains; an answer starts the next round.
            self._edge(bottom)
            start = dict(self.base, **{self.cursor.param: iso_ms(bottom)})
            head = self.fetch(dict(start, limit=self.page_size))
            paging._check_items(head, self.cursor)
            self.log(f"  windowed listing: {len(head)} {self.cursor.noun} older than {iso_ms(bottom)}")
            if not head:
                return

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

    def _windows(self, top: datetime) -> Iterator[dict]:
        """Run windows below `top` until one is empty; yield their items; return the lowest bound."""
        hi, launching, running = top, True, {}
        with ThreadPoolExecutor(max_workers=self.cap, thread_name_prefix="cobrowse-window") as pool:
            try:
                while running or launching:
                    while launching and len(running) < self.limit:
                        lo = hi - self._span()
                        self._edge(lo)
                        running[pool.submit(self._window, lo, hi)] = (lo, hi)
                        hi = lo
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        lo, whi = running.pop(future)
                        items, limited = future.result()
                        if limited and self.cap > 1:
                            self.cap = max(1, self.cap // 2)
                            self.log(f"  windowed listing: rate limited; concurrency lowered to {self.cap}")
                        if not items:
                            launching = False
                        self.limit = min(self.cap, self.limit)
                        self.items_seen += len(items)
                        self.span_seen += whi - lo
                        yield from self._fresh(items)
                        self.covered.append((lo, whi))
            finally:
                for future in running:
                    future.cancel()
        return hi

    def _window(self, lo: datetime, hi: datetime) -> tuple[list[dict], bool]:
        """One window [lo, hi), asked with a millisecond of overlap each side; checked against its bounds."""
        before = self.rate_limited()
        query = dict(self.base, **{self.cursor.param: iso_ms(hi), self.cursor.after: iso_ms(lo - ONE_MS)})
        items = list(iter_paged(self.fetch, self.cursor, query, page_size=self.page_size))
        for item in items:
            moment = item_time(item, self.cursor)
            if moment is None or not lo - ONE_MS <= moment <= hi:
                raise BoundsIgnored(
                    f"the API answered {self.cursor.noun} outside {self.cursor.after}={iso_ms(lo - ONE_MS)} "
                    f"{self.cursor.param}={iso_ms(hi)} (id {item.get('id')} at {iso_ms(moment) if moment else 'no time'})"
                )
        return items, self.rate_limited() > before

    def _walk(self, before: datetime) -> Iterator[dict]:
        return iter_paged(self.fetch, self.cursor, dict(self.base, **{self.cursor.param: iso_ms(before)}),
                          page_size=self.page_size)

    def _sequential(self, head: list[dict], start: dict) -> Iterator[dict]:
        """The plain walk from `start`, its first page being `head` (already fetched)."""
        replay = [head]

        def fetch(q: dict) -> list[dict]:
            return replay.pop() if replay else self.fetch(q)

        yield from self._fresh(iter_paged(fetch, self.cursor, start, page_size=self.page_size), skip_covered=True)

    def _edge(self, moment: datetime) -> None:
        self.edges.update((moment - ONE_MS, moment, moment + ONE_MS))

    def _fresh(self, items, *, skip_covered: bool = False) -> Iterator[dict]:
        for item in items:
            moment = item_time(item, self.cursor)
            if moment in self.edges:
                if item["id"] in self.edge_ids:
                    continue
                self.edge_ids.add(item["id"])
            elif skip_covered and moment is not None and any(lo <= moment < hi for lo, hi in self.covered):
                continue
            yield item
