"""The socket transport when the socket goes away: dropped by the server, cut without a close frame,
silently dead, or refused for good. A loopback proxy (conftest.Proxy) sits between the watch and the
sandbox; REST calls pass through it untouched."""

from __future__ import annotations

import json
import time
import uuid

from cobrowse_cli import exitcodes
from cobrowse_cli.exitcodes import CLIError

SLOW_RELIST = "60s"  # so a change can only arrive by the socket or by the catch-up after a reconnect


def new_session(sandbox, tag: str, state: str = "active") -> str:
    created = sandbox.control("POST", "/_sandbox/sessions",
                              {"count": 1, "state": state, "agent": "agent@sandbox.test", "custom_data": {"tag": tag}})
    return created["ids"][0]


def set_ticket(sandbox, sid: str, value: str) -> None:
    res = sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "custom_data": {"ticket": value}})
    assert res.status == 200


def wait_sockets(sandbox, n: int, timeout: float = 5.0) -> None:
    """Wait for n sockets that have subscribed: an open count alone includes handshakes still under way."""
    deadline = time.monotonic() + timeout
    while sandbox.control("GET", "/_sandbox/sockets")["subscribed"] != n:
        assert time.monotonic() < deadline, f"expected {n} open sockets"
        time.sleep(0.02)


def tickets(lines: list[str]) -> list:
    return [c["new"] for e in map(json.loads, lines) for c in e["changed"] if c["field"] == "custom_data.ticket"]


def test_server_drop_reconnects_and_keeps_reporting(sandbox, start_watch):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    w = start_watch(sandbox.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport="socket",
                    ndjson=True, interval=SLOW_RELIST, count=2)
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    set_ticket(sandbox, sid, "before")
    w.out.wait_for(lambda ls: tickets(ls) == ["before"])
    assert sandbox.control("POST", "/_sandbox/sockets/drop")["dropped"] == 1
    w.err.wait_for(lambda ls: any("reconnected" in line for line in ls))
    wait_sockets(sandbox, 1)
    set_ticket(sandbox, sid, "after")  # re-list is 60 s away: only the re-subscribed socket can report it
    assert w.wait() == exitcodes.OK
    assert tickets(w.out.lines) == ["before", "after"]
    assert "closed by the server (code 1012" in w.err.lines[0]


def test_changes_while_down_are_reported_once_after_reconnect(sandbox, proxy, start_watch):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    w = start_watch(proxy.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport="socket",
                    ndjson=True, interval=SLOW_RELIST, count=3, timeout="4s")
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    proxy.refuse_sockets = True
    assert proxy.cut_sockets() == 1  # no close frame: the link just goes
    w.err.wait_for(lambda ls: any("reconnect attempt 1 failed" in line for line in ls))
    set_ticket(sandbox, sid, "while-down")
    late = new_session(sandbox, tag)  # a session that appears while we are away
    time.sleep(0.3)
    assert len(w.out.lines) == 1  # nothing can arrive while the socket is refused
    proxy.refuse_sockets = False
    w.out.wait_for(lambda ls: len(ls) >= 3)
    set_ticket(sandbox, late, "late-via-socket")  # the new session was subscribed after the catch-up
    assert w.wait() == exitcodes.OK
    evs = [json.loads(line) for line in w.out.lines]
    assert sorted((e["type"], e["resource"]["id"]) for e in evs[1:]) == sorted(
        [("updated", sid), ("added", late), ("updated", late)])
    assert tickets(w.out.lines) == ["while-down", "late-via-socket"]
    assert any("connection lost" in line or "closed" in line for line in w.err.lines)


def test_dead_link_is_noticed_by_keepalive(sandbox, proxy, start_watch):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    w = start_watch(proxy.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport="socket",
                    ndjson=True, interval=SLOW_RELIST, count=1, socket_settings={"keepalive": 0.3})
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    proxy.blackhole_sockets()  # TCP stays up, nothing gets through: only a missing pong tells
    w.err.wait_for(lambda ls: any("reconnected" in line for line in ls), timeout=30)
    # noticed by the keepalive (0.3 s ping, 0.3 s pong timeout), not by the relist SLOW_RELIST later:
    assert "keepalive" in w.err.lines[0] or "1011" in w.err.lines[0]
    set_ticket(sandbox, sid, "after-dead-link")
    assert w.wait() == exitcodes.OK
    assert tickets(w.out.lines) == ["after-dead-link"]


