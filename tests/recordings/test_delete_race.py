"""`deleted` vs `already_deleted` when the DELETE itself is answered 404: who took the recording?

The deleter reads each recording just before its DELETE. Answered 404 to a DELETE sent once, someone else
deleted it between that read and our request (`already_deleted`); answered 404 only after the client
retried a DELETE whose first answer was lost, our own first attempt took it (`deleted`). The sandbox serves
every request for real; the transport only interleaves another deleter or cuts an answer on the way back.
"""

from __future__ import annotations

from tests.recordings.test_answer_lost import Script, _client, _recorded

from cobrowse_cli.client.bulk import BulkEnd
from cobrowse_cli.client.recording_deleter import VOCABULARY, DeleteOutcome, RecordingDeleter


class OtherDeleterFirst(Script):
    """Before our first DELETE of `path` goes out, another agent deletes that recording; `script` as Script's."""

    def __init__(self, sandbox, path: str, script: dict | None = None):
        super().__init__(script or {})
        self.sandbox, self.path, self.done = sandbox, path, False

    def handle_request(self, request):
        if request.method == "DELETE" and request.url.path == self.path and not self.done:
            self.done = True
            assert self.sandbox.api("DELETE", self.path, token=self.sandbox.admin_token()).status == 200
        return super().handle_request(request)


def _run(sandbox, transport, ids) -> dict[str, str]:
    client = _client(sandbox, transport)
    try:
        run = BulkEnd(RecordingDeleter(client), concurrency=2, vocab=VOCABULARY, outcome=DeleteOutcome)
        return {o.id: o.outcome for o in run.run(ids)}
    finally:
        client.close()


def test_taken_by_someone_else_between_our_read_and_our_only_delete_is_already_deleted(sandbox):
    victim, other = _recorded(sandbox, 2)
    path = f"/api/1/sessions/{victim}/recording"
    transport = OtherDeleterFirst(sandbox, path)
    assert _run(sandbox, transport, [victim, other]) == {victim: "already_deleted", other: "deleted"}
    assert [(m, a) for m, p, a in transport.seen if p == path] == [("GET", "pass"), ("DELETE", "pass")]


def test_taken_by_our_own_first_attempt_whose_answer_was_lost_is_deleted(sandbox):
    victim, other = _recorded(sandbox, 2)
    path = f"/api/1/sessions/{victim}/recording"
    transport = Script({("DELETE", path): ["drop_after"]})  # applied, answer cut; the retry is answered 404
    assert _run(sandbox, transport, [victim, other]) == {victim: "deleted", other: "deleted"}
    assert [a for m, p, a in transport.seen if (m, p) == ("DELETE", path)] == ["drop_after", "pass"]
    assert set(sandbox.control("GET", "/_sandbox/recordings")) == {victim, other}


def test_a_first_delete_that_never_reached_the_server_does_not_make_the_404_ours(sandbox):
    """Our first DELETE fails to connect (nothing sent) and the retry is answered 404: only one delivery,
    so someone else took it: `already_deleted`, not `deleted`."""
    victim, other = _recorded(sandbox, 2)
    path = f"/api/1/sessions/{victim}/recording"
    transport = OtherDeleterFirst(sandbox, path, {("DELETE", path): ["refuse"]})
    assert _run(sandbox, transport, [victim, other]) == {victim: "already_deleted", other: "deleted"}
    assert [a for m, p, a in transport.seen if (m, p) == ("DELETE", path)] == ["refuse", "pass"]
