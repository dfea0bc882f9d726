"""List everything matching a query in a few round trips: when the first page is full, fetch the rest
concurrently over disjoint time windows of the cursor field. Items come out in no particular order.

What is proved, and how. No page size is trusted: a server may cap pages, and the cap may vary with the
query's shape, the answer's size or the load, so a short page proves nothing about what lies below it.
- A sorted answer of items older than B, newest first, holds every item between its oldest millisecond O
  and B (O's group may be cut): it proves (O, B), never [.., O].
- A window [lo, hi) is asked as one page below `hi` with NO lower bound, expected to hold the window and
  some of the next: an answer reaching below `lo` proves the window in that one request. One that stops
  inside it (a cap, or more items than the density promised) has the rest of the window walked by
  paging.iter_paged with both bounds to an empty answer (or one that only repeats its boundary group).
- The "tail", one page of everything older than the lowest window, is asked again below its oldest item
  until it comes back empty (or only repeats its bound's group, short of a full page): that proves nothing
  older remains. Its proof, and the walks of windows an answer stopped inside, run in worker threads beside
  the next round (more windows below the tail's oldest item, and the next tail), which starts as soon as
  the tail answers. 10,000 / 20,000 active: 14 / 33 requests, 6 / 13 round trips deep (trusting short
  pages: 13 / 28 and 5 / 10; sequential paging: 12 / 22, as deep); the windows the density overestimates
  are the extra depth at 20,000.
- The second page (the first tail) is read as the sequential walk reads it (a one-page account costs no
  more). After a full tail the number of windows grows; after a short one the next round is that tail's own
  proof (usually empty: the end). A second short tail in a row shows a cap on bounded queries: windows are
  then sized to the largest tail seen. A tail that makes no progress (its oldest item is at its bound) hands
  the rest to one sequential walk.
- What stays unprovable: an answer holding only a millisecond's group that a cap cut (the cap smaller than
  the group) looks like the complete group. A full page of one millisecond is a PagingError (paging.py);
  a cap that drops below a group's size is assumed not to happen.
- A window keeps only the items in [lo, hi); the head's and each tail's oldest millisecond (whose group a
  page may have cut) is asked again by the window below it, so items there are de-duplicated by id; only
  those ids are kept, so memory stays flat in N. Cursor strictness is inferred, not documented: walks ask
  a millisecond of overlap.
- Every item of an answer must lie within the bounds asked, and a single page must be sorted newest first. An
  answer that is not shows the server ignored a bound: the rest is listed sequentially (exact or a
  PagingError), skipping the ranges already proved.
- Concurrency is bounded; a 429 (the client retries it, honouring Retry-After) halves it for the run.
- Windows only when they pay (ADAPTIVE): they hide the wait for the API, not the client's CPU, and read ~25%
  more. At the first full tail (no window asked yet, the requests so far being the plain walk's own), the
  head's and that tail's (wait, CPU) decide: a round trip that waits less than twice what its page takes to
  parse hands the rest to the plain walk. The choice is logged (--debug).
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from cobrowse_cli.client import paging
from cobrowse_cli.client.paging import MAX_PAGE, ONE_MS, Cursor, item_time, iter_paged
from cobrowse_cli.timeutil import iso_ms

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
WINDOW_FILL = 0.8  # of a page: density varies, and a window that overflows costs a second page
TAIL = "tail"  # a job that is one page below a bound; the others are windows
# Windows hide the wait for the API, not the client's CPU (one interpreter lock parses every page); they cost
# ~1.4x its CPU (each window's page runs ~25% into the next one; proofs; threads) and ~1.3x the server's
# work. So they are used when a page waits at least WAIT_PER_CPU times as long as it takes to parse (measured
# on the loopback sandbox: 0.6-1.8x with no latency, 4x or more with 50 ms). ADAPTIVE False: always windows.
ADAPTIVE = True
WAIT_PER_CPU = 2.0
Clocks = tuple[Callable[[], float], Callable[[], float]]  # (wall, this thread's CPU), in seconds


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
    adaptive: bool | None = None,
    clocks: Clocks = (time.perf_counter, time.thread_time),
) -> Iterator[dict]:
    """Every item once, any order. `rate_limited()` counts the 429s the client has met so far. `adaptive`
    (default ADAPTIVE): page sequentially when the first two pages waited less than twice their parsing."""
    base = {k: v for k, v in (query or {}).items() if k != "limit"}
    if concurrency <= 1 or not cursor.after or cursor.param in base or cursor.after in base:
        yield from iter_paged(fetch_page, cursor, base, page_size=page_size)
        return
    adaptive = ADAPTIVE if adaptive is None else adaptive
    yield from _Run(fetch_page, cursor, base, concurrency, page_size, rate_limited, log, adaptive, clocks).items()


class _Run:
    def __init__(self, fetch_page, cursor, base, concurrency, page_size, rate_limited, log, adaptive, clocks):
        self.fetch, self.cursor, self.base, self.page_size = fetch_page, cursor, base, page_size
        self.cap = self.limit = min(concurrency, MAX_CONCURRENCY)  # a 429 halves both
        self.rate_limited, self.log = rate_limited, log
        self.adaptive, self.clocks = adaptive, clocks
        self.costs: list[tuple[float, float]] = []  # (wait, CPU) of the head and of the first tail
        self.edges: set[datetime] = set()  # milliseconds next to a window edge (±1 ms)
        self.edge_ids: set[str] = set()  # ids already yielded within those milliseconds
        self.covered: list[tuple[datetime, datetime]] = []  # [lo, hi) proved and yielded
        self.items_seen, self.span_seen = 0, timedelta(0)
        self.fill = page_size  # items a bounded answer is expected to hold; lowered when a cap shows
        self.largest_tail = 0
        self.walk_from: datetime | None = None  # where a tail made no progress, or windows would not pay: the
        # plain walk goes on from there

    def items(self) -> Iterator[dict]:
        started = self._clock()
        head = self.fetch(dict(self.base, limit=self.page_size))
        paging._check_items(head, self.cursor)
        times = self._usable(head)
        self.costs.append(self._cost(started))
        if times is None:  # short, unsorted or timeless: the sequential walk decides what it means
            yield from self._sequential(head, dict(self.base))
            return
        oldest = times[-1]
        self._learn(times[0], oldest, len(head))
        self._edge(oldest)
        yield from self._fresh(zip(head, times))
        top = oldest + ONE_MS
        try:
            yield from self._rounds(top)
        except BoundsIgnored as exc:
            self.log(f"  windowed listing: {exc}; listing the rest sequentially")
            yield from self._fresh(self._walk(top), skip_covered=True)
            return
        if self.walk_from is not None:  # after the windows above it, so memory stays flat
            yield from self._fresh(self._walk(self.walk_from), skip_covered=True)

    def _usable(self, page: list[dict]) -> list[datetime] | None:
        """The items' times of a full, sorted page whose items all have one; else None."""
        if len(page) < self.page_size:
            return None
        times = [item_time(item, self.cursor) for item in page]
        return None if None in times or not paging.in_order(times) else times

    def _learn(self, newest: datetime, oldest: datetime, n: int) -> None:
        self.items_seen += n
        self.span_seen += max(newest - oldest, ONE_MS)

    def _span(self) -> timedelta:
        per_ms = self.items_seen / max(self.span_seen / ONE_MS, 1)
        return max(ONE_MS * 3, ONE_MS * int(self.fill * WINDOW_FILL / max(per_ms, 1e-9)))

    def _rounds(self, top: datetime) -> Iterator[dict]:
        """Tails one after another from `top` down, each starting a round of windows above the next tail;
        windows and their proofs run beside the tails. Ends when every job has proved its range."""
        jobs: deque = deque([(TAIL, None, top)])
        running: dict = {}
        windows, short_before = 0, False
        with ThreadPoolExecutor(max_workers=self.cap, thread_name_prefix="cobrowse-window") as pool:
            try:
                while jobs or running:
                    while jobs and len(running) < self.limit:
                        job = jobs.popleft()
                        running[pool.submit(self._job, *job)] = job
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        kind, lo, hi = running.pop(future)
                        items, limited, cost = future.result()
                        if limited and self.cap > 1:
                            self.cap = max(1, self.cap // 2)
                            self.log(f"  windowed listing: rate limited; concurrency lowered to {self.cap}")
                        self.limit = min(self.cap, self.limit)
                        if kind == TAIL and len(self.costs) == 1:
                            self.costs.append(cost)
                        if kind != TAIL:
                            self.items_seen += len(items)
                            self.span_seen += hi - lo
                            yield from self._fresh(items)
                            self.covered.append((lo, hi))
                            continue
                        if not items:  # nothing older than `hi`: once the windows are proved, done
                            self.log(f"  windowed listing: nothing older than {iso_ms(hi)}")
                            continue
                        oldest = items[-1][1]
                        if len(items) < self.fill and not any(self._new(*entry) for entry in items):
                            self.log(f"  windowed listing: nothing new older than {iso_ms(hi)}")
                            continue  # only its bound's group again, not a full page of it: the end
                        if oldest >= hi - ONE_MS:  # no progress (its bound's group again): the plain walk
                            self.log(f"  windowed listing: no progress below {iso_ms(hi)}; walking the rest")
                            self.walk_from = hi
                            continue
                        self._edge(oldest)
                        self._learn(items[0][1], oldest, len(items))
                        yield from self._fresh(items)
                        self.covered.append((oldest + ONE_MS, hi))
                        self.largest_tail = max(self.largest_tail, len(items))
                        full = len(items) >= self.fill
                        if not full and short_before:  # a cap below the page size on bounded queries
                            self.fill, full = self.largest_tail, True
                        short_before = not full
                        if full and self.adaptive and not (jobs or running):  # the first full tail: decide once
                            self.adaptive = False
                            if not self._windows_pay():
                                self.walk_from = oldest + ONE_MS  # the plain walk, as if it had read these pages
                                continue
                        windows = min(max(windows * 2, self.cap - 1, 1), MAX_CONCURRENCY * 4) if full else 0
                        tail, planned = self._plan(oldest + ONE_MS, windows)
                        jobs.appendleft(tail)  # first: the critical path runs through the tails
                        jobs.extend(planned)
                        self.log(f"  windowed listing: {len(items)} {self.cursor.noun} older than {iso_ms(hi)}; "
                                 f"next {windows} windows and a tail")
            finally:
                for future in running:
                    future.cancel()

    def _plan(self, top: datetime, windows: int) -> tuple[tuple, list[tuple]]:
        """The next round below `top`: its tail (whose answer starts the round after) and its windows."""
        planned, hi, span = [], top, self._span()
        for _ in range(windows):
            self._edge(hi - span)
            planned.append((None, hi - span, hi))
            hi -= span
        return (TAIL, None, hi), planned

    def _job(self, kind, lo: datetime | None, hi: datetime) -> tuple[list, bool]:
        """One job in a worker: one page older than `hi`, sorted and within its bound. A tail is that page.
        A window [lo, hi) asks it with no lower bound, so an answer reaching below `lo` proves the window in
        one request; else the rest of it is walked with both bounds (a millisecond of overlap each side) to
        an empty answer. Returns the window's items as (item, time) pairs, whether a 429 was met, and for a
        tail the (wait, CPU) of its page."""
        before, started = self.rate_limited(), self._clock()
        query = dict(self.base, **{self.cursor.param: iso_ms(hi)})
        timed = self._checked(self.fetch(dict(query, limit=self.page_size)), None, hi)
        if kind == TAIL:
            return timed, self.rate_limited() > before, self._cost(started)
        kept = [(item, moment) for item, moment in timed if lo <= moment < hi]
        oldest = timed[-1][1] if timed else None
        if oldest is not None and oldest >= lo:  # the answer stopped inside the window: the rest of it
            seen = {item["id"] for item, moment in timed if moment == oldest}
            query.update({self.cursor.param: iso_ms(oldest + ONE_MS), self.cursor.after: iso_ms(lo - ONE_MS)})
            rest = list(iter_paged(self.fetch, self.cursor, query, page_size=self.page_size))
            kept += [(item, moment) for item, moment in self._checked(rest, lo, oldest + ONE_MS, walked=True)
                     if lo <= moment <= oldest and not (moment == oldest and item["id"] in seen)]
        return kept, self.rate_limited() > before, None

    def _checked(self, items: list, lo: datetime | None, hi: datetime, *, walked: bool = False) -> list:
        """(item, time) pairs of an answer asked below `hi` (and above `lo` - 1 ms); BoundsIgnored when an
        item lies outside or has no time, or when a single page is not sorted newest first."""
        paging._check_items(items, self.cursor)
        timed = [(item, item_time(item, self.cursor)) for item in items]  # parsed once, here in the worker
        for item, moment in timed:
            if moment is None or moment > hi or (lo is not None and moment < lo - ONE_MS):
                bounds = f"{self.cursor.param}={iso_ms(hi)}"
                bounds += f" {self.cursor.after}={iso_ms(lo - ONE_MS)}" if lo else ""
                raise BoundsIgnored(
                    f"the API answered {self.cursor.noun} outside {bounds} "
                    f"(id {item.get('id')} at {iso_ms(moment) if moment else 'no time'})"
                )
        if not walked and not paging.in_order([moment for _, moment in timed]):
            raise BoundsIgnored(f"the API answered {self.cursor.noun} older than {iso_ms(hi)} unsorted")
        return timed

    def _clock(self) -> tuple[float, float]:
        return self.clocks[0](), self.clocks[1]()

    def _cost(self, started: tuple[float, float]) -> tuple[float, float]:
        """(wait, CPU) since `started`: the wall time this thread did not spend computing, and the time it did."""
        wall, cpu = self.clocks[0]() - started[0], self.clocks[1]() - started[1]
        return wall - cpu, cpu

    def _windows_pay(self) -> bool:
        """Whether windows can beat the plain walk, from the first two pages (the least of each: the first
        request also pays for connecting and for imports). Logged either way (--debug)."""
        wait, cpu = min(w for w, _ in self.costs), min(c for _, c in self.costs)
        pay = wait >= cpu * WAIT_PER_CPU
        self.log(f"  windowed listing: a page waited {wait * 1000:.0f} ms for the API and took {cpu * 1000:.0f} ms "
                 f"to parse: {'windows' if pay else 'paging one page after another (windows cannot hide CPU)'}")
        return pay

    def _walk(self, before: datetime) -> Iterator[tuple[dict, datetime | None]]:
        return iter_paged(self.fetch, self.cursor, dict(self.base, **{self.cursor.param: iso_ms(before)}),
                          page_size=self.page_size, timed=True)

    def _sequential(self, head: list[dict], start: dict) -> Iterator[dict]:
        """The plain walk from `start`, its first page being `head` (already fetched)."""
        replay = [head]

        def fetch(q: dict) -> list[dict]:
            return replay.pop() if replay else self.fetch(q)

        yield from self._fresh(iter_paged(fetch, self.cursor, start, page_size=self.page_size, timed=True),
                               skip_covered=True)

    def _edge(self, moment: datetime) -> None:
        self.edges.update((moment - ONE_MS, moment, moment + ONE_MS))

    def _new(self, item: dict, moment: datetime | None) -> bool:
        return moment not in self.edges or item["id"] not in self.edge_ids

    def _fresh(self, pairs, *, skip_covered: bool = False) -> Iterator[dict]:
        """The items of (item, time) `pairs`, less those already yielded."""
        lowest = min((lo for lo, _ in self.covered), default=None) if skip_covered else None  # (a walk's items
        for item, moment in pairs:  # lie below every proved range: one comparison each)
            if moment in self.edges:
                if item["id"] in self.edge_ids:
                    continue
                self.edge_ids.add(item["id"])
            elif lowest is not None and moment is not None and moment >= lowest and any(
                    lo <= moment < hi for lo, hi in self.covered):
                continue
            yield item
