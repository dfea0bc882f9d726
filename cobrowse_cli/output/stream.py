"""Rows written one line at a time, each line with ONE write, for commands that must know which rows
reached stdout (`sessions end`: every outcome accounted for, whatever happens to the reader).

A table streams too (header once, then one line per row with fixed widths), so a person watching a
bulk end sees each outcome as it happens and Ctrl-C leaves the table accurate up to that point.
`LineStream.write` raises OutputLost when the line could not be written whole: a closed pipe (EPIPE),
a full disk (ENOSPC), an I/O error (EIO). The caller decides where the lost rows go.
"""

from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING, TextIO

from cobrowse_cli.output import cells, machine
from cobrowse_cli.output.fields import get_path

if TYPE_CHECKING:
    from cobrowse_cli.output.writer import Writer

# Table widths for streamed rows (the table cannot measure rows it has not seen yet).
_WIDTHS = {"id": 22, "outcome": 13, "state": 11}


class OutputLost(Exception):
    """A line could not be written whole; `reason` is short (`closed`, `No space left on device`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def write_line(out: TextIO, text: str) -> None:
    """Write `text` with one system call when `out` has a file descriptor (else one write + flush)."""
    try:
        fd = out.fileno()
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        fd = None
    try:
        if fd is None:
            out.write(text)
            out.flush()
            return
        out.flush()  # anything buffered earlier goes first, in order
        data = text.encode("utf-8", "replace")
        written = os.write(fd, data)
    except BrokenPipeError:
        raise OutputLost("closed") from None
    except OSError as e:
        raise OutputLost(e.strerror or type(e).__name__) from None
    except Exception as e:  # noqa: BLE001 - e.g. GuardedStdout's StdoutClosed on a test stream
        raise OutputLost(str(e) or type(e).__name__) from None
    if written != len(data):
        raise OutputLost(f"only {written} of {len(data)} bytes written")


class LineStream:
    """`s = LineStream(writer); s.write(row)...; s.close()` in the writer's format."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.format = writer.format
        self.count = 0
        self._console = None
        if self.format == "table":
            from cobrowse_cli.output.table import _terminal_width, make_console

            self._console = make_console(io.StringIO(), color=writer.color)
            self._console.width = _terminal_width(writer.stdout) or self._console.width

    def write(self, row: dict) -> None:
        write_line(self.writer.stdout, self.line(row))
        self.count += 1

    def close(self) -> None:
        """The closing text of a JSON array (the opening, for an empty one)."""
        if self.format == "json":
            write_line(self.writer.stdout, "[]\n" if self.count == 0 else "\n]\n")

    def line(self, row: dict) -> str:
        fmt, opts, first = self.format, self.writer.opts, self.count == 0
        if fmt == "ndjson":
            return machine.dumps(machine.select(row, opts.fields)) + "\n"
        if fmt == "json":
            return ("[\n  " if first else ",\n  ") + machine.dumps(machine.select(row, opts.fields))
        if fmt == "csv":
            buffer = io.StringIO()
            paths = self.writer._csv_paths()
            rows = ([paths] if first else []) + [[machine.csv_cell(get_path(row, p)) for p in paths]]
            csv.writer(buffer, lineterminator="\r\n").writerows(rows)
            return buffer.getvalue()
        if fmt == "ids":
            return cells.tsv_escape(cells.text(get_path(row, self.writer.id_key))) + "\n"
        if fmt == "tsv":
            return machine.tsv_line(row, self.writer.columns)
        return self._table_line(row, header=first)

    def _table_line(self, row: dict, *, header: bool) -> str:
        from rich.table import Table

        from cobrowse_cli.output import table

        grid = Table(box=None, show_edge=False, pad_edge=False, show_header=header, header_style="bold",
                     padding=(0, 2, 0, 0))
        for column in self.writer.columns:
            width = _WIDTHS.get(column.key)
            grid.add_column(column.title, no_wrap=True, overflow="ellipsis", width=width, min_width=width)
        grid.add_row(*(table.cell(get_path(row, c.key), c.kind, self.writer.now, c.styles)
                       for c in self.writer.columns))
        console = self._console
        with console.capture() as captured:
            console.print(grid)
        return table._TRAILING_PAD.sub(r"\1", captured.get())  # rich pads lines; the pad wraps badly
