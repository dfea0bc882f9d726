"""The bulk-end engine's outcome rules, with a stand-in client (the HTTP paths are tested end to end)."""

from datetime import datetime, timedelta, timezone

from cobrowse_cli.client import errors
from cobrowse_cli.client.bulk import end_sessions


class FakeClient:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def end_session(self, session_id):
        self.calls.append(session_id)
        answer = self.answers[session_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_outcomes_including_a_naive_server_timestamp():
    long_ago = (datetime.now(timezone.utc) - timedelta(days=1)).replace(tzinfo=None).isoformat()  # no zone
    client = FakeClient({
        "a": {"state": "ended", "ended_reason": "agent_ended", "ended": datetime.now(timezone.utc).isoformat()},
        "b": {"state": "ended", "ended_reason": "agent_ended", "ended": long_ago},
        "c": {"state": "ended", "ended_reason": "device_ended"},
        "d": errors.NotFoundError(404, "not found", method="PUT", path="/api/1/sessions/d"),
        "e": {"state": "active"},
    })
    outcomes = {o.id: o.outcome for o in end_sessions(client, ["a", "b", "c", "d", "e", "a"], concurrency=2)}
    assert outcomes == {"a": "ended", "b": "already_ended", "c": "already_ended", "d": "not_found", "e": "failed"}
    assert sorted(client.calls) == ["a", "b", "c", "d", "e"]  # the repeated id is ended once


def test_a_dead_api_stops_the_run_and_every_id_is_still_reported():
    down = errors.NetworkError("network error: cannot connect to http://127.0.0.1:9 (connection refused)", url="x")
    ids = [f"s{i}" for i in range(200)]
    client = FakeClient({sid: down for sid in ids})
    outcomes = list(end_sessions(client, ids, concurrency=4, give_up_after=10))
    assert sorted(o.id for o in outcomes) == sorted(ids)  # nothing lost
    assert {o.outcome for o in outcomes} == {"failed", "skipped"}
    assert len(client.calls) < 40  # it stopped trying soon after ten failures in a row
    assert all("not attempted" in o.error for o in outcomes if o.outcome == "skipped")


def test_a_session_that_failed_while_the_api_was_unwell_gets_one_more_try():
    class Flaky(FakeClient):
        def end_session(self, session_id):
            self.calls.append(session_id)
            if session_id == "b" and self.calls.count("b") == 1:
                raise errors.ServerError(503, "server error", method="PUT", path="/api/1/sessions/b")
            return {"state": "ended", "ended_reason": "agent_ended", "ended": datetime.now(timezone.utc).isoformat()}

    client = Flaky({})
    outcomes = list(end_sessions(client, ["a", "b", "c"], concurrency=2))
    assert sorted((o.id, o.outcome) for o in outcomes) == [("a", "ended"), ("b", "ended"), ("c", "ended")]
    assert client.calls.count("b") == 2 and len(outcomes) == 3  # reported once, after its second try
