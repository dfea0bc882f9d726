"""The `cobrowse top` screen: a view model in, one rich renderable out, sized to the terminal.

Customer data (agent names, custom_data values, ids) only ever enters as rich `Text` after
`terminal_safe`, so `[/oops]` is shown, not parsed as markup, and an ESC cannot reach the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Lines the fixed parts take: title, totals, two table titles, two table headers, the status line.
FIXED_LINES = 7


@dataclass
class TopView:
    clock: str  # "12:00:01"
    refresh: str  # "socket + poll every 5s"
    totals: dict[str, int]  # state -> count
    by_label: str  # "AGENT" or "PLAN"
    groups: list[tuple[str, int]]  # most active first
    queue: list[tuple[str, str, float, str]]  # (id, state, waited seconds, agent), longest wait first
    longest: list[tuple[str, str, float, list[str]]]  # (id, agent, running seconds, column values)
    columns: list[str] = field(default_factory=list)  # header of each column value
    status: str = ""  # a notice or an error, shown on the last line
    filters: str = ""


def terminal_safe(text: object) -> str:
    """Control characters (ESC, newlines, bidi overrides...) shown as escapes, never sent to the terminal.
    Local until output/ has its one terminal-safety function; then call that instead."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def render(view: TopView, height: int):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = max(1, height - FIXED_LINES)
    upper = max(1, rows // 2)
    lower = max(1, rows - upper)

    title = Text(f" cobrowse top · {view.clock} · {view.refresh} · q quits", style="reverse", no_wrap=True,
                 overflow="ellipsis")
    totals = Text(no_wrap=True, overflow="ellipsis")
    for state in ("active", "pending", "authorizing"):
        totals.append(f"{state} {view.totals.get(state, 0):,}", style="bold")
        totals.append("   ")
    if view.filters:
        totals.append(terminal_safe(view.filters), style="dim")

    agents = _table(f"Active by {view.by_label.lower()} ({len(view.groups)})", [(view.by_label, "fill"), ("ACTIVE", "right")])
    for label, n in view.groups[:upper]:
        agents.add_row(_cell(label), f"{n:,}")
    queue = _table(f"Waiting ({len(view.queue)})", [("ID", "left"), ("STATE", "fill"), ("WAIT", "right")])
    for sid, state, waited, _agent in view.queue[:upper]:
        queue.add_row(_cell(sid), _cell(state), duration(waited))
    side_by_side = Table.grid(expand=True, padding=(0, 2))
    side_by_side.add_column(ratio=2)
    side_by_side.add_column(ratio=3)
    side_by_side.add_row(agents, queue)

    longest = _table("Longest-running active", [("ID", "left"), ("AGENT", "fill"), ("RUNNING", "right")]
                     + [(name.upper(), "fill") for name in view.columns])
    for sid, agent, running, values in view.longest[:lower]:
        longest.add_row(_cell(sid), _cell(agent), duration(running), *[_cell(v) for v in values])

    status = Text(terminal_safe(view.status), style="yellow", no_wrap=True, overflow="ellipsis")
    return Group(title, totals, side_by_side, longest, status)


def _table(title: str, columns: list[tuple[str, str]]):
    from rich.table import Table

    table = Table(title=title, title_justify="left", title_style="bold", box=None, expand=True,
                  padding=(0, 1), show_edge=False, header_style="dim")
    for name, kind in columns:  # "fill" columns share the spare width; the others take their content's
        table.add_column(name, justify="right" if kind == "right" else "left", no_wrap=True, overflow="ellipsis",
                         ratio=1 if kind == "fill" else None)
    return table


def _cell(value: object):
    from rich.text import Text

    return Text(terminal_safe("" if value is None else value), no_wrap=True, overflow="ellipsis")
