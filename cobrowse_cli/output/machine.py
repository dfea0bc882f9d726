"""Streaming writers for json, ndjson, csv, tsv and ids: flat memory, no rich.

Each line is built completely and written with one call, so a reader that closes the pipe early
(`| head -1`) never sees half a line; BrokenPipeError propagates to app.run, which exits quietly.
"""

from __future__ import annotations

import csv
import json

import orjson
from typing import Any, Iterable, TextIO

from cobrowse_cli.output import cells
from cobrowse_cli.output.fields import get_path, project
from cobrowse_cli.output.options import Column


# orjson: encoding is most of the client-side cost of a large --ndjson run (6x faster than json's C
# encoder here). default=str: a Decimal or other odd value from a caller becomes a string, not a crash.
_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, indent: int | None = None) -> str:
    if indent is None:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def select(row: dict, fields: list[str] | None) -> dict:
    return project(row, fields) if fields else row


def write_json_array(rows: Iterable[dict], out: TextIO, fields: list[str] | None, *, pretty: bool = False) -> int:
    """`[\\n  {...},\\n  {...}\\n]\\n`, one item per line, written as it comes; `[]` when empty.

    If the rows fail midway the array is left open on purpose: a truncated result must not parse.
    """
    count = 0
    for row in rows:
        text = dumps(select(row, fields), indent=2 if pretty else None)
        out.write(("[\n  " if count == 0 else ",\n  ") + (text.replace("\n", "\n  ") if pretty else text))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    out.flush()
    return count


FLUSH_EVERY_S = 0.1


def write_ndjson(rows: Iterable[dict], out: TextIO, fields: list[str] | None) -> int:
    """One object per line, streamed: flushed at least every 0.1 s, so a consumer sees each page as it
    arrives without paying a write system call per row (that was ~15% of a 100k-session listing)."""
    from time import monotonic

    count, flushed = 0, monotonic()
    for row in rows:
        out.write(dumps(select(row, fields)) + "\n")
        count += 1
        now = monotonic()
        if now - flushed >= FLUSH_EVERY_S:
            out.flush()
            flushed = now
    out.flush()
    return count


# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """Nested values as compact JSON strings, null as empty, booleans as JSON spells them.

    Unless `raw`: text is made safe for a terminal (controls escaped) and for a spreadsheet (a leading
    `=`, `+`, `-`, `@`, tab or CR gets a `'` in front, OWASP's recipe). Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if raw or not isinstance(value, str):
        return value
    return ("'" if value.startswith(_FORMULA_START) else "") + cells.terminal_safe(value)


def write_csv(rows: Iterable[dict], out: TextIO, paths: list[str], *, raw: bool = False) -> int:
    """Header row always (also for an empty result); RFC 4180 `\\r\\n` line ends.

    Not `\\n`: the csv module quotes only the characters of its own line terminator, so with `\\n`
    a lone `\\r` in a value would go out bare and split the row for every reader.
    """
    writer = csv.writer(out, lineterminator="\r\n")  # writerow() issues one write() per line
    writer.writerow([csv_cell(path, raw=raw) for path in paths])
    count = 0
    for row in rows:
        writer.writerow([csv_cell(get_path(row, path), raw=raw) for path in paths])
        out.flush()
        count += 1
    out.flush()
    return count


def tsv_line(row: dict, columns: list[Column]) -> str:
    return "\t".join(cells.tsv_escape(cells.text(get_path(row, c.key))) for c in columns) + "\n"


def write_tsv(rows: Iterable[dict], out: TextIO, columns: list[Column]) -> int:
    """Like gh when piped: no header, no colour, raw values (ISO times), one row per line."""
    count = 0
    for row in rows:
        out.write(tsv_line(row, columns))
        out.flush()
        count += 1
    return count


def write_ids(rows: Iterable[dict], out: TextIO, id_key: str) -> int:
    """One id per line (rows without one are skipped, but counted)."""
    count = 0
    for row in rows:
        value = get_path(row, id_key)
        if value is not None:
            out.write(cells.tsv_escape(cells.text(value)) + "\n")
            out.flush()
        count += 1
    return count


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """{"a": {"b": 1}, "c": 2} -> [("a.b", 1), ("c", 2)]; an empty object stays as one entry."""
    if isinstance(value, dict) and value:
        pairs: list[tuple[str, Any]] = []
        for key, child in value.items():
            pairs += flatten(child, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    return [(prefix, value)]
