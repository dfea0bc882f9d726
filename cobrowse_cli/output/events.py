"""Change-feed output for `watch`: one line per event for people, or one NDJSON object per event.

Events arrive as plain dicts `{"type", "at", "resource", "changed": [{field, old, new}]}` plus
`kind` ("session" / "device"); this module knows nothing of sockets or HTTP. Each line is written
with one call and flushed, so `| head -3` or `| jq` sees events as they happen; a closed pipe raises
BrokenPipeError, which app.run turns into a quiet exit.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from cobrowse_cli.output import cells, machine, safety
from cobrowse_cli.output.fields import get_path, project

ARROW = "→"
# What an `added` line shows, per kind: enough to recognise the resource without a table.
SUMMARY_FIELDS = {
    "session": ("state", "code", "agent", "custom_data"),
    "device": ("device.platform", "device.app_name", "connectable", "online", "custom_data"),
}


def value_text(value: Any) -> str:
    """A value in a change line: `(none)` for missing/null, strings bare, the rest as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return cells.terminal_safe(value) if value else '""'
    return cells.terminal_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def short_time(iso: str) -> str:
    """`2026-11-25T21:03:04.123Z` -> `2026-11-25T21:03:04Z` (seconds are enough for a person)."""
    if isinstance(iso, str) and len(iso) > 19 and iso[10:11] == "T":
        return iso[:19] + "Z"
    return str(iso)


def _get(resource: dict, path: str) -> Any:
    node = get_path(resource, path)
    if path == "agent" and isinstance(node, dict):
        return node.get("name") or node.get("id")
    return node


def summary(kind: str, resource: dict) -> str:
    parts = []
    for path in SUMMARY_FIELDS.get(kind, ()):
        value = _get(resource, path)
        if value is None or value == {}:
            continue
        name = path.rsplit(".", 1)[-1]
        shown = cells.terminal_safe(cells.compact_mapping(value)) if isinstance(value, dict) else value_text(value)
        parts.append(f"{name}={shown}" if name != "custom_data" else f"custom_data {{{shown}}}")
    return " ".join(parts)


def change_text(changed: list[dict]) -> str:
    return ", ".join(_change(str(c["field"]), c.get("old"), c.get("new")) for c in changed)


def _change(field: str, old: Any, new: Any) -> str:
    if safety.is_secret_key(field):  # a credential changing is news; its value is not for the screen
        old, new = (safety.mask_secret(v) if isinstance(v, str) else v for v in (old, new))
    return f"{cells.terminal_safe(field)} {value_text(old)} {ARROW} {value_text(new)}"


def format_line(event: dict) -> str:
    """`2026-11-25T21:03:04Z  session 5f2c…  updated  state pending → active, custom_data.ticket (none) → T-1`."""
    kind, resource = event.get("kind", "resource"), event.get("resource") or {}
    what = cells.terminal_safe(f"{kind} {resource.get('id', '?')}  {event['type']}")
    head = f"{cells.terminal_safe(short_time(event.get('at', '')))}  {what}"
    if event["type"] == "added":
        detail = summary(kind, resource)
    elif event["type"] == "removed":
        detail = "no longer matches the watch"
    else:
        detail = change_text(event.get("changed") or [])
    return f"{head}  {detail}".rstrip() + "\n"


class EventWriter:
    """Writes watch events to stdout as lines (default) or NDJSON (`--ndjson`, optional `--fields`
    applied to the resource)."""

    def __init__(self, stdout: TextIO, *, ndjson: bool = False, fields: list[str] | None = None, jq=None):
        self.stdout = stdout
        self.ndjson = ndjson or jq is not None
        self.fields = fields
        self.jq = jq  # a compiled --jq program (output/jq.py), run on each event's NDJSON object

    def write(self, event: dict) -> None:
        if self.ndjson:
            resource = project(event["resource"], self.fields) if self.fields else event["resource"]
            payload = {"type": event["type"], "at": event["at"], "resource": resource, "changed": event.get("changed", [])}
            if self.jq is not None:
                from cobrowse_cli.output.jq import write_results

                write_results(self.jq, payload, self.stdout)
                return
            line = machine.dumps(payload) + "\n"
        else:
            line = format_line(event)
        self.stdout.write(line)
        self.stdout.flush()
