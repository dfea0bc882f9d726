"""Point 1: tables fit the terminal. Ids, codes, states and times are never cut; free text shrinks first
(custom data before names) and shows `…`; a wide terminal is used; --wide shows everything."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
from rich.console import Console

from cobrowse_cli.output import Column
from cobrowse_cli.output.table import fit_widths, render_table

COLUMNS = [Column("id", "ID"), Column("code", "CODE"), Column("state", "STATE", kind="state"),
           Column("agent.name", "AGENT"), Column("custom_data", "CUSTOM DATA", kind="json"),
           Column("activated", "ACTIVATED", kind="time")]
NATURAL = [20, 6, 11, 12, 90, 9]


def _line_width(widths):
    shown = [w for w in widths if w is not None]
    return sum(shown) + 2 * (len(shown) - 1)


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_fixed_columns_keep_their_width_and_free_text_gives_way(width):
    widths = fit_widths(COLUMNS, NATURAL, width)
    assert widths[0] == 20 and widths[1] == 6 and widths[2] == 11 and widths[5] == 9
    if _line_width(NATURAL) <= width:
        assert widths == NATURAL
    else:
        assert _line_width(widths) <= width
        if widths[4] is not None:  # custom data shrinks before the agent name does
            assert widths[3] == NATURAL[3] or widths[4] == 12


def test_custom_data_is_left_out_before_the_agent_when_even_short_it_cannot_fit():
    widths = fit_widths(COLUMNS, NATURAL, 70)
    assert widths[4] is None and widths[3] == NATURAL[3]
    assert fit_widths(COLUMNS, NATURAL, 60)[3:5] == [None, None]  # then the names; never the fixed columns


def _render(width: int, *, wide: bool = False):
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=True, color_system=None, markup=False, highlight=False, emoji=False,
                      force_terminal=False)
    rows = [{"id": "VAusX00jXmLsLSxkQPKy", "code": "903136", "state": "authorizing",
             "agent": {"name": "Carol Singh"}, "custom_data": {"user_id": "3608", "email": "liam.3608@shop.test",
                                                               "plan": "enterprise", "region": "us-west"},
             "activated": None}]
    left_out = render_table(console, COLUMNS, rows, datetime.now(timezone.utc), wide=wide)
    return out.getvalue().splitlines(), left_out


def test_render_cuts_only_custom_data_with_an_ellipsis():
    lines, left_out = _render(80)
    assert left_out == []
    assert "authorizing" in lines[1] and "Carol Singh" in lines[1] and "ACTIVATED" in lines[0]
    assert "…" in lines[1] and all(len(line) <= 80 for line in lines)


def test_wide_shows_everything_uncut():
    lines, left_out = _render(60, wide=True)
    assert left_out == [] and "…" not in lines[1] and "region=us-west" in lines[1]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_sessions_list_on_a_real_terminal(tty, width):
    code, screen = tty("sessions", "list", "--agent", "all", "--limit", "12", width=width)
    assert code == 0, screen
    lines = [line for line in screen.splitlines() if line.strip()]
    header = next(line for line in lines if line.startswith("ID "))
    rows = [line for line in lines if re.match(r"^[A-Za-z0-9]{20}  \d{6}  ", line)]
    assert len(rows) == 12, screen
    assert "STATE" in header and "ACTIVATED" in header  # fixed columns are always there
    assert ("AGENT" in header) == (width >= 80)  # at 60 the names give way too (said on stderr)
    for row in rows:  # states are whole words, never `pendi…`
        assert re.search(r"  (pending|authorizing|active|ended)(  |$)", row), row
        assert len(row) <= width, (width, row)
    cut = [row for row in rows if "…" in row]
    if width >= 200:
        assert not cut  # a wide terminal is used: custom data shown in full
    elif "CUSTOM DATA" in header:
        assert cut  # shortened custom data says so
    if width == 60:
        assert re.search(r"\(.*CUSTOM DATA left out to fit the terminal; --wide shows every column\)", screen)


@pytest.mark.parametrize("flag", [["--wide"], ["-o", "wide"]])
def test_wide_flag_on_a_narrow_terminal(tty, flag):
    code, screen = tty("sessions", "list", "--agent", "all", "--limit", "3", *flag, width=60)
    assert code == 0, screen
    assert "CUSTOM DATA" in screen and "…" not in screen and "left out" not in screen
