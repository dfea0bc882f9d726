"""The `top` screen layout, in-process: every size gets exactly its lines, nothing wider, data as text."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cobrowse_cli.output.top_view import TopView, duration, render

HOSTILE = ["[/oops]", "[bold red]x", "\x1b[2J\x1b]0;pwn\x07", "line\nbreak", "\x9bc1", "宽字符宽字符宽字符宽字符"]


def view(n: int = 40) -> TopView:
    return TopView(
        clock="12:00:00", refresh="socket + poll every 5s", totals={"active": 1500, "pending": 50, "authorizing": 12},
        by_label="AGENT", groups=[(HOSTILE[i % len(HOSTILE)] + str(i), 100 - i) for i in range(n)], group_count=n,
        queue=[(f"{i:020d}", "authorizing" if i % 3 else "pending", 61.0 * i, "x") for i in range(n)], queue_count=n,
        longest=[(f"{i:020d}", HOSTILE[i % len(HOSTILE)], 3700.0 * i, [HOSTILE[(i + 1) % len(HOSTILE)], "eu"])
                 for i in range(n)],
        columns=["plan", "region"], status="realtime socket closed; reconnecting", filters="--filter plan=[/x]",
    )


def draw(v: TopView, width: int, height: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, height=height, force_terminal=True, no_color=True, color_system=None,
            legacy_windows=False).print(render(v, width, height))
    return out.getvalue()


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40), (60, 15), (30, 8), (200, 60)])
def test_every_size_gets_exactly_its_lines_and_no_line_is_wider(width, height):
    from rich.cells import cell_len
    from rich.text import Text

    text = render(view(), width, height)
    lines = text.plain.split("\n")
    assert len(lines) == height
    assert all(cell_len(line) <= width for line in lines), [cell_len(line) for line in lines]
    assert isinstance(text, Text)
    assert lines[-1].startswith("realtime socket closed")


def test_customer_data_is_shown_as_text_never_markup_or_escapes():
    screen = draw(view(), 200, 60)
    assert "[/oops]" in screen and "[bold red]x" in screen
    assert "\\x1b[2J\\x1b]0;pwn\\x07" in screen and "\\x9bc1" in screen and "line\\nbreak" in screen
    assert "\x07" not in screen and "\x1b]0;" not in screen and "\x9b" not in screen


def test_a_small_terminal_still_shows_the_totals():
    lines = render(view(), 80, 24).plain.split("\n")
    assert "active 1,500" in lines[1] and "pending 50" in lines[1]
    assert "Active by agent (40)" in lines[2] and "Waiting (40)" in lines[2]


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59.9, "59s"), (61, "1m01s"), (3600, "1h00m"), (90061, "1d01h"), (-5, "0s")])
def test_duration(seconds, text):
    assert duration(seconds) == text
