"""Property tests: whatever JSON the API returns, machine formats give it back unchanged."""

from __future__ import annotations

import csv
import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cobrowse_cli.output import Column, OutputOptions, Writer
from cobrowse_cli.output.cells import terminal_safe, tsv_escape
from cobrowse_cli.output.fields import get_path, project

from .conftest import PipeStream

scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=10)
rows = st.lists(st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=5), max_size=5)


def write(fmt, data, **opts):
    out = PipeStream()
    Writer(OutputOptions(format=fmt, **opts), stdout=out, stderr=PipeStream(), columns=[Column("id")]).write_rows(iter(data))
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(rows)
def test_json_and_ndjson_round_trip(data):
    assert json.loads(write("json", data)) == data
    text = write("ndjson", data)
    assert [json.loads(line) for line in text.split("\n")[:-1]] == data


def tsv_unescape(cell: str) -> str:
    """Undo tsv_escape: \\t \\n \\r \\\\ and the hex escapes of other control/invisible characters."""
    short = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
    hex_or_char = r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8})|(.))"
    return re.sub(hex_or_char, lambda m: short[m.group(4)] if m.group(4) else chr(int(m.group(1) or m.group(2) or m.group(3), 16)), cell)


@given(st.text())
def test_tsv_escape_is_one_line_one_cell_and_reversible(s):
    escaped = tsv_escape(s)
    assert "\t" not in escaped and "\n" not in escaped and "\r" not in escaped
    assert tsv_unescape(escaped) == s


@given(st.text())
def test_terminal_safe_leaves_no_control_characters(s):
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", terminal_safe(s))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["id", "note", "n"]), st.text(max_size=15) | st.integers()), max_size=5))
def test_csv_round_trips_scalars(data):
    text = write("csv", data, fields=["id", "note", "n"], csv_raw=True)
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed == [{k: "" if row.get(k) is None else str(row[k]) for k in ("id", "note", "n")} for row in data]


@given(st.dictionaries(st.sampled_from(["a", "b", "c.d"]), values, max_size=3), st.lists(st.sampled_from(["a", "b", "a.x", "c.d", "z"]), min_size=1, max_size=4, unique=True))
def test_projection_holds_what_each_path_reads(row, paths):
    picked = project(row, paths)
    for path in paths:
        if "." in path and path.split(".")[0] in paths:
            continue  # the whole parent was picked too
        assert get_path(picked, path) == get_path(row, path)
