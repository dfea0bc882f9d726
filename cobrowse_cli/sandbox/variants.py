"""Server variants: each one a documented behaviour the real Cobrowse API might have instead of ours.

No public source settles these (see cobrowse-api.md, last section), so the sandbox can play each of them
and the client is tested against all. Chosen with `cobrowse sandbox serve --variant NAME[,NAME...]`,
`SandboxOptions(variants=...)`, or at run time with `POST /_sandbox/reset {"variants": [...]}`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable

# name -> one line for --help, the control index and the README
DESCRIPTIONS = {
    "page-cap=N": "a page (sessions or devices) holds at most N items whatever `limit` asks (no error, no hint)",
    "page-cap-bounded=N": "a page of a query with a time bound (`*_before`/`*_after`) holds at most N items; "
                          "the unbounded first page is not capped (a cap that varies with the query's shape)",
    "inclusive-cursor": "`activated_before` and `seen_before` are inclusive (<=): boundary items come back on the next page",
    "after-inclusive": "`activated_after` and `seen_after` are inclusive (>=)",
    "order=created": "pages are ordered newest-first by `created` instead of `activated` (cursor unchanged)",
    "ignore-agent": "`agent=<id>` is ignored: an administrator gets every agent's sessions, an agent its own",
    "ignore-filters": "`filter_<key>` parameters are ignored (sessions and devices)",
    "ignore-state": "`state` parameters are ignored",
    "no-ended-reason": "sessions have no `ended_reason` field (API versions before it existed)",
    "agent-scope": "an agent's request for another agent's session answers 403 instead of 404",
    "non-admin-own": "`agent=all` from a non-administrator answers its own sessions instead of 403",
    "end-ended-404": "ending an already-ended session answers 404 instead of the unchanged session",
}
MAX_PAGE_CAP = 1000


class UnknownVariant(ValueError):
    """A variant name or value the sandbox does not know; the message lists the valid ones."""


@dataclass(frozen=True)
class Variants:
    page_cap: int | None = None
    page_cap_bounded: int | None = None
    inclusive_cursor: bool = False
    after_inclusive: bool = False
    order_created: bool = False
    ignore_agent: bool = False
    ignore_filters: bool = False
    ignore_state: bool = False
    no_ended_reason: bool = False
    agent_scope: bool = False
    non_admin_own: bool = False
    end_ended_404: bool = False

    def page_limit(self, limit: int, *, bounded: bool) -> int:
        """The `limit` this variant answers: `bounded`, the query carries a time bound."""
        for cap in (self.page_cap, self.page_cap_bounded if bounded else None):
            limit = min(limit, cap) if cap else limit
        return limit

    def names(self) -> list[str]:
        """The canonical names, in a stable order (what stats and reset report)."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("page_cap", "page_cap_bounded"):
                if value is not None:
                    out.append(f"{f.name.replace('_', '-')}={value}")
            elif f.name == "order_created":
                if value:
                    out.append("order=created")
            elif value:
                out.append(f.name.replace("_", "-"))
        return out


def valid_names() -> str:
    return ", ".join(DESCRIPTIONS)


def parse_variants(items: Iterable[str]) -> Variants:
    """`["page-cap=50,ignore-state", "order=created"]` -> Variants. Raises UnknownVariant."""
    kw: dict = {}
    for item in items:
        if not isinstance(item, str):
            raise UnknownVariant(f"a variant must be a string, got {item!r}; valid: {valid_names()}")
        for raw in item.split(","):
            name = raw.strip()
            if not name:
                continue
            key, sep, value = name.partition("=")
            if key in ("page-cap", "page-cap-bounded"):
                if not (sep and value.isdigit() and 1 <= int(value) <= MAX_PAGE_CAP):
                    raise UnknownVariant(f"{key} needs a number 1-{MAX_PAGE_CAP}, e.g. {key}=50 (got {name!r})")
                kw[key.replace("-", "_")] = int(value)
            elif key == "order":
                if value not in ("activated", "created"):
                    raise UnknownVariant(f"order must be order=created or order=activated (got {name!r})")
                kw["order_created"] = value == "created"
            elif not sep and name in DESCRIPTIONS:
                kw[name.replace("-", "_")] = True
            else:
                raise UnknownVariant(f"unknown sandbox variant {name!r}; valid: {valid_names()}")
    return Variants(**kw)
