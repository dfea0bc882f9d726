"""Terminal rendering with rich: the list table and the vertical view of one item.

Imported only when a table is actually drawn, so machine formats never load rich.
Every cell is a rich Text (never markup), so `[bold]` or `:smile:` in custom_data shows literally.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, Iterable, TextIO

from rich.cells import cell_len
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


def render_table(console: Console, columns: list[Column], rows: Iterable[dict], now: datetime, *,
                 wide: bool = False) -> list[str]:
    """Draw the table at the console's width; returns the titles of columns left out to fit (none with
    `wide`, which also never shortens a cell and lets lines run past the terminal's edge)."""
    grid = [[cell(get_path(row, c.key), c.kind, now, c.styles, c.key) for c in columns] for row in rows]
    natural = [max([cell_len(cells.terminal_safe(c.title)), *(cell_len(r[i].plain) for r in grid)]) for i, c in enumerate(columns)]
    widths = natural if wide else fit_widths(columns, natural, console.width)
    kept = [i for i, w in enumerate(widths) if w is not None]
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, _GAP, 0, 0))
    for i in kept:
        column = columns[i]
        table.add_column(Text(cells.terminal_safe(column.title)), justify="right" if column.kind == "number" else "left", no_wrap=True,
                         overflow="ellipsis", width=widths[i])
    for r in grid:
        table.add_row(*(r[i] for i in kept))
    if wide or sum(widths[i] for i in kept) + _GAP * (len(kept) - 1) > console.width:
        console.width = max(console.width, sum(natural[i] for i in kept) + _GAP * len(kept))
    emit(console, table)
    return [columns[i].title for i, w in enumerate(widths) if w is None]


_GAP = 2  # spaces between columns
_MIN_FREE = 12  # a shortened free-text cell still shows this much (with its …)


def _flexible(column: Column) -> bool:
    """Free text gives way (custom data first, then names); ids, codes, states, times and numbers never do."""
    return column.kind in ("json", "text") and column.key not in ("id", "code")


def fit_widths(columns: list[Column], natural: list[int], width: int) -> list[int | None]:
    """Each column's width, or None where it is left out. Free-text columns shrink first (custom data
    before names) down to a readable minimum; if that is not enough they are left out, custom data first;
    the fixed columns keep their full width even when the line must then run past the edge."""
    widths: list[int | None] = list(natural)
    order = sorted((i for i, c in enumerate(columns) if _flexible(c)), key=lambda i: columns[i].kind != "json")

    def excess() -> int:
        shown = [w for w in widths if w is not None]
        return sum(shown) + _GAP * (len(shown) - 1) - width

    for i in order:  # shorten
        if excess() > 0:
            floor = min(natural[i], max(_MIN_FREE, cell_len(columns[i].title)))
            widths[i] = max(floor, natural[i] - excess())
    for i in order:  # leave out, then give the room freed back to the free text still shown
        if excess() > 0:
            widths[i] = None
    for i in order:
        if widths[i] is not None and excess() < 0:
            widths[i] = min(natural[i], widths[i] - excess())
    return widths


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
