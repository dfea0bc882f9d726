"""Dotted paths into JSON rows: `get_path(row, "custom_data.user_id")`.

A leaf shared by output/ (field selection, cells) and watch/ (exit conditions), so neither imports the other.
A row is open-ended JSON, so any path is accepted and a missing one yields MISSING (or the default).
A key that itself contains dots (custom_data {"user.id": 1}) is found too: at each level the longest
literal key wins. Lists are not indexed: a path through a list is missing.
"""

from __future__ import annotations

from typing import Any

MISSING: Any = object()


def resolve(row: Any, path: str) -> tuple[list[str], Any]:
    """(the keys actually walked, the value or MISSING)."""
    return _resolve(row, path.split("."))


def _resolve(node: Any, segments: list[str]) -> tuple[list[str], Any]:
    if not segments:
        return [], node
    if not isinstance(node, dict):
        return segments, MISSING
    for cut in range(len(segments), 0, -1):
        key = ".".join(segments[:cut])
        if key in node:
            keys, value = _resolve(node[key], segments[cut:])
            if value is not MISSING or cut == 1:
                return [key, *keys], value
    return segments, MISSING


def get_path(row: Any, path: str, default: Any = None) -> Any:
    if "." not in path:  # the common case, on the hot path of every TSV/CSV cell
        return row.get(path, default) if isinstance(row, dict) else default
    value = resolve(row, path)[1]
    return default if value is MISSING else value
