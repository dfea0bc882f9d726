"""What is watched: sessions or devices, by id or by query, and how to fetch and match them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Source:
    kind: str  # "session" | "device"
    client: Any  # cobrowse_cli.client.Client
    query: dict = field(default_factory=dict)  # API query (filter_*, state, agent, seen_after ...)
    ids: list[str] = field(default_factory=list)  # explicit ids: watch exactly these

    @property
    def token_field(self) -> str:
        return "control_token" if self.kind == "session" else "notification_token"

    def token(self, resource: dict) -> str | None:
        value = resource.get(self.token_field)
        return value if isinstance(value, str) and value else None

    def list(self) -> list[dict]:
        """Every resource the watch covers right now (explicit ids that no longer exist are skipped)."""
        if self.ids:
            found = (self.get(i) for i in self.ids)
            return [r for r in found if r is not None]
        if self.kind == "session":
            return list(self.client.iter_sessions(self.query))
        return list(self.client.iter_devices(self.query))

    def get(self, resource_id: str) -> dict | None:
        from cobrowse_cli.client.errors import NotFoundError

        try:
            if self.kind == "session":
                return self.client.get_session(resource_id)
            return self.client.get_device(resource_id)
        except NotFoundError:
            return None

    def matches(self, resource: dict) -> bool:
        """Whether a changed resource still belongs to the watch (its query is re-checked locally, as a
        socket event carries the whole resource but says nothing about our query)."""
        if self.ids:
            return resource.get("id") in self.ids
        states = self.query.get("state")
        if states and resource.get("state") not in states:
            return False
        custom = resource.get("custom_data") if isinstance(resource.get("custom_data"), dict) else {}
        for key, value in self.query.items():
            if key.startswith("filter_"):
                name = key[len("filter_"):]
                if name not in custom or _filter_text(custom[name]) != str(value):
                    return False
        return True


def _filter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
