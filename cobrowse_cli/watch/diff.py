"""Last-known state per resource, and the events a new sighting of a resource produces.

The same change can reach us twice (pushed by the socket, then seen again by a re-list), and a
re-list can be older than a socket event that overtook it. So a sighting is compared with what we
last printed: older `updated` → ignored; nothing watched changed → ignored. That is what makes
every change print once and only once, whichever transport saw it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cobrowse_cli.timeutil import now_iso, parse_iso_or_none

# What a line reports. Other fields (timestamps, tokens, `expires`) change without being news.
SESSION_FIELDS = ("state", "ended_reason", "agent", "remote_control", "full_device", "calling", "recorded")
DEVICE_FIELDS = ("online", "connectable")
FLATTENED = ("custom_data", "device")  # compared key by key: custom_data.plan, device.os_version

ADDED, UPDATED, ENDED, REMOVED, PRESENCE = "added", "updated", "ended", "removed", "presence"


@dataclass
class Change:
    field: str
    old: Any
    new: Any

    def as_dict(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Event:
    type: str
    kind: str  # "session" | "device"
    resource: dict
    at: str
    changed: list[Change] = field(default_factory=list)
    initial: bool = False  # part of the first listing (does not count towards --count)

    @property
    def id(self) -> str:
        return str(self.resource.get("id", ""))

    def as_dict(self) -> dict:
        """The NDJSON form: {"type", "at", "resource", "changed"}."""
        return {
            "type": self.type,
            "at": self.at,
            "resource": self.resource,
            "changed": [c.as_dict() for c in self.changed],
        }


def _instant(value: Any) -> float | None:
    """An ISO time as a comparable number (None when absent or unreadable)."""
    parsed = parse_iso_or_none(value) if value else None
    return parsed.timestamp() if parsed else None


def watched_view(kind: str, resource: dict) -> dict[str, Any]:
    """The flat {field: value} a change line compares: top-level fields plus one entry per nested key."""
    view: dict[str, Any] = {}
    for name in SESSION_FIELDS if kind == "session" else DEVICE_FIELDS:
        value = resource.get(name)
        if name == "agent" and isinstance(value, dict):  # an agent is who it is, not its colour
            value = value.get("name") or value.get("id")
        view[name] = value
    for name in FLATTENED:
        nested = resource.get(name)
        if isinstance(nested, dict):
            for key, value in nested.items():
                view[f"{name}.{key}"] = value
    return view


def diff(kind: str, old: dict, new: dict) -> list[Change]:
    before, after = watched_view(kind, old), watched_view(kind, new)
    changes = []
    for name in list(before) + [k for k in after if k not in before]:
        if before.get(name) != after.get(name):
            changes.append(Change(name, before.get(name), after.get(name)))
    return changes


class Tracker:
    """Known resources of one kind, keyed by id; turns sightings into events (or nothing)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.known: dict[str, dict] = {}

    def __contains__(self, resource_id: str) -> bool:
        return resource_id in self.known

    def ids(self) -> list[str]:
        return list(self.known)

    def get(self, resource_id: str) -> dict | None:
        return self.known.get(resource_id)

    def observe(self, resource: dict, *, initial: bool = False) -> Event | None:
        """A resource as the API (REST or socket) shows it now."""
        rid = resource.get("id")
        if not isinstance(rid, str):
            return None
        old = self.known.get(rid)
        if old is None:
            self.known[rid] = dict(resource)
            return Event(ADDED, self.kind, dict(resource), now_iso(), initial=initial)
        merged = {**resource}
        for live in ("online", "last_seen"):  # presence is not in REST/socket device bodies: keep ours
            if live in old and live not in merged:
                merged[live] = old[live]
        old_updated, new_updated = _instant(old.get("updated")), _instant(merged.get("updated"))
        if old_updated is not None and new_updated is not None and new_updated < old_updated:
            return None  # a stale copy (a re-list that started before a socket event arrived)
        changes = diff(self.kind, old, merged)
        self.known[rid] = merged
        if not changes:
            return None
        ended = self.kind == "session" and merged.get("state") == "ended" and old.get("state") != "ended"
        at = merged.get("updated") if isinstance(merged.get("updated"), str) else now_iso()
        return Event(ENDED if ended else UPDATED, self.kind, dict(merged), at, changes)

    def presence(self, data: dict) -> Event | None:
        """A socket `presence` event {id, present, last_seen} for a known device."""
        rid = data.get("id")
        old = self.known.get(rid) if isinstance(rid, str) else None
        if old is None:
            return None
        online = bool(data.get("present"))
        merged = {**old, "online": online}
        if data.get("last_seen"):
            merged["last_seen"] = data["last_seen"]
        self.known[rid] = merged
        if old.get("online") == online:
            return None
        at = now_iso()  # when we heard it; the device's own last_seen stays in the resource (it may be older)
        # The first presence (answering sync-presence) completes the first listing: not a change for --count.
        first = old.get("online") is None
        return Event(PRESENCE, self.kind, dict(merged), at, [Change("online", old.get("online"), online)], initial=first)

    def remove(self, resource_id: str, *, emit: bool = True) -> Event | None:
        old = self.known.pop(resource_id, None)
        if old is None or not emit:
            return None
        return Event(REMOVED, self.kind, old, now_iso())
