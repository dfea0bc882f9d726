"""Terminal rendering with rich: the list table and the vertical view of one item.

Imported only when a table is actually drawn, so machine formats never load rich.
Every cell is a rich Text (never markup), so `[bold]` or `:smile:` in custom_data shows literally.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, Iterable, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cobrowse_cli.output import cells, safety
from cobrowse_cli.output.fields import get_path
from cobrowse_cli.output.humanize import relative_time
from cobrowse_cli.output.machine import flatten
from cobrowse_cli.output.options import Column

STATE_STYLES = {
    "pending": "yellow",
    "authorizing": "magenta",
    "active": "green",
    "ended": "dim",
    # device/agent-ish states other commands may show
    "online": "green",
    "offline": "dim",
    "requested": "yellow",
    "on": "green",
    "off": "dim",
    "rejected": "red",
    "failed": "red",
    "error": "red",
    "done": "green",
    # `sessions end` outcomes
    "already_ended": "dim",
    "not_found": "red",
    "would_end": "yellow",
}
_MIN_WIDTH = {"time": 8, "state": 6, "id": 20, "code": 6}
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# Padding rich adds after the last cell, possibly inside a style span: "active   \x1b[0m".
_TRAILING_PAD = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def make_console(out: TextIO, *, color: bool) -> Console:
    return Console(
        file=out,
        force_terminal=color,
        color_system="auto" if color else None,  # None: no ANSI at all, not even bold
        highlight=False,
        markup=False,
        emoji=False,
        width=_terminal_width(out),
    )


def _terminal_width(out: TextIO) -> int | None:
    """The width of the terminal `out` is (rich only looks at the process's standard streams)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return None  # rich honours COLUMNS itself
    try:
        width = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return width or None


def cell(value: Any, kind: str, now: datetime, styles: dict[str, str] | None = None, key: str = "") -> Text:
    if value is None:
        return Text("")
    if isinstance(value, str) and (safety.is_secret_key(key) or safety.looks_like_jwt(value)):
        return Text(safety.terminal_safe(safety.mask_secret(value)), style="dim")
    if kind == "time" and isinstance(value, str):
        return Text(cells.terminal_safe(relative_time(value, now)))
    plain = cells.terminal_safe(cells.text(value, for_tty=True))
    if kind == "state":
        style = (styles or {}).get(plain) or STATE_STYLES.get(plain.lower(), "")
        return Text(plain, style=style)
    if isinstance(value, bool):
        return Text(plain, style="green" if value else "dim")
    return Text(plain)


def render_table(console: Console, columns: list[Column], rows: Iterable[dict], now: datetime) -> None:
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for column in columns:
        table.add_column(
            Text(cells.terminal_safe(column.title)),
            justify="right" if column.kind == "number" else "left",
            no_wrap=True,
            overflow="ellipsis",
            # Ids and times must stay readable; a long custom_data gives way first.
            min_width=_MIN_WIDTH.get(column.key) or _MIN_WIDTH.get(column.kind),
            max_width=40 if column.kind == "json" else None,
        )
    for row in rows:
        table.add_row(*(cell(get_path(row, c.key), c.kind, now, c.styles, c.key) for c in columns))
    emit(console, table)


def render_item(console: Console, row: dict, columns: list[Column], now: datetime, *, only: bool) -> None:
    """Key/value lines: the chosen columns (`only`), or every field flattened to dotted keys."""
    by_key = {c.key: c for c in columns}
    if only:
        pairs = [(c.title, c.key, get_path(row, c.key)) for c in columns]
    else:
        pairs = [(key, key, value) for key, value in flatten(row)]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, key, value in pairs:
        column = by_key.get(key)
        kind = column.kind if column else _guess_kind(key, value)
        grid.add_row(Text(cells.terminal_safe(label)), _item_value(value, kind, now, column.styles if column else None, key))
    emit(console, grid)


def _item_value(value: Any, kind: str, now: datetime, styles: dict[str, str] | None, key: str) -> Text:
    if kind == "time" and isinstance(value, str):
        # One item is read closely: show the exact time next to the relative one.
        return Text(cells.terminal_safe(relative_time(value, now))) + Text(f" ({cells.terminal_safe(value)})", style="dim")
    return cell(value, kind, now, styles, key)


def _guess_kind(key: str, value: Any) -> str:
    if isinstance(value, str) and _ISO_TIME.match(value):
        return "time"
    if key.rsplit(".", 1)[-1] == "state":
        return "state"
    return "text"


def print_value(console: Console, value: Any) -> None:
    emit(console, Text(cells.terminal_safe(cells.text(value, for_tty=True))))


def emit(console: Console, renderable: Any) -> None:
    """Print without the trailing spaces rich pads lines with (they wrap badly and break copy-paste)."""
    with console.capture() as captured:
        console.print(renderable)
    console.file.write(_TRAILING_PAD.sub(r"\1", captured.get()))
