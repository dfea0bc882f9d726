"""What is watched: sessions or devices, by id or by query, and how to fetch and match them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Source:
    kind: str  # "session" | "device"
    client: Any  # cobrowse_cli.client.Client
    query: Any = None  # client.selection.SessionQuery / DeviceQuery (None with explicit ids)
    ids: list[str] = field(default_factory=list)  # explicit ids: watch exactly these

    @property
    def token_field(self) -> str:
        return "control_token" if self.kind == "session" else "notification_token"

    def token(self, resource: dict) -> str | None:
        value = resource.get(self.token_field)
        return value if isinstance(value, str) and value else None

    def list(self) -> list[dict]:
        """Every resource the watch covers right now (explicit ids that no longer exist are skipped);
        a listing is verified with the query model like any other (client/listing.py)."""
        from cobrowse_cli.client.listing import select_devices, select_sessions

        if self.ids:
            found = (self.get(i) for i in self.ids)
            return [r for r in found if r is not None]
        # No catch-up walk: the watch re-lists every interval anyway, and sockets push the rest.
        if self.kind == "session":
            return list(select_sessions(self.client, self.query, catch_up=False))
        return list(select_devices(self.client, self.query, catch_up=False))

    def get(self, resource_id: str) -> dict | None:
        from cobrowse_cli.client.errors import NotFoundError

        try:
            if self.kind == "session":
                return self.client.get_session(resource_id)
            return self.client.get_device(resource_id)
        except NotFoundError:
            return None

    def matches(self, resource: dict) -> bool:
        """Whether a changed resource belongs to the watch: a socket event carries the whole resource but
        says nothing about our query, so the query model decides, as it does for listings."""
        if self.ids:
            return resource.get("id") in self.ids
        return self.query is None or self.query.matches(resource)
