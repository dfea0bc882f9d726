"""Delete one session's recording, for the bulk engine (client/bulk.py BulkEnd): `deleter(id) -> Outcome`.

The same contract as SessionEnder: it keeps no state between calls, a 401 (and a 403: the policy forbids
deleting, so every other id would fail the same way) stops the whole run (StopRun), and a DELETE whose
answer never came (a drop, a 5xx after retries) is checked with a GET before it is reported. A recording
that is already gone is `already_deleted` and counts as done: a nightly retention job must not fail forever.
Each recording is read just before its DELETE, so `deleted` vs `already_deleted` is known rather than
guessed. A DELETE delivered once and answered 404/410 means another deleter took it between our read and
our DELETE: `already_deleted` (attempts the server cannot have acted on, a connection never made or a 429,
do not count). What stays ambiguous: that answer after a second delivery (our dropped first one, or
another deleter?) is reported `deleted`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cobrowse_cli.client import bulk, errors

DELETED = "deleted"
ALREADY_DELETED = "already_deleted"
WOULD_DELETE = "would_delete"
OUTCOMES = (DELETED, ALREADY_DELETED, bulk.NOT_FOUND, bulk.FAILED, bulk.UNKNOWN, bulk.SKIPPED)
VOCABULARY = bulk.Vocabulary(verb="delete", past="deleted", outcomes=OUTCOMES,
                             done=frozenset({DELETED, ALREADY_DELETED}), check="cobrowse recordings get ID")


@dataclass
class DeleteOutcome(bulk.Outcome):
    def as_row(self) -> dict:  # a recording has no session state to report
        return {"id": self.id, "outcome": self.outcome, "error": self.error, "status": self.status,
                "reason": self.reason, "at": self.at}


class RecordingDeleter:
    """Reads the recording just before its DELETE (as SessionEnder re-reads a session): one seen present
    and then answered 404/410 after a second delivery of our DELETE was deleted by this run (the dropped
    first delivery took it); answered 404/410 to the only DELETE delivered, or absent before anything was
    sent, it is `already_deleted`.

    `sent_before=True` (BulkEnd's second try of an `unknown`): an earlier DELETE of this run went out
    after a read saw the recording, and its answer never came. Absent now means that DELETE took it."""

    def __init__(self, client):
        self.client = client

    def __call__(self, session_id: str, *, sent_before: bool = False) -> DeleteOutcome:
        try:
            self.client.get_recording(session_id)
        except errors.NotFoundError as e:
            if sent_before:
                return DeleteOutcome(session_id, DELETED, status=404)
            return self._gone(session_id, e)
        except errors.CobrowseError as e:
            _stop_if_fatal(e)
            flaky = bulk.is_ambiguous(e)  # nothing was sent to delete it: safe to try again later
            return DeleteOutcome(session_id, bulk.FAILED, error=f"read: {e}", status=getattr(e, "status", None),
                                 retryable=flaky, api_down=flaky)
        try:
            self.client.delete_recording(session_id)
        except errors.CobrowseError as e:
            _stop_if_fatal(e)
            status = getattr(e, "status", None)
            if status in (404, 410):
                if e.delivered > 1:  # present a moment ago: an earlier delivery of our DELETE took it
                    return DeleteOutcome(session_id, DELETED, status=status)
                # Delivered once and answered "gone": someone else took it between our read and our DELETE.
                return DeleteOutcome(session_id, ALREADY_DELETED, status=status)
            if bulk.is_ambiguous(e):
                return self._verify(session_id, e)
            return DeleteOutcome(session_id, bulk.FAILED, error=f"delete: {e}", status=status)
        return DeleteOutcome(session_id, DELETED)

    def _gone(self, session_id: str, e: errors.NotFoundError) -> DeleteOutcome:
        """No recording before anything was sent: "no such session" or "no recording (any more)"? Ask."""
        try:
            self.client.get_session(session_id)
        except errors.NotFoundError:
            return DeleteOutcome(session_id, bulk.NOT_FOUND, error=str(e), status=404)
        except errors.CobrowseError as other:
            _stop_if_fatal(other)
            flaky = bulk.is_ambiguous(other)
            return DeleteOutcome(session_id, bulk.FAILED, status=404, retryable=flaky, api_down=flaky,
                                 error=f"{e}; checking the session failed: {other}")
        return DeleteOutcome(session_id, ALREADY_DELETED, status=404)

    def _verify(self, session_id: str, delete_error: errors.CobrowseError) -> DeleteOutcome:
        """The DELETE's result is unknown: report what the server says the recording is now."""
        status = getattr(delete_error, "status", None)
        try:
            self.client.get_recording(session_id)
        except errors.NotFoundError:
            return DeleteOutcome(session_id, DELETED, status=status)  # gone after our request (see above)
        except errors.CobrowseError as e:
            _stop_if_fatal(e)
            return DeleteOutcome(session_id, bulk.UNKNOWN, status=status, retryable=True, api_down=True,
                                 error=f"delete: {delete_error}; reading it back failed too: {e}")
        return DeleteOutcome(session_id, bulk.FAILED, status=status, retryable=True, api_down=True,
                             error=f"delete: {delete_error} (read back: the recording is still there)")


def _stop_if_fatal(e: Exception) -> None:
    if isinstance(e, errors.ForbiddenError):
        raise bulk.StopRun(bulk.FORBIDDEN, e)
    stop = bulk.fatal_stop(e)
    if stop is not None:
        raise stop
