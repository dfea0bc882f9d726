"""Issue 18 under a server whose page cap varies: a full first page proves nothing about the windows'
pages, so every window and tail must end on an empty answer (client/windows.py). Truth: the sandbox's
own count, or the plain sequential walk's ids; the client runs in-process against the shared sandbox.
"""

from __future__ import annotations

import io
import random

from cobrowse_cli.client import Client, windows
from cobrowse_cli.client.listing import select_sessions
from cobrowse_cli.client.paging import SESSIONS, iter_paged
from cobrowse_cli.client.selection import SessionQuery

ACTIVE = SessionQuery(states=("active",), agent="all")


def test_the_variant_caps_bounded_queries_only(sandbox):
    sandbox.reset(sessions=700, active=600, devices=0, seed=3, variants=["page-cap-bounded=50"])
    token = sandbox.admin_token()
    first = sandbox.api("GET", "/api/1/sessions?agent=all&state=active&limit=1000", token=token).body
    assert len(first) == 600  # the unbounded page is not capped
    for bound in (f"activated_before={first[5]['activated']}", f"activated_after={first[-1]['activated']}"):
        page = sandbox.api("GET", f"/api/1/sessions?agent=all&state=active&limit=1000&{bound}", token=token).body
        assert len(page) == 50, bound
    assert sandbox.control("GET", "/_sandbox/variants")["active"] == ["page-cap-bounded=50"]
    bad = sandbox.api("POST", "/_sandbox/reset", token=None, json={"variants": ["page-cap-bounded=0"]})
    assert bad.status == 400 and "page-cap-bounded needs a number" in bad.body["message"]


def test_windows_are_exact_and_still_used_when_bounded_pages_are_capped(sandbox):
    sandbox.reset(sessions=4000, active=3500, devices=0, seed=5, variants=["page-cap-bounded=300"])
    log = io.StringIO()
    with Client(sandbox.url, sandbox.admin_token(), debug=log, concurrency=4) as client:
        ids = [s["id"] for s in select_sessions(client, ACTIVE, unordered=True)]
    assert len(ids) == len(set(ids)) == 3500
    assert "next 3 windows" in log.getvalue()  # the cap was seen and the windows sized to it


def test_a_cap_varying_with_load_never_loses_a_session(sandbox):
    """Every bounded answer cut to a random length, never below 50 items (more than any millisecond's group
    here: a cap below a group's size is undecidable from answers, see windows.py)."""
    sandbox.reset(sessions=5000, active=4400, devices=0, seed=9)
    rng = random.Random(18)
    with Client(sandbox.url, sandbox.admin_token(), concurrency=4) as client:
        params = ACTIVE.to_params(admin=True)
        plain = {s["id"] for s in iter_paged(lambda q: client.list_sessions(**q), SESSIONS, params)}

        def varying(query: dict) -> list[dict]:
            page = client.list_sessions(**query)
            bounded = SESSIONS.param in query or SESSIONS.after in query
            return page[: rng.randint(min(len(page), 50), len(page))] if bounded else page

        ids = [s["id"] for s in windows.iter_windowed(varying, SESSIONS, params)]
    assert len(plain) == 4400 and len(ids) == len(set(ids)) and set(ids) == plain
