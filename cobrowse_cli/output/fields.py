"""Dotted paths into rows: lookup and field selection (projection).

A row is open-ended JSON, so any path is accepted and a missing one yields None (JSON null).
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


def project(row: dict, paths: list[str]) -> dict:
    """Keep only `paths`, nested as in the row, so `jq .custom_data.user_id` works on either output.

    Key order follows `paths`; a missing path becomes null at its leaf; a whole object selected
    alongside one of its own keys wins (it already contains that key).
    """
    out: dict = {}
    whole: set[tuple[str, ...]] = set()
    for path in paths:
        keys, value = resolve(row, path)
        if any(tuple(keys[:i]) in whole for i in range(1, len(keys) + 1)):
            continue
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = None if value is MISSING else value
        whole.add(tuple(keys))
    return out


def check_paths(paths: list[str], known: tuple[str, ...], option: str, *, aliases: tuple[str, ...] = ()) -> None:
    """Every path must start with a known top-level field (or be one of `aliases`, e.g. column headers);
    anything under custom_data. is open, as custom data is the user's own."""
    from cobrowse_cli.choices import unknown

    lowered = {a.lower() for a in aliases}
    for path in paths:
        if path.split(".")[0] in known or path.lower() in lowered:
            continue
        raise unknown(f"{option} field", path, known, extra=" (and any custom_data.KEY)")
