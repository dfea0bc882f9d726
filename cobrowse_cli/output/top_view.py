"""The `cobrowse top` screen: a view model in, one rich renderable out, sized to the terminal.

Customer data (agent names, custom_data values, ids) only ever enters as rich `Text` after
`terminal_safe`, so `[/oops]` is shown, not parsed as markup, and an ESC cannot reach the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cobrowse_cli.output.cells import terminal_safe  # the project's one escape for control characters

# Lines the fixed parts take: title, totals, two table titles, two table headers, the status line.
FIXED_LINES = 7


@dataclass
class TopView:
    clock: str  # "12:00:01"
    refresh: str  # "socket + poll every 5s"
    totals: dict[str, int]  # state -> count
    by_label: str  # "AGENT" or "PLAN"
    groups: list[tuple[str, int]]  # most active first (the first screenful)
    group_count: int
    queue: list[tuple[str, str, float, str]]  # (id, state, waited seconds, agent), longest wait first
    queue_count: int
    longest: list[tuple[str, str, float, list[str]]]  # (id, agent, running seconds, column values)
    columns: list[str] = field(default_factory=list)  # header of each column value
    status: str = ""  # a notice or an error, shown on the last line
    filters: str = ""


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def render(view: TopView, width: int, height: int):
    """Exactly `height` lines of at most `width` cells, as one rich Text (no markup, nothing wraps).

    Laid out by hand rather than with rich tables: a frame is drawn every second, and nested rich
    tables cost ~80 ms of CPU each time at 80x24, far over the budget for a tool left running all day."""
    from rich.text import Text

    rows = max(1, height - FIXED_LINES)
    upper, lower = max(1, rows // 2), max(1, rows - rows // 2)
    lines: list[Text] = [_line([(f" cobrowse top · {view.clock} · {view.refresh} · q quits", "reverse")], width)]
    totals = [(f"{state} {view.totals.get(state, 0):,}   ", "bold") for state in ("active", "pending", "authorizing")]
    lines.append(_line(totals + [(terminal_safe(view.filters), "dim")], width))

    left_width = max(10, (width - 2) * 2 // 5)
    agents = _block(f"Active by {view.by_label.lower()} ({view.group_count:,})",
                    [(view.by_label, "fill"), ("ACTIVE", "right")],
                    [[label, f"{n:,}"] for label, n in view.groups[:upper]], left_width)
    queue = _block(f"Waiting ({view.queue_count:,})", [("ID", "left"), ("STATE", "fill"), ("WAIT", "right")],
                   [[sid, state, duration(waited)] for sid, state, waited, _agent in view.queue[:upper]],
                   max(10, width - left_width - 2))
    for n in range(2 + upper):
        left = agents[n] if n < len(agents) else Text(" " * left_width)
        right = queue[n] if n < len(queue) else Text()
        lines.append(_line([left, ("  ", ""), right], width))

    lines += _block("Longest-running active",
                    [("ID", "left"), ("AGENT", "fill"), ("RUNNING", "right")] + [(c.upper(), "fill") for c in view.columns],
                    [[sid, agent, duration(running), *values] for sid, agent, running, values in view.longest[:lower]],
                    width)
    lines = lines[: max(0, height - 1)] + [Text()] * (height - 1 - len(lines))  # a tiny terminal loses rows,
    lines.append(_line([(terminal_safe(view.status), "yellow")], width))  # never the status line
    return Text("\n").join(lines[-height:])


def _block(title: str, columns: list[tuple[str, str]], rows: list[list[str]], width: int) -> list:
    """A titled, borderless table as lines of exactly `width` cells. Fixed columns take their content's
    width; "fill" columns share what is left; every cell is cut with an ellipsis, never wrapped."""
    from rich.cells import cell_len

    cells = [[terminal_safe(str(v)) for v in row] for row in rows]
    widths = [max([cell_len(name)] + [cell_len(row[i]) for row in cells]) for i, (name, _) in enumerate(columns)]
    fill = [i for i, (_, kind) in enumerate(columns) if kind == "fill"]
    gaps = len(columns)  # one space before each column
    spare = width - gaps - sum(w for i, w in enumerate(widths) if i not in fill)
    for n, i in enumerate(fill):
        widths[i] = max(1, spare // len(fill) + (1 if n < spare % len(fill) else 0))
    out = [_line([(title, "bold")], width),
           _line([(" " + _fit(name, widths[i], kind), "dim") for i, (name, kind) in enumerate(columns)], width)]
    for row in cells:
        out.append(_line([(" " + _fit(v, widths[i], columns[i][1]), "") for i, v in enumerate(row)], width))
    return out


def _fit(text: str, width: int, kind: str) -> str:
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) > width:
        return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""
    return text.rjust(width - cell_len(text) + len(text)) if kind == "right" else set_cell_size(text, width)


def _line(parts: list, width: int):
    """(text, style) pairs or Texts -> one Text padded or cut to exactly `width` cells."""
    from rich.text import Text

    line = Text(no_wrap=True, overflow="crop", end="")
    for part in parts:
        if isinstance(part, Text):
            line.append_text(part)
        else:
            line.append(part[0], style=part[1] or None)
    line.truncate(width, overflow="ellipsis", pad=True)
    return line
