"""Verified listings: the token's role is checked before the request (role before reach), and every
resource the server returns is re-checked with the query model, so a count or a selection is of what
matches, never of what the server happened to send.

`select_sessions(client, query)` / `select_devices(client, query)` return a Selection: iterate it for
the matching resources; afterwards `.outside` holds the ids the server returned outside the selection
and `.notes()` the stderr lines a command should print.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from cobrowse_cli.client import paging
from cobrowse_cli.client.errors import RoleError, jwt_claims
from cobrowse_cli.client.paging import MAX_PAGE
from cobrowse_cli.client.selection import ALL, DeviceQuery, SessionQuery, agent_label
from cobrowse_cli.timeutil import iso_ms

ADMIN_ROLE = "administrator"
ME_HINT = "use --agent me for your own sessions"


def token_role(token: str | None) -> str | None:
    """The JWT `role` claim (decoded unverified); absent means not an administrator."""
    role = (jwt_claims(token) or {}).get("role") if token else None
    return role if isinstance(role, str) else None


def is_admin(token: str | None) -> bool:
    return token_role(token) == ADMIN_ROLE


def scope_params(client: Any, query: SessionQuery) -> dict:
    """The API query for `query`, once the token's role is known to reach it. Raises RoleError when a
    non-administrator asks for every agent's sessions or names another agent (a server might answer
    with the caller's own sessions and a count would silently shrink)."""
    token = client.token
    admin = is_admin(token)
    check_transport = getattr(client, "_check_transport", None)
    if not admin and token and check_transport is not None:
        check_transport(client.api)  # a token that must not travel (plain http) is refused before its role
    if not admin:
        if query.agent == ALL:
            role = token_role(token)
            has = f"its role is {role!r}" if role else "this one has none"
            raise RoleError(f"--agent all needs a token with the administrator role ({has}); {ME_HINT}")
        named = query.named_agent
        if named and not _is_caller(client, token, named):
            raise RoleError(f"--agent {named}: only an administrator can select another agent's sessions; {ME_HINT}")
    return query.to_params(admin=admin)


def _is_caller(client: Any, token: str | None, named: str) -> bool:
    sub = (jwt_claims(token or "") or {}).get("sub")
    if isinstance(sub, str) and sub.lower() == named.lower():
        return True
    me = client.me()
    return named in (me.get("id"), me.get("email")) or named.lower() == str(me.get("email") or "").lower()


class Selection:
    """One listing, verified item by item. Iterate once.

    Items move across the cursor while pages are read: a pending session that is accepted, a device
    that is seen, jumps to the top, above the pages already read. So once the walk is done (and the
    caller set no upper bound), one catch-up walk asks for what is newer than the first item seen and
    adds what the walk had not met (usually one request that returns nothing).
    """

    def __init__(self, items: Callable[[dict, int], Iterator[dict]], query: SessionQuery | DeviceQuery,
                 params: dict, cursor: paging.Cursor, *, now: datetime | None = None, limit: int | None = None,
                 catch_up: bool = True):
        self.query, self.params, self.cursor, self.noun = query, params, cursor, cursor.noun
        self.now = now or datetime.now(timezone.utc)
        self.limit = limit
        self.catch_up = catch_up and cursor.param not in params
        self._items = items
        # Criteria the server was never asked to apply: failing them is expected, not "outside".
        self.client_only = {"age"}
        if isinstance(query, SessionQuery) and query.named_agent:  # the server is never sent an agent id
            self.client_only.add("agent")
        self.outside: list[str] = []
        self.matched = 0
        self.seen = 0
        self.caught_up = 0  # items only the catch-up walk found
        self.complete = False
        self.agents_seen: set[str] = set()
        self._ids: set[str] = set()
        self._mismatch = query.mismatch  # looked up once: _take runs for every item
        self._labels = isinstance(query, SessionQuery) and bool(query.named_agent)

    def __iter__(self) -> Iterator[dict]:
        if self.limit is not None and self.limit <= 0:
            self.complete = True
            return
        # A criterion only the client checks may drop most items: then small pages cost many requests.
        page_size = MAX_PAGE if self.limit is None or self.client_only & {"agent"} else min(self.limit, MAX_PAGE)
        top = None
        for item in self._items(self.params, page_size):
            if top is None:
                top = paging.item_time(item, self.cursor)
            if self._take(item):
                yield item
                if self.limit is not None and self.matched >= self.limit:
                    return
        if self.catch_up and top is not None:
            after = dict(self.params, **{self.cursor.after: iso_ms(top)})
            for item in self._items(after, MAX_PAGE):
                if item.get("id") in self._ids:
                    continue
                self.caught_up += 1
                if self._take(item):
                    yield item
                    if self.limit is not None and self.matched >= self.limit:
                        return
        self.complete = True

    def _take(self, item: dict) -> bool:
        """Record one item the server sent; True when it matches the whole selection."""
        self.seen += 1
        if self.catch_up:
            self._ids.add(item.get("id"))
        if self._labels:
            label = agent_label(item)
            if label:
                self.agents_seen.add(label)
        reason = self._mismatch(item, now=self.now)
        if reason is None:
            self.matched += 1
            return True
        if reason not in self.client_only:
            self.outside.append(str(item.get("id")))
        return False

    def notes(self, *, debug: bool = False) -> list[str]:
        """Lines for stderr: what the server got wrong, and an --agent that matched nothing."""
        lines = []
        if self.outside:
            n = len(self.outside)
            lines.append(f"the server returned {n} {self.noun if n != 1 else self.noun.rstrip('s')} outside the "
                         "selection (not counted; they fail a state, filter, agent or time condition)")
            if debug:
                lines.append("outside the selection: " + ", ".join(self.outside))
        named = getattr(self.query, "named_agent", None)
        if named and self.complete and self.matched == 0:
            seen = sorted(self.agents_seen)
            shown = ", ".join(seen[:10]) + (f" and {len(seen) - 10} more" if len(seen) > 10 else "")
            lines.append(f"no {self.noun} of agent {named!r} in the whole listing; agents seen: {shown or 'none'}")
        return lines


