"""Walk a newest-first list endpoint by a time cursor, yielding every item exactly once.

The API pages sessions with `activated_before` (devices with `seen_before`), a STRICT `<`, sorted
newest-first by `activated` (falling back to `created` for never-activated sessions): inferred, not
documented. Many items can share one millisecond, so the next page asks for `<boundary> + 1 ms`: the
boundary group comes back again and is de-duplicated by id.

Nothing about page size is trusted: a server may cap pages below the `limit` we ask, so a short page
does not end the walk. It ends on an empty page, or on a page that only repeats the boundary group and
is shorter than the largest page seen (so it was not cut by a cap; a cap that varies is assumed to hold
at least one millisecond's group), as the vendor's own paging loop does. The extra request this costs
is one small page per listing. A page that adds nothing new and is as full as any page seen may be a capped boundary group: a strict probe past it settles whether anything
older exists, and if it does, PagingError (items of that millisecond may lie beyond the cap).
Every page that the walk continues past must be sorted newest first: a cursor taken from an unsorted
page skips items, so that is a PagingError, never a silent miscount (a one-page answer needs no check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Sequence

from cobrowse_cli.client.errors import InvalidResponseError, PagingError
from cobrowse_cli.timeutil import iso_ms, parse_iso_or_none

MAX_PAGE = 1000
ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Cursor:
    """How one endpoint pages: the query parameter and the item fields that order it."""

    param: str  # "activated_before" / "seen_before"
    fields: Sequence[str]  # first present field is the item's time, e.g. ("activated", "created")
    noun: str = "items"
    after: str = ""  # the lower bound's parameter: "activated_after" / "seen_after"


SESSIONS = Cursor("activated_before", ("activated", "created"), "sessions", "activated_after")
DEVICES = Cursor("seen_before", ("last_active",), "devices", "seen_after")


def item_time(item: dict, cursor: Cursor) -> datetime | None:
    """The time an item is ordered and paged by, to the millisecond; None when it has none."""
    for field in cursor.fields:
        value = item.get(field)
        if value:
            moment = parse_iso_or_none(value if type(value) is str else str(value))
            if moment is not None:  # the API's own form is already whole milliseconds: no new object
                us = moment.microsecond
                return moment if not us % 1000 else moment.replace(microsecond=us - us % 1000)
    return None


def iter_paged(
    fetch_page: Callable[[dict[str, Any]], list[dict]],
    cursor: Cursor,
    query: dict[str, Any] | None = None,
    *,
    page_size: int = MAX_PAGE,
    limit: int | None = None,
    on_page: Callable[[int], None] | None = None,
    timed: bool = False,
) -> Iterator[dict]:
    """Yield items page by page (streaming). `fetch_page(query)` returns one page as a list. `timed`: yield
    (item, item_time) pairs instead, for a caller that needs the time (parsed once).

    A caller's own `<cursor.param>` is the starting point; other query keys (e.g. `activated_after`)
    are passed through unchanged on every page (a window's lower bound, for windows.py).
    """
    if not 1 <= page_size <= MAX_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE}, not {page_size}")
    if limit is not None and limit <= 0:
        return
    if limit is not None:
        page_size = min(page_size, limit)  # `--limit 5` should not download a thousand sessions
    base = {k: v for k, v in (query or {}).items() if k != "limit"}
    before = base.pop(cursor.param, None)
    boundary_ms: datetime | None = None  # millisecond bucket of the last page's oldest item
    boundary_ids: set[str] = set()  # ids in [boundary, boundary + 1 ms]: they may come back
    count, largest = 0, 0
    probing = False  # asking past a full page of one millisecond (see the module docstring)
    unsorted_before = False  # the previous page was not newest first, so its cursor may skip items
    while True:
        page_query = dict(base, limit=page_size)
        if before is not None:
            page_query[cursor.param] = before
        page = fetch_page(page_query)
        _check_items(page, cursor)  # so every item is a dict with a str id
        times = [item_time(item, cursor) for item in page]  # each parsed once: a hot path
        # Newest first: page[0] is the page's newest item, so one check per page finds an ignored cursor.
        if boundary_ms is not None and page and times[0] is not None and times[0] > boundary_ms + ONE_MS:
            # A server ignoring the cursor would otherwise have us yield the same items forever.
            raise PagingError(f"cannot page: the API ignored {cursor.param} (a page went back to newer items)")
        if timed:
            pairs = [(item, moment) for item, moment in zip(page, times) if item["id"] not in boundary_ids]
            fresh = [item for item, _ in pairs]
        else:
            fresh = [item for item in page if item["id"] not in boundary_ids] if boundary_ids else page
        if fresh and unsorted_before:
            raise PagingError(
                f"cannot page: the API did not sort a page of {cursor.noun} newest first by "
                f"{cursor.fields[0]}, so paging by {cursor.param} could skip some; the count is unknown"
            )
        if fresh and probing:
            raise PagingError(
                f"cannot page past {iso_ms(boundary_ms) if boundary_ms else 'the first page'}: at least "
                f"{len(boundary_ids)} {cursor.noun} share that millisecond and the API returned no more than "
                f"that per page; narrow the query (e.g. by state or a filter)"
            )
        full = len(page) >= largest
        largest = max(largest, len(page))
        if limit is not None:
            fresh = fresh[: limit - count]
        if on_page:
            on_page(count + len(fresh))
        for entry in pairs[: len(fresh)] if timed else fresh:
            yield entry
            count += 1
        if not page or (limit is not None and count >= limit):
            return
        if not fresh:
            if not full or (probing and boundary_ms is not None and before < boundary_ms):
                return  # only the boundary group came back, and no cap cut it: nothing is older
            if len(page) >= page_size:
                raise PagingError(
                    f"cannot page past {iso_ms(boundary_ms) if boundary_ms else 'the first page'}: at least "
                    f"{page_size} {cursor.noun} share that millisecond; narrow the query (e.g. by state or a "
                    f"filter) or use a larger page size"
                )
            # Probe past the boundary millisecond: anything older would mean the group may have been cut by
            # a cap. `< boundary` first; if the group comes back, the cursor is inclusive: `<= boundary - 1 ms`.
            if probing and boundary_ms is not None and before == boundary_ms:
                before = boundary_ms - ONE_MS
            else:
                probing, before = True, boundary_ms
            continue
        unsorted_before = not in_order(times)
        if unsorted_before:  # continue from the page's oldest item; any new item after it is an error
            boundary_ms, boundary_ids = min(_bucket(item, cursor) for item in page), {_id(i) for i in page}
            before = boundary_ms + ONE_MS
            continue
        oldest = times[-1] if times[-1] is not None else _bucket(page[-1], cursor)  # (the latter raises)
        if oldest != boundary_ms:
            boundary_ids = set()
            boundary_ms = oldest
        # Remember every id in the boundary millisecond and the one after (an inclusive cursor returns
        # it too). Newest first, so they are the page's tail: walk back until the time is newer.
        newest_kept = boundary_ms + ONE_MS
        for item, moment in zip(reversed(page), reversed(times)):
            if moment is not None and moment > newest_kept:
                break
            boundary_ids.add(item["id"])
        before = oldest + ONE_MS


def _sorted(page: list, cursor: Cursor) -> bool:
    return in_order([item_time(item, cursor) for item in page])


def in_order(times: list[datetime | None]) -> bool:
    """Newest first, ignoring items without a time."""
    moments = [m for m in times if m is not None]
    return all(a >= b for a, b in zip(moments, moments[1:]))


def _check_items(page: list, cursor: Cursor) -> None:
    """Every item must be an object with an id: "each item exactly once" depends on it."""
    for item in page:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            shown = type(item).__name__ if not isinstance(item, dict) else "an object without an id"
            raise InvalidResponseError(f"the list of {cursor.noun} holds {shown}, not {cursor.noun} with ids")


def _id(item: dict) -> str:
    return str(item.get("id"))


def _bucket(item: dict, cursor: Cursor) -> datetime:
    moment = item_time(item, cursor)
    if moment is None:
        raise PagingError(
            f"cannot page: an item (id {_id(item)}) has none of {', '.join(cursor.fields)} to continue from"
        )
    return moment
