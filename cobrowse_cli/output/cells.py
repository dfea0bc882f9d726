"""Values as plain text cells, shared by the TSV writer and the table (no rich here)."""

from __future__ import annotations

import json
import re
from typing import Any

from cobrowse_cli.output.safety import terminal_safe

__all__ = ["compact_mapping", "terminal_safe", "text", "tsv_escape"]
_BARE = re.compile(r"^[^\s=\"',]+$")


def text(value: Any, *, for_tty: bool = False) -> str:
    """A readable cell: "" for null, true/false (yes/no on a TTY), dicts as `k=v k=v`, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if for_tty:
            return "yes" if value else "no"
        return "true" if value else "false"
    if isinstance(value, dict):
        return compact_mapping(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_inline(item) for item in value)
    return str(value)


def compact_mapping(mapping: dict) -> str:
    """{"user_id": 42, "plan": "pro"} -> `user_id=42 plan=pro`; awkward values JSON-quoted."""
    return " ".join(f"{key}={_inline(value)}" for key, value in mapping.items())


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return value if _BARE.match(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dict, list, tuple, bool)) or value is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def tsv_escape(cell: str) -> str:
    """One cell on one line, reversibly: backslashes doubled, then tab/newline/CR and every other
    control or invisible character escaped by terminal_safe (`… | grep x` on a terminal stays inert)."""
    if cell.isprintable() and "\\" not in cell:
        return cell
    return terminal_safe(cell.replace("\\", "\\\\"))
