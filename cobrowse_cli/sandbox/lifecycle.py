"""The session lifecycle's clock: when a live session times out, and ending the overdue ones.

Deadlines live in a heap of (deadline_ms, session id); stale entries (the session moved on since) are
recomputed when they come due, so a state change only ever pushes, never searches.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterable

from cobrowse_cli.sandbox.model import Session


@dataclass
class Timeouts:
    """Seconds before the server ends a session on its own (see the API doc's lifecycle)."""

    pending: float = 900.0
    authorizing: float = 300.0
    inactivity: float = 300.0


class Deadlines:
    def __init__(self, timeouts: Timeouts):
        self.timeouts = timeouts
        self._heap: list[tuple[int, str]] = []

    def clear(self) -> None:
        self._heap = []

    def deadline(self, s: Session) -> int | None:
        t = self.timeouts
        if s.state == "pending":
            return s.since_ms + int(t.pending * 1000)
        if s.state == "authorizing":
            return s.since_ms + int(t.authorizing * 1000)
        if s.state == "active" and not s.connected:
            return s.since_ms + int(t.inactivity * 1000)
        return None

    def schedule(self, s: Session) -> None:
        deadline = self.deadline(s)
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, s.id))

    def reschedule(self, live: Iterable[Session]) -> None:
        """After the timeouts change: rebuild the heap from scratch."""
        self._heap = []
        for s in live:
            self.schedule(s)

    def pop_due(self, now: int, sessions: dict[str, Session]) -> list[tuple[Session, str]]:
        """The sessions whose timeout has passed, each with the ended_reason it ends with."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            _, sid = heapq.heappop(self._heap)
            s = sessions.get(sid)
            if s is None:
                continue
            deadline = self.deadline(s)  # stale heap entries recompute to None or later
            if deadline is None or deadline > now:
                continue
            due.append((s, f"{s.state}_timeout" if s.state != "active" else "active_timeout"))
        return due
