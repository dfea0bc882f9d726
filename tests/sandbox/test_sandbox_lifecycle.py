"""Session lifecycle and the server-side timeouts (shortened to fractions of a second), end to end: the
running server's background task ends sessions. The exact deadlines are pinned against an injected clock
in test_sandbox_timeouts_clock.py, so nothing here depends on how fast the machine is."""

from __future__ import annotations

import time


def wait_state(sandbox, sid, state, timeout=10.0):  # generous: CI cores are shared
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = sandbox.api("GET", f"/api/1/sessions/{sid}", token=sandbox.admin_token()).body
        if s["state"] == state:
            return s
        time.sleep(0.05)
    raise AssertionError(f"session {sid} not {state} within {timeout} s: {s}")


def test_pending_authorizing_active_ended_by_the_device(sandbox):
    s = sandbox.api("POST", "/api/1/sessions").body
    assert sandbox.control("POST", f"/_sandbox/sessions/{s['id']}/authorize")["state"] == "authorizing"
    active = sandbox.control("POST", f"/_sandbox/sessions/{s['id']}/accept")
    assert active["state"] == "active" and active["activated"] >= active["created"]
    ended = sandbox.control("POST", f"/_sandbox/sessions/{s['id']}/end")
    assert ended["state"] == "ended" and ended["ended_reason"] == "device_ended"


def test_inactivity_timeout_ends_an_active_session_whose_device_left(sandbox):
    sandbox.control("POST", "/_sandbox/timeouts", {"inactivity": 0.5})
    dev = sandbox.control("POST", "/_sandbox/devices", {"online": True})
    created = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active", "device": dev["id"],
                                                             "agent": "agent@sandbox.test"})
    sid = created["ids"][0]
    sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/offline")
    s = wait_state(sandbox, sid, "ended")
    assert s["ended_reason"] == "active_timeout"
    assert sandbox.stats()["ends"]["by_session"][sid] == 1


def test_device_going_offline_and_online_through_the_control_surface(sandbox):
    sandbox.control("POST", "/_sandbox/timeouts", {"inactivity": 600})
    dev = sandbox.control("POST", "/_sandbox/devices", {"online": True})
    sid = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active", "device": dev["id"]})["ids"][0]
    sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/offline")
    sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/online")
    assert sandbox.api("GET", f"/api/1/sessions/{sid}", token=sandbox.admin_token()).body["state"] == "active"


def test_pending_and_authorizing_timeouts(sandbox):
    sandbox.control("POST", "/_sandbox/timeouts", {"pending": 0.4, "authorizing": 0.4})
    pending = sandbox.api("POST", "/api/1/sessions").body
    authorizing = sandbox.api("POST", "/api/1/sessions").body
    sandbox.control("POST", f"/_sandbox/sessions/{authorizing['id']}/authorize")
    assert wait_state(sandbox, pending["id"], "ended")["ended_reason"] == "pending_timeout"
    assert wait_state(sandbox, authorizing["id"], "ended")["ended_reason"] == "authorizing_timeout"


def test_seeded_active_sessions_do_not_drift(sandbox):
    sandbox.control("POST", "/_sandbox/timeouts", {"inactivity": 0.2})
    before = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    time.sleep(0.5)
    assert sandbox.control("GET", "/_sandbox/truth/active-count")["count"] == before == 20


def test_inactivity_timeout_flag(sandbox_factory):
    sb = sandbox_factory("--sessions", "5", "--active", "1", "--devices", "1", "--inactivity-timeout", "0.3")
    assert sb.control("GET", "/_sandbox/timeouts")["inactivity"] == 0.3
    sid = sb.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active", "connected": False})["ids"][0]
    assert wait_state(sb, sid, "ended")["ended_reason"] == "active_timeout"
