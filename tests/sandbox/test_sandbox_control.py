"""The control surface: reset, creating sessions in bulk, truth counts, churn, stats."""

from __future__ import annotations

import time


def test_reset_reseeds_and_clears_counters(sandbox):
    sandbox.api("GET", "/api/1/users/me")
    assert sandbox.stats()["requests"]["total"] >= 1
    out = sandbox.reset(sessions=50, active=7, devices=3, seed=9)
    assert out["stats"]["active"] == 7 and sum(out["stats"].values()) == 50
    stats = sandbox.stats()
    assert stats["requests"]["total"] == 0 and stats["ends"]["total"] == 0 and stats["devices"] == 3


def test_bulk_create_in_any_state_and_truth_by_agent_and_filter(sandbox):
    before = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    made = sandbox.control("POST", "/_sandbox/sessions", {"count": 30, "state": "active", "agent": "bob@sandbox.test",
                                                          "custom_data": {"region": "mars"}})
    assert made["count"] == 30 and len(made["sessions"]) == 30
    assert all(s["state"] == "active" and s["agent"]["email"] == "bob@sandbox.test" for s in made["sessions"])
    assert sandbox.control("GET", "/_sandbox/truth/active-count")["count"] == before + 30
    assert sandbox.control("GET", "/_sandbox/truth/active-count?filter_region=mars")["count"] == 30
    assert sandbox.control("GET", "/_sandbox/truth/active-count?agent=bob%40sandbox.test&filter_region=mars")["count"] == 30
    ended = sandbox.control("POST", "/_sandbox/sessions", {"count": 2, "state": "ended"})
    assert all(s["ended_reason"] == "device_ended" for s in ended["sessions"])
    bad = sandbox.api("POST", "/_sandbox/sessions", token=None, json={"count": 1, "state": "running"})
    assert bad.status == 400 and set(bad.body) == {"id", "message"}


def test_session_actions_404_and_bad_transitions(sandbox):
    assert sandbox.api("POST", "/_sandbox/sessions/nope/end", token=None).status == 404
    s = sandbox.api("POST", "/api/1/sessions").body
    assert sandbox.api("POST", f"/_sandbox/sessions/{s['id']}/explode", token=None).status == 404
    sandbox.control("POST", f"/_sandbox/sessions/{s['id']}/end")
    assert sandbox.api("POST", f"/_sandbox/sessions/{s['id']}/accept", token=None).status == 400


def test_remote_control_request_rejected_by_the_device(sandbox):
    s = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active", "agent": "agent@sandbox.test"})
    sid = s["ids"][0]
    sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "full_device": "requested"})
    assert sandbox.control("POST", f"/_sandbox/sessions/{sid}/reject")["full_device"] == "rejected"


def test_device_presence_via_control(sandbox):
    dev = sandbox.control("POST", "/_sandbox/devices", {"custom_data": {"k": "v"}})
    on = sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/online")
    assert on == {"id": dev["id"], "present": True, "last_seen": on["last_seen"]}
    assert sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/offline")["present"] is False
    assert sandbox.api("POST", "/_sandbox/devices/nope/online", token=None).status == 404


def test_exact_truth_while_churning(sandbox):
    """Paging a listing while sessions come and go: the truth endpoint stays consistent with the store."""
    sandbox.reset(sessions=1500, active=1200, devices=10, seed=3)
    sandbox.control("POST", "/_sandbox/churn", {"create_per_s": 300, "end_per_s": 100})
    try:
        time.sleep(0.3)
        counts = []
        for _ in range(5):
            started = time.monotonic()
            truth = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
            stats = sandbox.stats()["sessions"]["active"]
            between = time.monotonic() - started
            counts.append(truth)
            # each read is consistent, but churn goes on between them: at most 400 changes a second
            # (300 created + 100 ended), plus one tick's worth, however slow a loaded machine is
            assert abs(truth - stats) <= 40 + 400 * between
            time.sleep(0.1)
        assert len(set(counts)) > 1  # it really churns
        status = sandbox.control("GET", "/_sandbox/churn")
        assert status["running"] and status["create_per_s"] == 300
    finally:
        sandbox.control("POST", "/_sandbox/churn", {"create_per_s": 0, "end_per_s": 0})
    stats = sandbox.stats()
    assert stats["ends"]["max_per_session"] == 1 and stats["ends"]["by_reason"]["device_ended"] > 0
    frozen = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    time.sleep(0.2)
    listed = sandbox.api("GET", "/api/1/sessions?agent=all&state=active&limit=1000", token=sandbox.admin_token()).body
    assert frozen == sandbox.control("GET", "/_sandbox/truth/active-count")["count"] and len(listed) == min(frozen, 1000)


def test_control_surface_is_not_faulted(sandbox):
    sandbox.faults(error_rate=1.0)
    assert sandbox.stats()["requests"]["total"] == 0
    assert sandbox.api("GET", "/api/1/users/me").status == 503


def test_stats_count_requests_by_method_path_status(sandbox):
    token = sandbox.token()
    for _ in range(3):
        sandbox.api("GET", "/api/1/devices", token=token)
    sandbox.api("GET", "/api/1/devices?limit=0", token=token)
    rows = sandbox.stats()["requests"]["by_route"]
    assert {"method": "GET", "path": "/api/1/devices", "status": 200, "count": 3} in rows
    assert {"method": "GET", "path": "/api/1/devices", "status": 400, "count": 1} in rows


def test_sockets_control(sandbox):
    assert sandbox.control("GET", "/_sandbox/sockets")["open"] == 0
    assert sandbox.control("POST", "/_sandbox/sockets/drop")["dropped"] == 0
