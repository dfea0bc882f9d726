"""Devices REST: list filters, seen_before/after, ordering, get, notifications."""

from __future__ import annotations

from urllib.parse import quote

import pytest


def devices(sandbox, query=""):
    res = sandbox.api("GET", f"/api/1/devices{query}")
    assert res.status == 200, res.body
    return res.body


def test_list_newest_last_active_first_with_all_fields(sandbox):
    rows = devices(sandbox)
    assert len(rows) == 10
    assert [(r["last_active"], r["id"]) for r in rows] == sorted(((r["last_active"], r["id"]) for r in rows),
                                                                  key=lambda k: (_neg(k[0]), k[1]))
    for r in rows:
        assert set(r) == {"id", "custom_data", "device", "connectable", "last_active", "notification_token"}
        assert {"platform", "device", "os_version", "app_name", "sdk_version"} <= set(r["device"])


def _neg(iso: str):
    return tuple(-ord(c) for c in iso)


def test_seen_before_after_strict_and_limit(sandbox):
    rows = devices(sandbox)
    pivot = rows[4]["last_active"]
    before = devices(sandbox, f"?seen_before={quote(pivot)}")
    after = devices(sandbox, f"?seen_after={quote(pivot)}")
    assert all(r["last_active"] < pivot for r in before) and all(r["last_active"] > pivot for r in after)
    assert len(before) + len(after) + sum(r["last_active"] == pivot for r in rows) == 10
    assert len(devices(sandbox, "?limit=3")) == 3
    for bad in ("?limit=0", "?limit=5000", "?seen_before=nope", "?seen_after=2024-02-30"):
        res = sandbox.api("GET", f"/api/1/devices{bad}")
        assert res.status == 400 and set(res.body) == {"id", "message"}, bad


def test_filter_and_control_created_device(sandbox):
    d = sandbox.control("POST", "/_sandbox/devices", {"custom_data": {"user_id": "77", "plan": "pro"},
                                                      "device": {"platform": "ios"}})
    assert [r["id"] for r in devices(sandbox, "?filter_user_id=77")] == [d["id"]]
    assert devices(sandbox, "?filter_user_id=77&filter_plan=free") == []
    got = sandbox.api("GET", f"/api/1/devices/{d['id']}").body
    assert got == d and got["device"]["platform"] == "ios"
    assert sandbox.api("GET", "/api/1/devices/nope").status == 404


def test_notifications(sandbox):
    d = devices(sandbox)[0]
    sandbox.control("PUT", f"/_sandbox/devices/{d['id']}", {"connectable": True})
    s = sandbox.api("POST", "/api/1/sessions").body
    ok = sandbox.api("POST", f"/api/1/devices/{d['id']}/notifications", json={"session": s["id"], "attempt": 1})
    assert ok.status == 200 and ok.body["sent"] is True
    for body, status in [({"attempt": 1}, 400), ({"session": s["id"], "attempt": "x"}, 400),
                         ({"session": "nope", "attempt": 1}, 404)]:
        assert sandbox.api("POST", f"/api/1/devices/{d['id']}/notifications", json=body).status == status
    assert sandbox.api("POST", "/api/1/devices/nope/notifications", json={"session": s["id"]}).status == 404
    sandbox.control("PUT", f"/_sandbox/devices/{d['id']}", {"connectable": False})
    res = sandbox.api("POST", f"/api/1/devices/{d['id']}/notifications", json={"session": s["id"], "attempt": 2})
    assert res.status == 200 and res.body["sent"] is False


@pytest.mark.parametrize("raw", [b"{", b"[]", b""])
def test_notifications_bad_body(sandbox, raw):
    d = devices(sandbox)[0]
    res = sandbox.api("POST", f"/api/1/devices/{d['id']}/notifications", body=raw)
    assert res.status == 400 and set(res.body) == {"id", "message"}


def test_device_update_merges_custom_data(sandbox):
    d = devices(sandbox)[0]
    out = sandbox.control("PUT", f"/_sandbox/devices/{d['id']}", {"custom_data": {"plan": None, "x": "1"}})
    assert "plan" not in out["custom_data"] and out["custom_data"]["x"] == "1"
    assert out["last_active"] >= d["last_active"]
