"""The sandbox's data model: agents, sessions and devices as the API shows them, plus bookkeeping.

`session_json()` is the one place a session's wire JSON is laid out (seeding and creation both use it).
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from cobrowse_cli.sandbox.timeutil import iso, parse_iso_us

STATES = ("pending", "authorizing", "active", "ended")
ENDED_REASONS = (
    "device_ended",
    "agent_ended",
    "pending_timeout",
    "authorizing_timeout",
    "active_timeout",
    "limit_enforcement",
)
TOGGLE_VALUES = ("on", "off", "requested", "rejected")
AGENT_TOGGLE_VALUES = ("requested", "off")  # an agent asks; only the device user turns things on
CODE_VALIDITY_MS = 20 * 60 * 1000
COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#469990")
_ID_ALPHABET = string.ascii_letters + string.digits


def random_id(n: int = 20) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(n))


@dataclass
class Agent:
    id: str
    sub: str
    name: str
    email: str | None
    colour: str
    role: str | None = None
    notification_token: str = field(default_factory=lambda: random_id(32))

    def ref(self) -> dict:
        return {"id": self.id, "name": self.name, "colour": self.colour, "email": self.email}


class Session:
    """`data` is the wire JSON; the rest is bookkeeping the API does not show."""

    __slots__ = ("data", "key_ms", "sort_key", "owner_id", "device_id", "connected", "since_ms", "_created_key")

    def __init__(self, data: dict, key_ms: int, owner_id: str | None, device_id: str | None, connected: bool, since_ms: int):
        self.data = data
        self.owner_id = owner_id
        self.device_id = device_id
        self.connected = connected
        self.since_ms = since_ms  # entered the current state, or lost its device (active)
        self._created_key: tuple | None = None
        self.set_key(key_ms)

    def set_key(self, key_ms: int) -> None:
        # Newest first by activated (else created); ties by id so the order is total.
        self.key_ms = key_ms
        self.sort_key = (-key_ms, self.data["id"])

    def created_sort_key(self) -> tuple:
        """Newest first by `created` (the order=created variant); computed on first use, created never changes."""
        if self._created_key is None:
            self._created_key = (-parse_iso_us(self.data["created"]), self.data["id"])
        return self._created_key

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def state(self) -> str:
        return self.data["state"]


class Device:
    __slots__ = ("data", "last_active_ms", "sort_key", "present", "last_seen_ms")

    def __init__(self, data: dict, last_active_ms: int, present: bool = False):
        self.data = data
        self.present = present
        self.last_seen_ms = last_active_ms
        self.set_last_active(last_active_ms)

    def set_last_active(self, ms: int) -> None:
        self.last_active_ms = ms
        self.sort_key = (-ms, self.data["id"])
        self.data["last_active"] = iso(ms)

    @property
    def id(self) -> str:
        return self.data["id"]


def snapshot(data: dict) -> dict:
    """A copy deep enough that later in-place updates do not leak into an emitted event."""
    out = dict(data)
    for k, v in out.items():
        if isinstance(v, dict):
            out[k] = dict(v)
        elif isinstance(v, list):
            out[k] = [dict(x) if isinstance(x, dict) else x for x in v]
    return out


def session_json(
    *,
    id: str,
    code: str,
    state: str,
    custom_data: dict,
    agent: dict | None,
    agents: list[dict],
    created_ms: int,
    control_token: str,
    device: dict | None = None,
) -> dict:
    """A session as the API serves it, before its lifecycle fills `activated`, `ended` and the rest."""
    return {
        "id": id,
        "code": code,
        "state": state,
        "custom_data": custom_data,
        "agent": agent,
        "agents": agents,
        "created": iso(created_ms),
        "updated": iso(created_ms),
        "activated": None,
        "ended": None,
        "expires": iso(created_ms + CODE_VALIDITY_MS),
        "ended_reason": None,
        "recorded": False,
        "device": device or {},
        "full_device": "off",
        "remote_control": "off",
        "calling": "off",
        "virtual": False,
        "control_token": control_token,
    }


def agent_id_for(sub: str) -> str:
    """Stable per sub, so seeded data and freshly minted tokens agree on who owns what."""
    return "ag_" + hashlib.sha256(sub.encode()).hexdigest()[:16]


def as_filter_string(value: Any) -> str:
    # Query strings are strings: compare custom_data values the way they would be written in a URL.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def matches_filters(custom_data: dict, filters: dict[str, list[str]]) -> bool:
    """The one filter matcher: every key present, and its value one of that key's values."""
    return all(k in custom_data and as_filter_string(custom_data[k]) in v for k, v in filters.items())
