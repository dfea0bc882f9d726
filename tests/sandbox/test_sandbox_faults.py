"""Fault injection: latency, 5xx share, 429 + Retry-After, dropped connections before/after processing."""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor

import pytest


def test_latency_is_added_to_api_calls_only(sandbox):
    sandbox.faults(latency_ms=300)
    t0 = time.monotonic()
    assert sandbox.api("GET", "/api/1/devices").status == 200
    assert time.monotonic() - t0 >= 0.3
    sandbox.faults(latency_ms=60_000)
    t0 = time.monotonic()
    sandbox.stats()  # the control surface is never slowed: a minute of latency would show, load would not
    assert time.monotonic() - t0 < 30


def test_error_rate_share_and_status(sandbox):
    sandbox.faults(error_rate=0.3, error_status=502, seed=42)
    token = sandbox.token()
    statuses = [sandbox.api("GET", "/api/1/users/me", token=token).status for _ in range(200)]
    share = statuses.count(502) / len(statuses)
    assert 0.2 <= share <= 0.4, share
    assert set(statuses) == {200, 502}
    res = next(r for r in (sandbox.api("GET", "/api/1/users/me", token=token) for _ in range(50)) if r.status == 502)
    assert set(res.body) == {"id", "message"}
    assert sandbox.stats()["requests"]["by_status"]["502"] == statuses.count(502) + 1


def test_rate_limit_answers_429_with_retry_after(sandbox):
    sandbox.faults(rate_limit=5)
    token = sandbox.token()
    with ThreadPoolExecutor(15) as pool:  # all at once: the limit is hit however slow the machine is
        results = list(pool.map(lambda _: sandbox.api("GET", "/api/1/users/me", token=token), range(15)))
    limited = [r for r in results if r.status == 429]
    assert limited and sum(r.status == 200 for r in results) >= 5
    assert limited[0].headers.get("retry-after") == "1"
    assert set(limited[0].body) == {"id", "message"}
    time.sleep(1.05)
    assert sandbox.api("GET", "/api/1/users/me", token=token).status == 200


def _put_end(sandbox, sid):
    with pytest.raises((OSError, http.client.HTTPException)):
        sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "state": "ended"}, timeout=5)


def test_drop_before_never_processes(sandbox):
    sid = sandbox.api("POST", "/api/1/sessions").body["id"]
    sandbox.faults(drop_rate=1.0, drop_when="before")
    _put_end(sandbox, sid)
    sandbox.faults(drop_rate=0)
    assert sandbox.api("GET", f"/api/1/sessions/{sid}").body["state"] == "pending"
    assert sandbox.stats()["ends"]["by_session"].get(sid) is None


def test_drop_after_applies_the_side_effect_then_cuts_the_response(sandbox):
    sid = sandbox.api("POST", "/api/1/sessions").body["id"]
    sandbox.faults(drop_rate=1.0, drop_when="after")
    _put_end(sandbox, sid)
    sandbox.faults(drop_rate=0)
    s = sandbox.api("GET", f"/api/1/sessions/{sid}").body
    assert s["state"] == "ended" and s["ended_reason"] == "agent_ended"
    # a retry of the same end is harmless: still one end
    assert sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "state": "ended"}).status == 200
    stats = sandbox.stats()
    assert stats["ends"]["by_session"][sid] == 1
    assert any(r["status"] == "dropped_after" for r in stats["requests"]["by_route"])


def test_fault_settings_are_validated_and_reset_clears_them(sandbox):
    for bad in ({"error_rate": 2}, {"error_status": 404}, {"drop_when": "during"}, {"nope": 1}, {"latency_ms": -1}):
        res = sandbox.api("POST", "/_sandbox/faults", token=None, json=bad)
        assert res.status == 400 and set(res.body) == {"id", "message"}, bad
    sandbox.faults(latency_ms=5, error_rate=0.1)
    assert sandbox.control("GET", "/_sandbox/faults")["error_rate"] == 0.1
    sandbox.reset()
    assert sandbox.control("GET", "/_sandbox/faults")["error_rate"] == 0


def test_serve_flags_switch_faults_on_for_a_run(sandbox_factory):
    sb = sandbox_factory("--sessions", "10", "--active", "2", "--devices", "2",
                         "--error-rate", "1", "--error-status", "500", "--latency", "50")
    t0 = time.monotonic()
    res = sb.api("GET", "/api/1/users/me")
    assert res.status == 500 and time.monotonic() - t0 >= 0.05
    faults = sb.control("GET", "/_sandbox/faults")
    assert faults["error_rate"] == 1 and faults["latency_ms"] == 50
