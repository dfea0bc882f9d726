"""Field selection (projection) of rows; the path look-up itself lives in cobrowse_cli/fieldpath.py.

A missing path becomes None (JSON null) in a projection.
"""

from __future__ import annotations

from cobrowse_cli.fieldpath import MISSING, get_path, resolve

__all__ = ["MISSING", "get_path", "project", "resolve"]


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
