"""What a selection means, in one place: how it is sent (`to_params`) and how it is checked (`matches`).

The server may ignore a parameter, cap a page or answer a wider scope than asked, so every resource it
returns is re-checked here before it is counted, listed or ended. Semantics:
- a filter value equals the custom_data value as JavaScript's `String()` renders it (`42`, `true`,
  `1e+21`); keys are literal (no nesting); objects, arrays and null never match;
- the agent is the session's primary `agent`, by id, or by email when the value holds an `@` (an agent
  without an email then is a loud error: the check cannot be made);
- time bounds are strict and read `activated`, else `created` (sessions) or `last_active` (devices),
  the field the API pages by; ages (`older_than`, `inactive_for`) read `created` / `updated` against `now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping

from cobrowse_cli.client.errors import InvalidResponseError
from cobrowse_cli.timeutil import iso_ms, parse_iso_or_none

STATES = ("pending", "authorizing", "active", "ended")
ME, ALL = "me", "all"
JS_SAFE_INT = 2**53


def js_string(value: Any) -> str | None:
    """`String(value)` for a JSON scalar as JavaScript has parsed it; None for what never matches."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) <= JS_SAFE_INT else js_number(float(value))  # JS reads a double
    if isinstance(value, float):
        return js_number(value)
    return None  # null, objects, arrays


def js_number(x: float) -> str:
    """ECMAScript Number::toString: shortest round-trip digits, fixed between 1e-7 and 1e21."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    _, digit_tuple, exponent = Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), len(digits) + int(exponent)  # n: where the decimal point goes
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"


def filters_match(filters: Mapping[str, str], resource: dict) -> bool:
    custom = resource.get("custom_data")
    if not filters:
        return True
    if not isinstance(custom, dict):
        return False
    return all(key in custom and js_string(custom[key]) == want for key, want in filters.items())


def _time(resource: dict, fields: tuple[str, ...]) -> datetime | None:
    for name in fields:
        if resource.get(name):
            return parse_iso_or_none(resource[name])
    return None


def _within(moment: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if after is None and before is None:
        return True
    if moment is None:
        return False
    return (after is None or moment > after) and (before is None or moment < before)


def _encode_filters(filters: Mapping[str, str]) -> dict[str, str]:
    return {f"filter_{key}": value for key, value in filters.items()}


@dataclass(frozen=True)
class SessionQuery:
    """A session selection. `agent`: None/"me" (the caller's own), "all", or an agent id or email."""

    states: tuple[str, ...] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    agent: str | None = None
    activated_after: datetime | None = None
    activated_before: datetime | None = None
    older_than: timedelta | None = None  # created more than this long ago
    inactive_for: timedelta | None = None  # `updated` more than this long ago (property changes, not presence)

    TIME_FIELDS = ("activated", "created")

    def __post_init__(self) -> None:
        unknown = [s for s in self.states if s not in STATES]
        if unknown:
            raise ValueError(f"unknown session state {unknown[0]!r}")
        object.__setattr__(self, "states", tuple(self.states))
        # Worked out once: mismatch() runs for every session a listing returns.
        object.__setattr__(self, "_named", None if self.agent in (None, "", ME, ALL) else self.agent)
        object.__setattr__(self, "_bounded", bool(self.activated_after or self.activated_before))
        object.__setattr__(self, "_aged", bool(self.older_than or self.inactive_for))

    @property
    def named_agent(self) -> str | None:
        """The agent id or email this query names (not "me"/"all")."""
        return self._named

    @property
    def has_conditions(self) -> bool:
        """Whether anything beyond "every session you can see" is selected."""
        return bool(self.states or self.filters or self.named_agent or self.activated_after
                    or self.activated_before or self.older_than or self.inactive_for)

    def to_params(self, *, admin: bool = False) -> dict[str, Any]:
        """The API query. A named agent is matched on the client: an administrator sends `agent=all`, anyone
        else sends nothing (their own sessions; listing.scope_params refuses naming someone else)."""
        params: dict[str, Any] = {}
        if self.states:
            params["state"] = list(self.states)
        params.update(_encode_filters(self.filters))
        if self.agent == ALL or (self.named_agent and admin):
            params["agent"] = ALL
        if self.activated_after:
            params["activated_after"] = iso_ms(self.activated_after)
        if self.activated_before:
            params["activated_before"] = iso_ms(self.activated_before)
        return params

    def mismatch(self, session: Any, *, now: datetime | None = None) -> str | None:
        """The first criterion `session` fails ("state", "filter", "agent", "time", "age"), None if it matches."""
        if not isinstance(session, dict):
            return "state"
        if self.states and session.get("state") not in self.states:
            return "state"
        if self.filters and not filters_match(self.filters, session):
            return "filter"
        if self._named and not agent_matches(self._named, session):
            return "agent"
        if self._bounded and not _within(  # parse only when bounded
                _time(session, self.TIME_FIELDS), self.activated_after, self.activated_before):
            return "time"
        if self._aged:
            now = now or datetime.now(timezone.utc)
            if self.older_than and not _older(_time(session, ("created",)), now - self.older_than):
                return "age"
            if self.inactive_for and not _older(_time(session, ("updated",)), now - self.inactive_for):
                return "age"
        return None

    def matches(self, session: Any, *, now: datetime | None = None) -> bool:
        return self.mismatch(session, now=now) is None


def _older(moment: datetime | None, limit: datetime) -> bool:
    return moment is not None and moment < limit  # unreadable: never old enough to be ended by surprise


class AgentEmailMissing(InvalidResponseError):
    """`--agent EMAIL` met a session whose agent carries no email: the check cannot be made."""


def agent_matches(wanted: str, session: dict) -> bool:
    agent = session.get("agent")
    if not isinstance(agent, dict):
        return False  # nobody has joined
    if "@" not in wanted:
        return agent.get("id") == wanted
    email = agent.get("email")
    if not isinstance(email, str) or not email:
        raise AgentEmailMissing(
            f"session {session.get('id')}'s agent ({agent.get('id')}) has no email, so --agent {wanted} "
            "cannot be checked; give the agent's id instead"
        )
    return email.lower() == wanted.lower()  # the domain part is case-insensitive; agents type emails both ways


def agent_label(session: dict) -> str | None:
    """How an agent is shown in "agents seen" notes: email (or name) and id."""
    agent = session.get("agent")
    if not isinstance(agent, dict) or not agent.get("id"):
        return None
    who = agent.get("email") or agent.get("name")
    return f"{who} ({agent['id']})" if who else str(agent["id"])


@dataclass(frozen=True)
class DeviceQuery:
    filters: Mapping[str, str] = field(default_factory=dict)
    seen_after: datetime | None = None
    seen_before: datetime | None = None

    TIME_FIELDS = ("last_active",)

    @property
    def has_conditions(self) -> bool:
        return bool(self.filters or self.seen_after or self.seen_before)

    def to_params(self, *, admin: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = _encode_filters(self.filters)
        if self.seen_after:
            params["seen_after"] = iso_ms(self.seen_after)
        if self.seen_before:
            params["seen_before"] = iso_ms(self.seen_before)
        return params

    def mismatch(self, device: Any, *, now: datetime | None = None) -> str | None:
        if not isinstance(device, dict):
            return "filter"
        if not filters_match(self.filters, device):
            return "filter"
        if not _within(_time(device, self.TIME_FIELDS), self.seen_after, self.seen_before):
            return "time"
        return None

    def matches(self, device: Any, *, now: datetime | None = None) -> bool:
        return self.mismatch(device, now=now) is None
