"""Default table columns per resource, in one place (the output layer renders them)."""

from __future__ import annotations


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
