"""The bulk-end engine's outcome rules and its stop path, with a stand-in client and injected clocks
(the HTTP paths are tested end to end in this package's other files)."""

import threading
from datetime import datetime, timedelta, timezone

from cobrowse_cli.client import errors
from cobrowse_cli.client.bulk import BulkEnd, SessionEnder, end_sessions

NOW = lambda: datetime.now(timezone.utc).isoformat()  # noqa: E731


def ended(reason="agent_ended", at=None):
    return {"state": "ended", "ended_reason": reason, "ended": at or NOW()}


class FakeClient:
    """end_session answers from `answers` (an Exception is raised); get_session from `reads`."""

    def __init__(self, answers, reads=None):
        self.answers, self.reads, self.calls, self.gets = answers, reads or {}, [], []

    def end_session(self, session_id):
        self.calls.append(session_id)
        return self._answer(self.answers[session_id])

    def get_session(self, session_id):
        self.gets.append(session_id)
        return self._answer(self.reads.get(session_id, errors.NetworkError("down", url="x")))

    @staticmethod
    def _answer(answer):
        if callable(answer):
            answer = answer()
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_outcomes_including_a_naive_server_timestamp():
    long_ago = (datetime.now(timezone.utc) - timedelta(days=1)).replace(tzinfo=None).isoformat()  # no zone
    client = FakeClient({
        "a": ended(),
        "b": ended(at=long_ago),
        "c": ended("device_ended"),
        "d": errors.NotFoundError(404, "not found", method="PUT", path="/api/1/sessions/d"),
        "e": {"state": "active"},
        "f": errors.ForbiddenError(403, "forbidden", method="PUT", path="/api/1/sessions/f"),
    })
    outcomes = {o.id: o for o in end_sessions(client, ["a", "b", "c", "d", "e", "f", "a"], concurrency=2)}
    assert {k: o.outcome for k, o in outcomes.items()} == {
        "a": "ended", "b": "already_ended", "c": "already_ended", "d": "not_found", "e": "failed", "f": "failed"}
    assert outcomes["f"].status == 403  # a 403 is that one session's failure, not the end of the run
    assert sorted(client.calls) == ["a", "b", "c", "d", "e", "f"]  # the repeated id is ended once
    assert all(o.at.endswith("Z") for o in outcomes.values())


def test_a_dead_api_stops_the_run_and_every_id_is_still_reported():
    down = errors.NetworkError("cannot connect to http://127.0.0.1:9 (connection refused)", url="x")
    ids = [f"s{i}" for i in range(200)]
    client = FakeClient({sid: down for sid in ids})
    outcomes = list(end_sessions(client, ids, concurrency=4, give_up_after=10))
    assert sorted(o.id for o in outcomes) == sorted(ids)  # nothing lost
    assert {o.outcome for o in outcomes} == {"unknown", "skipped"}  # sent but unverifiable / never sent
    assert len(client.calls) < 40  # it stopped trying soon after ten failures in a row
    assert all(o.reason == "api_down" and "not attempted" in o.error for o in outcomes if o.outcome == "skipped")


def test_an_ambiguous_failure_is_read_back_before_it_is_reported():
    boom = errors.ServerError(500, "server error", method="PUT", path="/x")
    client = FakeClient({"done": boom, "open": boom, "gone": boom},
                        reads={"done": ended(), "open": {"state": "active"},
                               "gone": errors.NotFoundError(404, "nf", method="GET", path="/x")})
    outcomes = {o.id: o.outcome for o in end_sessions(client, ["done", "open", "gone"], concurrency=1)}
    assert outcomes == {"done": "ended", "open": "failed", "gone": "not_found"}
    assert client.calls.count("open") == 2  # still open after the first try: one more try at the end


def test_a_401_stops_the_run_reports_everything_and_is_reraised():
    expired = errors.TokenExpiredError(401, "jwt expired", method="PUT", path="/x")
    ids = [f"s{i}" for i in range(50)]
    answers = {sid: ended() for sid in ids}
    answers["s5"] = expired
    for sid in ids[6:]:
        answers[sid] = expired
    run = BulkEnd(SessionEnder(FakeClient(answers)), concurrency=1)
    outcomes = list(run.run(ids))
    assert sorted(o.id for o in outcomes) == sorted(ids)
    assert [o.outcome for o in outcomes[:5]] == ["ended"] * 5
    assert {o.outcome for o in outcomes[5:]} == {"skipped"} and {o.reason for o in outcomes[5:]} == {"auth_expired"}
    assert isinstance(run.fatal, errors.AuthenticationError)


def test_stop_waits_a_bounded_time_then_reports_unknown_and_skipped():
    release = threading.Event()
    started = threading.Event()

    def hang():
        started.set()
        release.wait(10)
        return ended()

    ticks = iter(range(1000))
    ids = ["hung", *[f"s{i}" for i in range(20)]]
    run = BulkEnd(SessionEnder(FakeClient({"hung": hang, **{f"s{i}": ended() for i in range(20)}})),
                  concurrency=1, grace_s=3, clock=lambda: float(next(ticks)))  # each clock read: a second
    def stop_once_it_hangs():  # as a signal handler would, while the run waits on the hung request
        started.wait(5)
        run.stop("interrupted", "interrupted by SIGTERM")

    threading.Thread(target=stop_once_it_hangs).start()
    outcomes = list(run.run(ids))
    release.set()
    assert [(o.id, o.outcome) for o in outcomes[:1]] == [("hung", "unknown")]
    assert {o.outcome for o in outcomes[1:]} == {"skipped"} and len(outcomes) == len(ids)
    assert all(o.reason == "interrupted" for o in outcomes)


def test_recheck_leaves_a_changed_session_alone_and_sees_already_ended():
    client = FakeClient({"a": ended(), "b": ended(), "c": ended()},
                        reads={"a": {"state": "active", "custom_data": {"x": "1"}},
                               "b": {"state": "active", "custom_data": {"x": "2"}},
                               "c": ended("device_ended")})
    matches = lambda s: s.get("custom_data", {}).get("x") == "1"  # noqa: E731
    outcomes = {o.id: o.outcome for o in end_sessions(client, ["a", "b", "c"], concurrency=1, recheck=matches)}
    assert outcomes == {"a": "ended", "b": "changed", "c": "already_ended"}
    assert client.calls == ["a"]  # b and c were never sent an end


def test_a_session_that_failed_while_the_api_was_unwell_gets_one_more_try():
    class Flaky(FakeClient):
        def end_session(self, session_id):
            self.calls.append(session_id)
            if session_id == "b" and self.calls.count("b") == 1:
                raise errors.ServerError(503, "server error", method="PUT", path="/api/1/sessions/b")
            return ended()

    client = Flaky({}, reads={"b": {"state": "active"}})
    outcomes = list(end_sessions(client, ["a", "b", "c"], concurrency=2))
    assert sorted((o.id, o.outcome) for o in outcomes) == [("a", "ended"), ("b", "ended"), ("c", "ended")]
    assert client.calls.count("b") == 2 and len(outcomes) == 3  # reported once, after its second try
