"""The server-side timeouts against an injected clock (`Store(clock=...)`): exact deadlines, no waiting.

tests/sandbox/test_sandbox_lifecycle.py checks end to end that the running server's background task
expires sessions; here the timing rules themselves are pinned to the millisecond.
"""

from __future__ import annotations

from cobrowse_cli.sandbox.store import Store, Timeouts


class Clock:
    def __init__(self, ms: int = 1_780_000_000_000):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def _store(**timeouts) -> tuple[Store, Clock]:
    clock = Clock()
    return Store(timeouts=Timeouts(**timeouts), clock=clock), clock


def _active_on_a_device(store: Store):
    device = store.create_device(online=True)
    agent = store.agent_for("agent@sandbox.test")
    session = store.create_session(agent=agent, state="active", device_id=device.id)
    return device, session


def test_inactivity_timeout_ends_an_active_session_exactly_when_its_device_has_been_gone_long_enough():
    store, clock = _store(inactivity=0.5)
    device, s = _active_on_a_device(store)
    clock.advance(60)
    assert store.expire_due() == 0 and s.state == "active"  # device online: no timeout, however long
    store.set_presence(device.id, False)
    clock.advance(0.499)
    assert store.expire_due() == 0 and s.state == "active"  # not a millisecond early
    clock.advance(0.001)
    assert store.expire_due() == 1
    assert s.state == "ended" and s.data["ended_reason"] == "active_timeout"
    assert store.stats()["ends"]["by_session"][s.id] == 1
    clock.advance(10)
    assert store.expire_due() == 0  # ended once


def test_device_coming_back_in_time_keeps_the_session():
    store, clock = _store(inactivity=0.6)
    device, s = _active_on_a_device(store)
    store.set_presence(device.id, False)
    clock.advance(0.2)
    store.set_presence(device.id, True)
    clock.advance(0.8)
    assert store.expire_due() == 0 and s.state == "active"
    store.set_presence(device.id, False)  # the clock restarts when it leaves again
    clock.advance(0.599)
    assert store.expire_due() == 0 and s.state == "active"
    clock.advance(0.001)
    assert store.expire_due() == 1 and s.state == "ended"


def test_pending_and_authorizing_timeouts():
    store, clock = _store(pending=0.4, authorizing=0.7)
    agent = store.agent_for("agent@sandbox.test")
    pending = store.create_session(agent=agent)
    authorizing = store.create_session(agent=agent)
    store.set_state(authorizing, "authorizing")
    clock.advance(0.4)
    assert store.expire_due() == 1
    assert pending.data["ended_reason"] == "pending_timeout" and authorizing.state == "authorizing"
    clock.advance(0.3)
    assert store.expire_due() == 1
    assert authorizing.data["ended_reason"] == "authorizing_timeout"


def test_connected_active_sessions_never_drift_and_timeout_changes_reschedule():
    store, clock = _store(inactivity=0.2)
    sessions = [_active_on_a_device(store)[1] for _ in range(20)]
    clock.advance(3600)
    assert store.expire_due() == 0 and store.count_active() == 20
    orphan = store.create_session(agent=None, state="active", connected=False)
    store.timeouts.inactivity = 30.0
    store.reschedule_all()
    clock.advance(29.9)
    assert store.expire_due() == 0 and orphan.state == "active"
    clock.advance(0.1)
    assert store.expire_due() == 1 and orphan.state == "ended" and all(s.state == "active" for s in sessions)