def test_gives_up_with_exit_1_and_a_reason(sandbox, proxy, start_watch):
    sid = new_session(sandbox, uuid.uuid4().hex)
    w = start_watch(proxy.url, sandbox.token(), kind="session", ids=[sid], transport="socket",
                    interval=SLOW_RELIST, socket_settings={"max_attempts": 3})
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    proxy.refuse_sockets = True
    proxy.cut_sockets()
    result = w.wait(timeout=10)
    assert isinstance(result, CLIError) and result.exit_code == exitcodes.API_ERROR
    assert "3 reconnect attempts failed" in str(result)
    assert proxy.socket_attempts == 4  # the first connection and three retries


def test_auto_falls_back_to_poll_with_one_notice(sandbox, proxy, start_watch):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    proxy.refuse_sockets = True
    w = start_watch(proxy.url, sandbox.token(), kind="session", filters=[f"tag={tag}"], transport="auto",
                    ndjson=True, count=2)
    w.out.wait_for(lambda ls: len(ls) >= 1)
    set_ticket(sandbox, sid, "one")
    w.out.wait_for(lambda ls: len(ls) >= 2)
    set_ticket(sandbox, sid, "two")
    assert w.wait() == exitcodes.OK
    assert tickets(w.out.lines) == ["one", "two"]
    assert len(w.err.lines) == 1 and "polling every 0.3s instead" in w.err.lines[0]


def test_socket_transport_does_not_fall_back(sandbox, proxy, start_watch):
    sid = new_session(sandbox, uuid.uuid4().hex)
    proxy.refuse_sockets = True
    w = start_watch(proxy.url, sandbox.token(), kind="session", ids=[sid], transport="socket")
    result = w.wait()
    assert isinstance(result, CLIError) and result.exit_code == exitcodes.API_ERROR
    assert str(result).startswith("cannot open the realtime socket")


def test_a_socket_that_closes_right_after_opening_counts_as_a_failed_attempt(sandbox, proxy, start_watch):
    """Issue 13: a server that accepts then hangs up at once was reconnected forever (29 times in 40 s)."""
    import threading

    sid = new_session(sandbox, uuid.uuid4().hex)
    w = start_watch(proxy.url, sandbox.token(), kind="session", ids=[sid], transport="socket",
                    interval=SLOW_RELIST, socket_settings={"max_attempts": 3})
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    stop = threading.Event()

    def hang_up_every_socket():  # each reconnect succeeds, then the link goes within ~50 ms
        while not stop.is_set():
            proxy.cut_sockets()
            time.sleep(0.05)

    threading.Thread(target=hang_up_every_socket, daemon=True).start()
    try:
        result = w.wait(timeout=15)
    finally:
        stop.set()
    assert isinstance(result, CLIError) and result.exit_code == exitcodes.API_ERROR, (result, w.err.lines)
    assert "3 reconnect attempts failed" in str(result)
    assert proxy.socket_attempts <= 5  # the first socket, then at most max_attempts short-lived ones


def test_a_keepalive_timeout_prints_no_traceback(sandbox, proxy, start_watch, capfd):
    sid = new_session(sandbox, uuid.uuid4().hex)
    w = start_watch(proxy.url, sandbox.token(), kind="session", ids=[sid], transport="socket",
                    interval=SLOW_RELIST, count=1, socket_settings={"keepalive": 0.3})
    w.out.wait_for(lambda ls: len(ls) >= 1)
    wait_sockets(sandbox, 1)
    proxy.blackhole_sockets()
    w.err.wait_for(lambda ls: any("reconnected" in line for line in ls), timeout=5)
    set_ticket(sandbox, sid, "after")
    assert w.wait() == exitcodes.OK
    # What websockets does when a keepalive ping fails mid-send (hard to time for real): an error with a traceback.
    import logging

    try:
        raise TimeoutError("timed out while sending")
    except TimeoutError:
        logging.getLogger("websockets.client").error("keepalive ping failed", exc_info=True)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in "\n".join(w.err.lines), captured.err
    assert "cobrowse: realtime socket: keepalive ping failed: timed out while sending\n" in captured.err
