"""Server variants, switched at run time on the shared sandbox with `POST /_sandbox/reset {"variants": [...]}`.

Each test compares one variant's answer with the default answer to the same request, so both behaviours are
pinned: the variant differs exactly where documented, and a reset without `variants` restores the default.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.conftest import ControlError

_anchor: list[str] = []


@pytest.fixture(autouse=True)
def same_data(sandbox):
    """One "now" per test, so every reset in it seeds the same data (and nothing is old enough to time out)."""
    _anchor[:] = [datetime.now(timezone.utc).isoformat()]
    sandbox.reset(now=_anchor[0])


def play(sandbox, *variants: str) -> dict:
    return sandbox.reset(now=_anchor[0], variants=list(variants))


def listing(sandbox, query: str, token=None) -> list[dict]:
    res = sandbox.api("GET", f"/api/1/sessions{query}", token=token or sandbox.admin_token())
    assert res.status == 200, res.body
    return res.body


def key(s: dict) -> str:
    return s["activated"] or s["created"]


def test_reset_reports_variants_and_stats_show_them(sandbox):
    body = play(sandbox, "page-cap=7,ignore-state", "order=created")
    assert body["variants"] == ["page-cap=7", "order=created", "ignore-state"]
    assert sandbox.stats()["variants"] == body["variants"]
    assert sandbox.control("GET", "/_sandbox/variants")["active"] == body["variants"]
    sandbox.reset()
    assert sandbox.stats()["variants"] == []


def test_unknown_variant_is_a_400_listing_the_valid_ones_and_changes_nothing(sandbox):
    play(sandbox, "ignore-state")
    for bad in (["no-such-thing"], ["page-cap"], ["page-cap=0"], ["order=random"], "ignore-state=1", [3]):
        with pytest.raises(ControlError) as e:
            sandbox.control("POST", "/_sandbox/reset", {"variants": bad})
        assert e.value.status == 400
        if bad == ["no-such-thing"]:
            assert "page-cap=N" in e.value.body["message"] and "end-ended-404" in e.value.body["message"]
    assert sandbox.stats()["variants"] == ["ignore-state"]


def test_page_cap_returns_at_most_n_whatever_limit_asks(sandbox):
    assert len(listing(sandbox, "?agent=all&limit=50")) == 50
    play(sandbox, "page-cap=13")
    assert len(listing(sandbox, "?agent=all&limit=50")) == 13
    assert len(listing(sandbox, "?agent=all&limit=5")) == 5
    assert len(listing(sandbox, "?agent=all")) == 13  # the default limit too
    with_limit_0 = sandbox.api("GET", "/api/1/sessions?agent=all&limit=0", token=sandbox.admin_token())
    assert with_limit_0.status == 400  # validation is unchanged


def _boundary(sandbox) -> tuple[str, list[dict]]:
    """An activated time shared by several sessions, and the whole newest-first listing."""
    rows = listing(sandbox, "?agent=all&limit=1000")
    keys = [key(r) for r in rows]
    shared = next(k for k in keys if keys.count(k) > 1)
    return shared, rows


def test_inclusive_cursor_returns_the_boundary_items_again(sandbox):
    shared, rows = _boundary(sandbox)
    at = [r["id"] for r in rows if key(r) == shared]
    strict = listing(sandbox, f"?agent=all&limit=1000&activated_before={shared}")
    assert all(key(r) < shared for r in strict)
    play(sandbox, "inclusive-cursor")
    inclusive = listing(sandbox, f"?agent=all&limit=1000&activated_before={shared}")
    assert {r["id"] for r in inclusive} == {r["id"] for r in strict} | set(at)


def test_after_inclusive(sandbox):
    shared, rows = _boundary(sandbox)
    at = {r["id"] for r in rows if key(r) == shared}
    strict = {r["id"] for r in listing(sandbox, f"?agent=all&limit=1000&activated_after={shared}")}
    assert not strict & at
    play(sandbox, "after-inclusive")
    inclusive = {r["id"] for r in listing(sandbox, f"?agent=all&limit=1000&activated_after={shared}")}
    assert inclusive == strict | at
    # the cursor stays strict unless inclusive-cursor is on too
    assert all(key(r) < shared for r in listing(sandbox, f"?agent=all&limit=1000&activated_before={shared}"))


def test_order_created_sorts_by_created_and_keeps_the_cursor_on_activated(sandbox):
    default = listing(sandbox, "?agent=all&limit=1000&state=active")
    assert [key(r) for r in default] == sorted((key(r) for r in default), reverse=True)
    play(sandbox, "order=created")
    rows = listing(sandbox, "?agent=all&limit=1000&state=active")
    assert {r["id"] for r in rows} == {r["id"] for r in default}
    assert [r["created"] for r in rows] == sorted((r["created"] for r in rows), reverse=True)
    assert [key(r) for r in rows] != [key(r) for r in default]  # the seed's created/activated gaps differ
    cut = default[5]["activated"]
    page = listing(sandbox, f"?agent=all&limit=1000&state=active&activated_before={cut}")
    assert page and all(r["activated"] < cut for r in page)
    play(sandbox, "order=activated")
    assert listing(sandbox, "?agent=all&limit=1000&state=active") == default


def test_ignore_filters(sandbox):
    rows = listing(sandbox, "?agent=all&limit=1000&filter_plan=pro")
    assert rows and all(r["custom_data"]["plan"] == "pro" for r in rows)
    play(sandbox, "ignore-filters")
    assert len(listing(sandbox, "?agent=all&limit=1000&filter_plan=pro")) == 200
    assert len(listing(sandbox, "?agent=all&limit=1000&filter_plan=nothing-has-this")) == 200


def test_ignore_state(sandbox):
    assert len(listing(sandbox, "?agent=all&limit=1000&state=active")) == 20
    play(sandbox, "ignore-state")
    rows = listing(sandbox, "?agent=all&limit=1000&state=pending")
    assert len(rows) == 200 and {r["state"] for r in rows} >= {"active", "ended"}
    assert sandbox.api("GET", "/api/1/sessions?state=bogus", token=sandbox.admin_token()).status == 400


def test_ignore_agent(sandbox):
    alice = sandbox.api("GET", "/api/1/users/me", token=sandbox.token("alice@sandbox.test")).body["id"]
    only_alice = listing(sandbox, f"?agent={alice}&limit=1000")
    assert only_alice and all(r["agent"]["id"] == alice for r in only_alice)
    assert sandbox.api("GET", f"/api/1/sessions?agent={alice}").status == 403  # a plain agent
    play(sandbox, "ignore-agent")
    everyone = listing(sandbox, f"?agent={alice}&limit=1000")
    assert len(everyone) == 200
    own = listing(sandbox, f"?agent={alice}&limit=1000", token=sandbox.token())
    me = sandbox.api("GET", "/api/1/users/me").body["id"]
    assert own and all(r["agent"]["id"] == me for r in own)
    assert sandbox.api("GET", "/api/1/sessions?agent=all").status == 403  # agent=all is still honoured


def test_non_admin_own(sandbox):
    res = sandbox.api("GET", "/api/1/sessions?agent=all&limit=1000")
    assert res.status == 403 and "administrator" in res.body["message"]
    play(sandbox, "non-admin-own")
    rows = listing(sandbox, "?agent=all&limit=1000", token=sandbox.token())
    me = sandbox.api("GET", "/api/1/users/me").body["id"]
    assert rows and {r["agent"]["id"] for r in rows} == {me}
    assert len(listing(sandbox, "?agent=all&limit=1000")) == 200  # administrators unchanged


def test_no_ended_reason_everywhere_a_session_is_served(sandbox):
    ended = listing(sandbox, "?agent=all&limit=1&state=ended")[0]
    assert "ended_reason" in ended
    play(sandbox, "no-ended-reason")
    admin = sandbox.admin_token()
    assert all("ended_reason" not in r for r in listing(sandbox, "?agent=all&limit=1000"))
    assert "ended_reason" not in sandbox.api("GET", f"/api/1/sessions/{ended['id']}", token=admin).body
    created = sandbox.api("POST", "/api/1/sessions", token=admin, json={}).body
    assert "ended_reason" not in created
    put = sandbox.api("PUT", f"/api/1/sessions/{created['id']}", token=admin, json={"id": created["id"], "state": "ended"})
    assert put.status == 200 and put.body["state"] == "ended" and "ended_reason" not in put.body


def test_end_ended_404(sandbox):
    admin = sandbox.admin_token()
    sid = listing(sandbox, "?agent=all&limit=1&state=active")[0]["id"]
    end = {"id": sid, "state": "ended"}
    assert sandbox.api("PUT", f"/api/1/sessions/{sid}", token=admin, json=end).status == 200
    again = sandbox.api("PUT", f"/api/1/sessions/{sid}", token=admin, json=end)
    assert again.status == 200 and again.body["state"] == "ended"  # default: the unchanged session
    play(sandbox, "end-ended-404")
    sid = listing(sandbox, "?agent=all&limit=1&state=active")[0]["id"]
    assert sandbox.api("PUT", f"/api/1/sessions/{sid}", token=admin, json={"id": sid, "state": "ended"}).status == 200
    again = sandbox.api("PUT", f"/api/1/sessions/{sid}", token=admin, json={"id": sid, "state": "ended"})
    assert again.status == 404 and again.body["id"] == "not_found"
    assert sandbox.api("GET", f"/api/1/sessions/{sid}", token=admin).status == 200  # it still exists
    assert sandbox.stats()["ends"]["by_session"][sid] == 1


def test_agent_scope_answers_403_where_the_default_answers_404(sandbox):
    me = sandbox.api("GET", "/api/1/users/me").body["id"]
    other = next(r for r in listing(sandbox, "?agent=all&limit=1000&state=active") if r["agent"]["id"] != me)
    path = f"/api/1/sessions/{other['id']}"
    assert sandbox.api("GET", path).status == 404
    play(sandbox, "agent-scope")
    res = sandbox.api("GET", path)
    assert res.status == 403 and res.body["id"] == "forbidden"
    put = sandbox.api("PUT", path, json={"id": other["id"], "state": "ended"})
    assert put.status == 403
    assert other["id"] not in sandbox.stats()["ends"]["by_session"]
    assert sandbox.api("GET", "/api/1/sessions/doesnotexist00000000").status == 404  # missing stays 404


def test_variants_combine(sandbox):
    play(sandbox, "page-cap=3", "ignore-state", "ignore-filters")
    rows = listing(sandbox, "?agent=all&limit=100&state=active&filter_plan=nothing")
    assert len(rows) == 3


def test_device_listing_plays_page_cap_cursors_and_ignored_filters(sandbox):
    token = sandbox.admin_token()

    def devices(query: str) -> list[dict]:
        res = sandbox.api("GET", f"/api/1/devices{query}", token=token)
        assert res.status == 200, res.body
        return res.body

    every = devices("?limit=1000")
    pivot = every[3]["last_active"]
    strict_before, strict_after = devices(f"?limit=1000&seen_before={pivot}"), devices(f"?limit=1000&seen_after={pivot}")
    assert pivot not in {d["last_active"] for d in strict_before + strict_after}
    plan = every[0]["custom_data"]["plan"]
    filtered = devices(f"?limit=1000&filter_plan={plan}")
    assert len(filtered) < len(every)
    play(sandbox, "page-cap=4", "inclusive-cursor", "after-inclusive", "ignore-filters")
    assert len(devices("?limit=1000")) == 4
    play(sandbox, "inclusive-cursor", "after-inclusive", "ignore-filters")
    assert pivot in {d["last_active"] for d in devices(f"?limit=1000&seen_before={pivot}")}
    assert pivot in {d["last_active"] for d in devices(f"?limit=1000&seen_after={pivot}")}
    assert len(devices(f"?limit=1000&filter_plan={plan}")) == len(every)


def test_no_ended_reason_on_the_realtime_socket_too(sandbox):
    import asyncio

    from tests.sandbox.test_realtime import open_socket, recv, rest, send

    play(sandbox, "no-ended-reason")
    token = sandbox.token()
    notification_token = rest(sandbox.url, "GET", "/api/1/users/me", token)["notification_token"]
    session = rest(sandbox.url, "POST", "/api/1/sessions", token, {})

    async def scenario():
        async with open_socket(sandbox.url, notification_token) as ws:
            await send(ws, "subscribe", 1, session["control_token"])
            assert await recv(ws) == {"ack": 1}
            await asyncio.to_thread(sandbox.control, "POST", f"/_sandbox/sessions/{session['id']}/end")
            event = await recv(ws)
            assert event["data"]["state"] == "ended" and "ended_reason" not in event["data"]

    asyncio.run(scenario())
