"""Values as plain text cells, shared by the TSV writer and the table (no rich here)."""

from __future__ import annotations

import json
import re
from typing import Any

_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Anything a terminal could interpret (C0, DEL, C1): a value from the API must not move the cursor.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
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
    """One cell on one line: tabs, newlines and backslashes escaped, reversibly."""
    return cell.translate(_TSV_ESCAPES)


def terminal_safe(cell: str) -> str:
    """Control characters shown as escapes (\\n, \\x1b) so they cannot break the layout or the terminal."""
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1] if m.group() in "\n\t\r" else f"\\x{ord(m.group()):02x}", cell)
