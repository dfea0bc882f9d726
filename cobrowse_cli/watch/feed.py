"""The transport-independent heart of a watch: sightings in, printed events out, stop conditions.

Transports (socket.py, poll.py) only say "here is the full current listing" (sync) or "here is one
resource / presence the socket pushed"; everything about what to print lives here.
"""

from __future__ import annotations

from typing import Callable

from cobrowse_cli import exitcodes
from cobrowse_cli.watch.conditions import Conditions
from cobrowse_cli.watch.diff import ENDED, Event, Tracker
from cobrowse_cli.watch.source import Source


class ConditionMet(Exception):
    """--until or --count was satisfied: the watch ends with exit code 0."""


class WatchTimeout(exitcodes.CLIError):
    exit_code = exitcodes.WATCH_TIMEOUT


class Feed:
    def __init__(self, source: Source, conditions: Conditions, write: Callable[[dict], None]):
        self.source = source
        self.conditions = conditions
        self.write = write
        self.tracker = Tracker(source.kind)

    # -- inputs -----------------------------------------------------------------------------

    def sync(self, resources: list[dict], *, initial: bool = False) -> list[dict]:
        """A complete current listing: report what is new or changed, then settle what vanished.

        Returns the resources seen for the first time (the socket subscribes to them)."""
        new = []
        listed = set()
        for resource in resources:
            rid = resource.get("id")
            listed.add(rid)
            is_new = rid not in self.tracker
            self.seen(resource, initial=initial)
            if is_new and rid in self.tracker:
                new.append(resource)
        for rid in [i for i in self.tracker.ids() if i not in listed]:
            # Gone from the listing: ended (filtered out by --state), changed so it no longer matches,
            # or deleted. One GET tells which, so its last change is still reported.
            current = self.source.get(rid)
            if current is None:
                self._emit(self.tracker.remove(rid))
            else:
                self.seen(current)
        return new

    def seen(self, resource: dict, *, initial: bool = False) -> bool:
        """One resource as the API shows it now. Returns False when it has left the watch."""
        rid = resource.get("id")
        if rid not in self.tracker and not self.source.matches(resource):
            return False  # e.g. an already-ended session in a listing that raced an update
        event = self.tracker.observe(resource, initial=initial)
        self._emit(event)
        if self.source.matches(resource):
            return True
        # No longer ours: say so once (an `ended` line already says it for sessions).
        self._emit(self.tracker.remove(rid, emit=not (event is not None and event.type == ENDED)))
        return False

    def presence(self, data: dict) -> None:
        self._emit(self.tracker.presence(data))

    # -- stop conditions --------------------------------------------------------------------

    def check_timeout(self) -> None:
        if self.conditions.timed_out():
            raise WatchTimeout(f"watch timed out after {_seconds(self.conditions.timeout)} before its condition was met")

    def wait_bound(self, wanted: float) -> float:
        """`wanted` seconds, shortened so the --timeout deadline is not overslept."""
        remaining = self.conditions.remaining()
        return wanted if remaining is None else min(wanted, remaining)

    def _emit(self, event: Event | None) -> None:
        if event is None:
            return
        payload = event.as_dict()
        payload["kind"] = event.kind
        self.write(payload)
        if self.conditions.met_by(event.resource, initial=event.initial):
            raise ConditionMet()


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}s" if value < 120 else f"{value / 60:g}m"
