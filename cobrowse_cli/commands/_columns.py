"""Default table columns and known top-level fields per resource, in one place (output renders them).

The field lists (cobrowse-api.md) make `--json bogus` / `--columns bogus` a usage error instead of a
silent null; paths under custom_data. stay open. Stdlib only: app.py reads them at start-up.
"""

from __future__ import annotations

SESSION_FIELDS = (
    "id", "code", "state", "custom_data", "agent", "agents", "created", "updated", "activated", "ended",
    "expires", "ended_reason", "recorded", "device", "full_device", "remote_control", "calling", "virtual",
    "control_token",
)
DEVICE_FIELDS = ("id", "custom_data", "device", "connectable", "last_active", "notification_token", "online", "last_seen")
OUTCOME_FIELDS = ("id", "outcome", "state", "error", "status")


def is_field_list(word: str) -> bool:
    """True when every comma-separated name in `word` is a known field of some resource (or a
    custom_data. path): then `--json WORD` selects fields; otherwise WORD is an argument (an id)."""
    known = set(SESSION_FIELDS) | set(DEVICE_FIELDS) | set(OUTCOME_FIELDS)
    names = [name.strip() for name in word.split(",")]
    return all(name.split(".")[0] in known and all(name.split(".")) for name in names)


def unknown_field(word: str):
    """The usage error for a `--json WORD` that is not a field list (the first unknown name named)."""
    from cobrowse_cli.choices import unknown

    known = tuple(dict.fromkeys((*SESSION_FIELDS, *DEVICE_FIELDS)))
    bad = next((n.strip() for n in word.split(",") if not is_field_list(n.strip())), word)
    return unknown("--json field", bad, known, extra=" (and any custom_data.KEY)")


def session_columns():
    from cobrowse_cli.output import Column

    return [
        Column("id", "ID"),
        Column("code", "CODE"),
        Column("state", "STATE", kind="state"),
        Column("agent.name", "AGENT"),
        Column("custom_data", "CUSTOM DATA", kind="json"),
        Column("activated", "ACTIVATED", kind="time"),
    ]


def device_columns():
    from cobrowse_cli.output import Column

    return [
        Column("id", "ID"),
        Column("device.platform", "PLATFORM"),
        Column("device.app_name", "APP"),
        Column("connectable", "CONNECTABLE", kind="bool"),
        Column("custom_data", "CUSTOM DATA", kind="json"),
        Column("last_active", "LAST ACTIVE", kind="time"),
    ]


def outcome_columns():
    from cobrowse_cli.output import Column

    return [
        Column("id", "ID"),
        Column("outcome", "OUTCOME", kind="state"),
        Column("state", "STATE", kind="state"),
        Column("error", "ERROR"),
    ]
