"""Terminal behaviour: colour, relative times, NO_COLOR, a real pty, progress, empty tables."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from cobrowse_cli.output import Column, OutputOptions, Writer
from tests.support.pty import run_on_pty

from .conftest import NOW, SESSION_COLUMNS, PipeStream, TTYStream, make_session

ROWS = [make_session(i) for i in range(3)]
GREEN = "\x1b[32m"


def table(rows=ROWS, *, no_color=False, columns=None, stderr=None):
    out, err = TTYStream(), stderr or PipeStream()
    w = Writer(OutputOptions(no_color=no_color, columns=columns), stdout=out, stderr=err, columns=SESSION_COLUMNS, now=NOW)
    count = w.write_rows(iter(rows))
    return count, out.getvalue(), err.getvalue()


def test_tty_table_has_headers_colour_relative_times_and_compact_custom_data():
    count, out, err = table()
    assert count == 3 and err == ""
    assert GREEN + "active" in out  # state coloured
    assert "\x1b[1m" in out  # bold header
    plain = strip_ansi(out)
    lines = plain.splitlines()
    assert lines[0].split() == ["ID", "STATE", "AGENT", "CUSTOM", "DATA", "ACTIVATED"]
    assert len(lines) == 4
    assert "3m ago" in plain and "2026-03-01T11:57" not in plain
    assert "user_id=1 plan=pro" in plain and "Zoë Agent" in plain
    assert not any(line.endswith(" ") for line in plain.splitlines())  # no rich padding at line ends


@pytest.mark.parametrize("how", ["option", "env"])
def test_no_color_means_no_escape_at_all(how, monkeypatch):
    if how == "env":
        monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = table(no_color=how == "option")
    assert "\x1b" not in out
    assert "3m ago" in out and "ACTIVATED" in out  # still a table for people


def test_columns_choose_table_columns():
    _, out, _ = table(columns=["id", "custom_data.user_id", "created"])
    lines = strip_ansi(out).splitlines()
    assert lines[0].split() == ["ID", "USER", "ID", "CREATED"]
    assert lines[2].split() == ["s0001", "1", "1h", "ago"]  # an ad-hoc "created" column is a time too


def test_a_column_can_override_state_colours():
    cols = [Column("outcome", kind="state", styles={"ended": "green"}), Column("state", kind="state")]
    out = TTYStream()
    Writer(OutputOptions(), stdout=out, stderr=PipeStream(), columns=cols).write_rows([{"outcome": "ended", "state": "ended"}])
    assert GREEN + "ended" in out.getvalue() and "\x1b[2mended" in out.getvalue()


def test_values_cannot_inject_markup_or_terminal_escapes():
    row = make_session(1, custom_data={"note": "[bold red]x[/] :smile:"}, id="evil\x1b[2Jid\nnext")
    _, out, _ = table([row], no_color=True)
    assert "[bold red]x[/]" in out and ":smile:" in out
    assert "\x1b" not in out and "evil\\x1b[2Jid\\nnext" in out


def test_empty_table_prints_nothing_on_stdout_and_a_note_on_stderr():
    assert table([]) == (0, "", "No results.\n")


def test_item_view_on_a_tty_is_key_value_with_exact_times():
    out = TTYStream()
    Writer(OutputOptions(no_color=True), stdout=out, stderr=PipeStream(), columns=SESSION_COLUMNS, now=NOW).write_item(ROWS[1])
    lines = {line.split()[0]: line.split(None, 1)[1].strip() for line in out.getvalue().splitlines()}
    assert lines["state"] == "active"
    assert lines["custom_data.user_id"] == "1"
    assert lines["activated"] == "3m ago (2026-03-01T11:57:00.000Z)"
    assert lines["recorded"] == "yes"
    assert not any(line.endswith(" ") for line in out.getvalue().splitlines())


def test_progress_writes_nothing_to_stdout_and_draws_on_a_tty_stderr_only():
    out, err = TTYStream(), TTYStream()
    w = Writer(OutputOptions(), stdout=out, stderr=err, columns=SESSION_COLUMNS, now=NOW)
    with w.progress("Fetching sessions", total=None) as update:
        for done in (1000, 2000, 2345):  # running totals, as the client's on_page reports them
            update(done)
    assert out.getvalue() == ""
    assert "Fetching sessions" in err.getvalue() and "2345" in err.getvalue()
    with w.progress("Ending", total=10) as update:
        update(4)
    assert "4/10" in err.getvalue() and out.getvalue() == ""


@pytest.mark.parametrize("fmt, stderr_tty", [("ndjson", True), (None, False)])
def test_progress_is_silent_for_machine_output_or_a_piped_stderr(fmt, stderr_tty):
    out, err = PipeStream(), TTYStream() if stderr_tty else PipeStream()
    w = Writer(OutputOptions(format=fmt), stdout=out, stderr=err, columns=SESSION_COLUMNS)
    with w.progress("Fetching", total=10) as update:
        update(5)
    assert out.getvalue() == "" and err.getvalue() == ""


PTY_SCRIPT = textwrap.dedent(
    """
    import sys
    from cobrowse_cli.output import Column, OutputOptions, Writer
    w = Writer(OutputOptions(no_color=%r), stdout=sys.stdout, stderr=sys.stderr,
               columns=[Column("id"), Column("state", kind="state"), Column("activated", kind="time")])
    w.write_rows(iter([{"id": "s1", "state": "active", "activated": "2020-01-01T00:00:00Z"}]))
    """
)


def run_in_pty(no_color: bool, env_extra: dict | None = None) -> str:
    """Run a Writer in a child whose stdout is a real pseudo-terminal; return what the terminal got."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update({"TERM": "xterm-256color", "COLUMNS": "100", **(env_extra or {})})
    screen = run_on_pty([sys.executable, "-c", PTY_SCRIPT % no_color], env, tty="stdout", timeout=10)
    assert screen.code == 0, screen.err
    return screen.out


def test_real_pty_gets_a_coloured_table_and_a_pipe_gets_plain_tsv():
    tty_out = run_in_pty(no_color=False)
    assert GREEN + "active" in tty_out and "ago" in tty_out and "ID" in tty_out
    assert "\x1b" not in run_in_pty(no_color=False, env_extra={"NO_COLOR": "1"})
    assert "\x1b" not in run_in_pty(no_color=True)
    piped = subprocess.run([sys.executable, "-c", PTY_SCRIPT % False], capture_output=True, text=True, check=True)
    assert piped.stdout == "s1\tactive\t2020-01-01T00:00:00Z\n"


def strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
