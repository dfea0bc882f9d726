"""`sessions watch` / `devices watch` against the real sandbox subprocess, both transports.

Changes are made the ways they happen for real: the device side through the sandbox control surface,
another agent's client through the REST API. A watch runs in a thread (run_watch, the command's own
function) so the test can change things while it watches.
"""

from __future__ import annotations

import json
import uuid

import pytest

from cobrowse_cli import exitcodes
from cobrowse_cli.watch.feed import WatchTimeout

TRANSPORTS = ["socket", "poll"]


def new_session(sandbox, tag: str, state: str = "pending") -> str:
    created = sandbox.control("POST", "/_sandbox/sessions",
                              {"count": 1, "state": state, "agent": "agent@sandbox.test", "custom_data": {"tag": tag}})
    return created["ids"][0]


def events(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def changes(lines: list[str]) -> list[dict]:
    return [e for e in events(lines) if e["type"] != "added"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_change_appears_exactly_once(sandbox, start_watch, transport):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    # --count 3 is never reached (two changes are made), so the watch runs until --timeout: every
    # socket event is also seen again by the re-lists (every 0.3 s) and must not print twice.
    w = start_watch(sandbox.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport=transport,
                    ndjson=True, count=3, timeout="2s")
    w.out.wait_for(lambda ls: len(ls) >= 1)
    sandbox.control("POST", f"/_sandbox/sessions/{sid}/accept")  # the device side
    w.out.wait_for(lambda ls: len(ls) >= 2)
    res = sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "custom_data": {"ticket": "T-1"}})
    assert res.status == 200  # another agent's client
    result = w.wait()
    assert isinstance(result, WatchTimeout) and result.exit_code == exitcodes.WATCH_TIMEOUT
    evs = events(w.out.lines)
    assert [e["type"] for e in evs] == ["added", "updated", "updated"]
    assert evs[0]["resource"]["id"] == sid and evs[0]["changed"] == []
    assert {"field": "state", "old": "pending", "new": "active"} in evs[1]["changed"]
    assert evs[2]["changed"] == [{"field": "custom_data.ticket", "old": None, "new": "T-1"}]
    assert evs[2]["resource"]["custom_data"] == {"tag": tag, "ticket": "T-1"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_until_state_ended_exits_0(sandbox, start_watch, transport):
    sid = new_session(sandbox, uuid.uuid4().hex, state="active")
    w = start_watch(sandbox.url, sandbox.token(), kind="session", ids=[sid], transport=transport, until=["state=ended"])
    w.out.wait_for(lambda ls: len(ls) >= 1)
    sandbox.control("POST", f"/_sandbox/sessions/{sid}/end")
    assert w.wait() == exitcodes.OK
    assert len(w.out.lines) == 2
    assert w.out.lines[1].split()[1:4] == ["session", sid, "ended"]
    assert "state active → ended" in w.out.lines[1] and "ended_reason (none) → device_ended" in w.out.lines[1]


def test_until_already_true_exits_at_once(sandbox, start_watch):
    sid = new_session(sandbox, uuid.uuid4().hex)
    w = start_watch(sandbox.url, sandbox.token(), kind="session", ids=[sid], transport="poll", until=["state=pending"])
    assert w.wait() == exitcodes.OK
    assert len(w.out.lines) == 1 and "added" in w.out.lines[0]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_count_exits_0_after_n_changes(sandbox, start_watch, transport):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    w = start_watch(sandbox.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport=transport,
                    count=1, ndjson=True)
    w.out.wait_for(lambda ls: len(ls) >= 1)
    new_session(sandbox, tag)  # a new matching session: found by the re-list (socket: then subscribed)
    assert w.wait() == exitcodes.OK
    evs = events(w.out.lines)
    assert [e["type"] for e in evs] == ["added", "added"]
    assert evs[0]["resource"]["id"] == sid


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_timeout_without_changes_exits_7(sandbox, start_watch, transport):
    sid = new_session(sandbox, uuid.uuid4().hex)
    w = start_watch(sandbox.url, sandbox.token(), kind="session", ids=[sid], transport=transport,
                    until=["state=ended"], timeout="0.8s")
    result = w.wait()
    assert isinstance(result, WatchTimeout) and result.exit_code == exitcodes.WATCH_TIMEOUT
    assert "timed out" in str(result)
    assert len(w.out.lines) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ended_session_leaves_a_state_filtered_watch(sandbox, start_watch, transport):
    """Default states are the open ones: an ended session is reported once as `ended`, then dropped."""
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag, state="active")
    w = start_watch(sandbox.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport=transport,
                    ndjson=True, count=2, timeout="1.5s")
    w.out.wait_for(lambda ls: len(ls) >= 1)
    sandbox.control("POST", f"/_sandbox/sessions/{sid}/end")
    result = w.wait()
    assert isinstance(result, WatchTimeout)
    assert [e["type"] for e in events(w.out.lines)] == ["added", "ended"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_device_changes_and_filter_exit(sandbox, start_watch, transport):
    tag = uuid.uuid4().hex
    dev = sandbox.control("POST", "/_sandbox/devices", {"custom_data": {"tag": tag}})
    w = start_watch(sandbox.url, sandbox.token(), kind="device", filters=[f"tag={tag}"], transport=transport,
                    ndjson=True, count=10, timeout="2s")
    w.out.wait_for(lambda ls: len(ls) >= 1)
    sandbox.control("PUT", f"/_sandbox/devices/{dev['id']}", {"connectable": False})
    w.out.wait_for(lambda ls: any(e["type"] == "updated" for e in events(ls)))
    sandbox.control("PUT", f"/_sandbox/devices/{dev['id']}", {"custom_data": {"tag": "other"}})
    result = w.wait()
    assert isinstance(result, WatchTimeout)
    evs = changes(w.out.lines)
    if transport == "socket":  # the socket also reports presence (first: offline, from sync-presence)
        presence = [e for e in evs if e["type"] == "presence"]
        assert [p["changed"] for p in presence] == [[{"field": "online", "old": None, "new": False}]]
        evs = [e for e in evs if e["type"] != "presence"]
    assert [e["type"] for e in evs] == ["updated", "updated", "removed"]
    assert evs[0]["changed"] == [{"field": "connectable", "old": True, "new": False}]
    assert evs[1]["changed"] == [{"field": "custom_data.tag", "old": tag, "new": "other"}]
    assert evs[2]["resource"]["id"] == dev["id"]


def test_device_presence_until_online(sandbox, start_watch):
    dev = sandbox.control("POST", "/_sandbox/devices", {"custom_data": {"tag": uuid.uuid4().hex}})
    w = start_watch(sandbox.url, sandbox.token(), kind="device", ids=[dev["id"]], transport="socket", until=["online=true"])
    w.out.wait_for(lambda ls: len(ls) >= 2)  # added, then presence (offline) from sync-presence
    sandbox.control("POST", f"/_sandbox/devices/{dev['id']}/online")
    assert w.wait() == exitcodes.OK
    assert "presence  online false → true" in w.out.lines[-1]
