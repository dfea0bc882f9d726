"""The interleaving behind issue 16's wrong outcome, injected exactly instead of hoped for under load.

Our DELETE (or `sessions end`'s PUT) reaches the sandbox, which acts, and every answer is lost (the
client retries, the retries' answers are lost too); reading it back fails as well, so the first pass
reports nothing yet (`unknown`, held for one more try). The second try then finds the recording gone
(the session ended): that is this run's own doing, `deleted` (`ended`), not `already_deleted`
(`already_ended`). Before the fix the second try reported it as someone else's.

The sandbox serves every request for real; only the answers named in a script are cut on the way back.
"""

from __future__ import annotations

import httpx
import pytest

from cobrowse_cli.client import Client
from cobrowse_cli.client.bulk import BulkEnd, SessionEnder
from cobrowse_cli.client.recording_deleter import VOCABULARY, DeleteOutcome, RecordingDeleter
from tests.bulk_end.support import create

ATTEMPTS = 6  # the client's first try + its 5 retries


class Script(httpx.BaseTransport):
    """Forwards every request to the sandbox. `script[(method, path)]` is a list of actions taken by that
    request's successive attempts: "pass"; "drop_after" (the sandbox acts, the answer is cut); "refuse"
    (a connection refused: nothing sent). An attempt past the end of its list passes."""

    def __init__(self, script: dict[tuple[str, str], list[str]]):
        self.inner = httpx.HTTPTransport()
        self.script = {key: list(actions) for key, actions in script.items()}
        self.seen: list[tuple[str, str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        actions = self.script.get(key)
        action = actions.pop(0) if actions else "pass"
        self.seen.append((*key, action))
        if action == "refuse":
            raise httpx.ConnectError("connection refused (injected)", request=request)
        response = self.inner.handle_request(request)
        if action == "drop_after":
            response.read()
            response.close()
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body "
                                            "(injected)", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def _client(sandbox, script: Script) -> Client:
    client = Client(sandbox.url, sandbox.admin_token(), transport=script)
    client._sleep = lambda s: None  # retries at once: the order of events is the point, not the waits
    return client


def _recorded(sandbox, n: int) -> list[str]:
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    ids = [s["id"] for s in sessions if s.get("recorded")][:n]
    assert len(ids) == n
    return ids


@pytest.mark.parametrize("read_back_fails", [True, False], ids=["read-back-lost", "read-back-answered"])
def test_a_delete_whose_every_answer_was_lost_is_this_runs_deleted(sandbox, read_back_fails):
    victim, *others = _recorded(sandbox, 4)
    path = f"/api/1/sessions/{victim}/recording"
    script = Script({
        ("DELETE", path): ["drop_after"] * ATTEMPTS,  # the first deletes it; the retries' 404s are lost too
        ("GET", path): ["pass"] + (["refuse"] * ATTEMPTS if read_back_fails else []),
    })
    client = _client(sandbox, script)
    try:
        run = BulkEnd(RecordingDeleter(client), concurrency=2, vocab=VOCABULARY, outcome=DeleteOutcome)
        outcomes = {o.id: o for o in run.run([victim, *others])}
    finally:
        client.close()

    deleted_on_server = set(sandbox.control("GET", "/_sandbox/recordings"))
    assert deleted_on_server == {victim, *others}
    assert {i: o.outcome for i, o in outcomes.items()} == {i: "deleted" for i in [victim, *others]}
    gets = [a for m, p, a in script.seen if (m, p) == ("GET", path)]
    if read_back_fails:  # read, read-back refused 6 times, then the second pass's read (a real 404)
        assert gets == ["pass"] + ["refuse"] * ATTEMPTS + ["pass"]
    else:  # the read-back saw it gone at once: no second pass
        assert gets == ["pass", "pass"]
    deletes = [a for m, p, a in script.seen if (m, p) == ("DELETE", path)]
    assert deletes == ["drop_after"] * ATTEMPTS  # never sent again once our DELETE may have been applied


def test_a_recording_gone_before_any_delete_is_still_already_deleted(sandbox):
    """The second-pass rule is only for ids whose DELETE went out: one deleted by someone else, read
    failing on the first pass (nothing sent), is `already_deleted` on the second."""
    victim, other = _recorded(sandbox, 2)
    path = f"/api/1/sessions/{victim}/recording"
    sandbox.api("DELETE", path, token=sandbox.admin_token())  # another tool's delete, before our run
    script = Script({("GET", path): ["refuse"] * ATTEMPTS})
    client = _client(sandbox, script)
    try:
        run = BulkEnd(RecordingDeleter(client), concurrency=2, vocab=VOCABULARY, outcome=DeleteOutcome)
        outcomes = {o.id: o.outcome for o in run.run([victim, other])}
    finally:
        client.close()
    assert outcomes == {victim: "already_deleted", other: "deleted"}
    assert not [s for m, p, s in script.seen if m == "DELETE" and p == path]


def test_sessions_end_has_the_same_rule_for_an_end_whose_answers_were_lost(sandbox):
    """`sessions end` with a re-read (a selection with conditions): the second try's re-read finds the
    session ended by our own unanswered PUT: `ended`, not `already_ended`."""
    victim, *others = create(sandbox, 3)
    path = f"/api/1/sessions/{victim}"
    script = Script({
        ("PUT", path): ["drop_after"] * ATTEMPTS,
        ("GET", path): ["pass"] + ["refuse"] * ATTEMPTS,  # the re-read, then the read-back after the PUT
    })
    client = _client(sandbox, script)
    try:
        run = BulkEnd(SessionEnder(client, recheck=lambda session: True), concurrency=2)
        outcomes = {o.id: o for o in run.run([victim, *others])}
    finally:
        client.close()
    assert {i: o.outcome for i, o in outcomes.items()} == {i: "ended" for i in [victim, *others]}
    assert outcomes[victim].ended_reason == "agent_ended"
    assert sandbox.stats()["ends"]["by_session"].get(victim) == 1