def select_sessions(client: Any, query: SessionQuery, *, now: datetime | None = None, limit: int | None = None,
                    on_page: Callable[[int], None] | None = None, catch_up: bool = True,
                    unordered: bool = False) -> Selection:
    """Role check now (RoleError), then a lazy verified walk of every page (see Selection). `unordered`
    (for callers that count, or sort afterwards) lists concurrently over time windows (windows.py)."""
    params = scope_params(client, query)
    # A session moves across the cursor only by becoming active (its `activated` is set): that loses a
    # session only when the selection holds it before and after; `state=active` alone is a snapshot.
    states = set(query.states)
    catch_up = catch_up and (not states or bool(states & {"pending", "authorizing"} and "active" in states))
    if unordered and limit is None:
        items = _windowed(client, client.list_sessions, paging.SESSIONS, on_page)
    else:
        items = lambda p, size: client.iter_sessions(p, page_size=size, on_page=on_page)  # noqa: E731
    return Selection(items, query, params, paging.SESSIONS, now=now, limit=limit, catch_up=catch_up)


def newest_first(sessions: Iterable[dict]) -> list[dict]:
    """An unordered listing back in the order the sequential walk gives (newest first by the cursor)."""
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(sessions, key=lambda s: paging.item_time(s, paging.SESSIONS) or oldest, reverse=True)


def _windowed(client: Any, list_page: Callable[..., list], cursor: paging.Cursor,
              on_page: Callable[[int], None] | None) -> Callable[[dict, int], Iterator[dict]]:
    from cobrowse_cli.client.windows import DEFAULT_CONCURRENCY, iter_windowed

    debug = getattr(client, "debug", None)

    def items(params: dict, size: int) -> Iterator[dict]:
        n = 0
        for item in iter_windowed(lambda q: list_page(**q), cursor, params, page_size=size,
                                  concurrency=getattr(client, "concurrency", DEFAULT_CONCURRENCY),
                                  rate_limited=lambda: getattr(client, "rate_limited", 0),
                                  log=client._log if debug is not None else (lambda line: None)):
            n += 1
            if on_page and n % size == 0:
                on_page(n)
            yield item
        if on_page:
            on_page(n)
    return items


def select_devices(client: Any, query: DeviceQuery, *, limit: int | None = None,
                   on_page: Callable[[int], None] | None = None, catch_up: bool = True) -> Selection:
    return Selection(lambda p, size: client.iter_devices(p, page_size=size, on_page=on_page),
                     query, query.to_params(), paging.DEVICES, limit=limit, catch_up=catch_up)
