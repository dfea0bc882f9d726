"""Issue 13's property: whatever a customer puts in custom_data keys or values, no output meant for a
terminal or a line-oriented reader holds a C0/C1 control (or bidi/invisible format character) other
than the format's own separators. In-process: the Writer and the watch line formatter directly."""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cobrowse_cli.output import Column, OutputOptions, Writer
from cobrowse_cli.output.events import format_line

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
COLUMNS = [Column("id"), Column("state", kind="state"), Column("custom_data", kind="json")]
# Format -> the control characters that format itself writes (its separators).
OWN = {"tsv": {"\t", "\n"}, "ids": {"\n"}, "csv": {"\r", "\n"}, "table": {"\n"}}
any_text = st.text(st.characters(codec="utf-8"), max_size=12)  # any code point a JSON string can carry


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def unsafe(text: str, allowed: set[str]) -> list[str]:
    return [c for c in text if c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


def render(fmt: str, row: dict, *, item: bool, columns: list[str] | None = None) -> str:
    out = Tty() if fmt == "table" else io.StringIO()
    opts = OutputOptions(format=None if fmt == "table" else fmt, columns=columns, no_color=True)
    writer = Writer(opts, stdout=out, stderr=io.StringIO(), columns=COLUMNS, now=NOW)
    if item:
        writer.write_item(row)
    else:
        writer.write_rows([row])
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(custom=st.dictionaries(any_text, any_text | st.integers(), min_size=1, max_size=4), key=any_text)
def test_no_control_character_reaches_any_terminal_or_line_format(custom, key):
    row = {"id": "s1", "state": key or "active", "custom_data": custom, f"x{key}": key}
    first = next(iter(custom))
    for fmt in ("table", "tsv", "csv", "ids"):
        for item in (False, True):
            text = render(fmt, row, item=item)
            assert not unsafe(text, OWN[fmt]), (fmt, item, text)
        picked = render(fmt, row, item=True, columns=["id", f"custom_data.{first}"] if fmt != "ids" else None)
        assert not unsafe(picked, OWN[fmt]), (fmt, picked)
    event = {"type": "updated", "at": "2026-11-25T00:00:00Z", "kind": "session", "resource": row,
             "changed": [{"field": f"custom_data.{k}", "old": None, "new": v} for k, v in custom.items()]}
    added = {**event, "type": "added"}
    for line in (format_line(event), format_line(added)):
        assert not unsafe(line, {"\n"}) and line.count("\n") == 1, line
