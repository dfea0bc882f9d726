"""The one renderer every command hands its rows to.

Format: the user's flag, else a rich table when stdout is a TTY, else tab-separated lines.
stdout gets data only; notices and progress go to stderr. Rich is imported only to draw a table
or a progress bar.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Iterable, TextIO

from cobrowse_cli.output import cells, machine, safety
from cobrowse_cli.output.fields import get_path
from cobrowse_cli.output.options import MACHINE_FORMATS, Column, OutputOptions

# Last path segments that hold timestamps, for columns picked ad hoc with --columns.
_TIME_KEYS = frozenset({"created", "updated", "activated", "ended", "expires", "last_active", "last_seen"})


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or unusual stream is no terminal
        return False


def _no_color_env() -> bool:
    return bool(os.environ.get("NO_COLOR"))  # https://no-color.org: set and non-empty


class Writer:
    def __init__(
        self,
        opts: OutputOptions,
        *,
        stdout: TextIO,
        stderr: TextIO,
        columns: list[Column],
        id_key: str = "id",
        now: datetime | None = None,
        empty_message: str | None = "No results.",
    ) -> None:
        self.opts = opts
        self.stdout = stdout
        self.stderr = stderr
        self.id_key = id_key
        self.now = now or datetime.now(timezone.utc)
        self.empty_message = empty_message  # table only, on stderr; machine formats stay silent
        self.format = opts.format or ("table" if _isatty(stdout) else "tsv")
        self.color = self.format == "table" and _isatty(stdout) and not opts.no_color and not _no_color_env()
        self.columns = _choose_columns(columns, opts.columns)
        self.jq = None
        if opts.jq is not None:  # compiled now: a bad expression fails before any request
            from cobrowse_cli.output.jq import compile_program

            self.jq = compile_program(opts.jq)

    @property
    def is_machine(self) -> bool:
        return self.format in MACHINE_FORMATS

    # -- data to stdout -------------------------------------------------------------------------

    def write_rows(self, rows: Iterable[dict]) -> int:
        """Write every row; returns how many. Streams (flat memory) except for the table."""
        fmt, out = self.format, self.stdout
        if self.jq is not None:
            return self._write_jq_rows(rows)
        if fmt == "json":
            return machine.write_json_array(rows, out, self.opts.fields)
        if fmt == "ndjson":
            return machine.write_ndjson(rows, out, self.opts.fields)
        if fmt == "csv":
            return machine.write_csv(rows, out, self._csv_paths(), raw=self.opts.csv_raw)
        if fmt == "ids":
            return machine.write_ids(rows, out, self.id_key)
        if fmt == "tsv":
            return machine.write_tsv(rows, out, self.columns)
        collected = list(rows)
        if not collected:
            if self.empty_message:
                self.info(self.empty_message)
            return 0
        from cobrowse_cli.output import table

        left_out = table.render_table(self._console(), self.columns, collected, self.now, wide=self.opts.wide)
        out.flush()
        if left_out:
            self.info(f"({', '.join(left_out)} left out to fit the terminal; --wide shows every column)")
        return len(collected)

    def _write_jq_rows(self, rows: Iterable[dict]) -> int:
        """--jq: the whole array is the input with --json (as gh), each row with --ndjson (streamed)."""
        from cobrowse_cli.output.jq import write_results

        fields = self.opts.fields
        if self.format == "ndjson":
            count = 0
            for row in rows:
                write_results(self.jq, machine.select(row, fields), self.stdout)
                count += 1
            return count
        collected = [machine.select(row, fields) for row in rows]
        write_results(self.jq, collected, self.stdout)
        return len(collected)

    def write_item(self, row: dict) -> None:
        """One resource (a `get`): a key/value view on a terminal, an object in JSON."""
        fmt, out = self.format, self.stdout
        if self.jq is not None:
            from cobrowse_cli.output.jq import write_results

            write_results(self.jq, machine.select(row, self.opts.fields), out)
        elif fmt == "json":
            out.write(machine.dumps(machine.select(row, self.opts.fields), indent=2) + "\n")
        elif fmt == "ndjson":
            out.write(machine.dumps(machine.select(row, self.opts.fields)) + "\n")
        elif fmt == "csv":
            machine.write_csv([row], out, self._csv_paths(), raw=self.opts.csv_raw)
        elif fmt == "ids":
            machine.write_ids([row], out, self.id_key)
        elif fmt == "tsv":
            pairs = (
                [(c.key, get_path(row, c.key)) for c in self.columns]
                if self.opts.columns
                # Credentials only when asked for by name: a pipe gets no fake masked value either.
                else [(k, v) for k, v in machine.flatten(row) if not safety.is_secret_key(k)]
            )
            out.write("".join(f"{cells.tsv_escape(k)}\t{cells.tsv_escape(cells.text(v))}\n" for k, v in pairs))
        else:
            from cobrowse_cli.output import table

            table.render_item(self._console(), row, self.columns, self.now, only=bool(self.opts.columns))
        out.flush()

    def write_value(self, value: Any, *, json_key: str | None = None) -> None:
        """A scalar result such as a count: `42`, or `{"active": 42}` with --json and a json_key."""
        fmt, out = self.format, self.stdout
        if fmt in ("json", "ndjson"):
            payload = {json_key: value} if json_key else value
            out.write(machine.dumps(payload) + "\n")
        elif fmt == "csv":
            key = json_key or "value"
            machine.write_csv([{key: value}], out, [key], raw=self.opts.csv_raw)
        elif fmt == "table" and self.color:
            from cobrowse_cli.output import table

            table.print_value(self._console(), value)
        else:
            out.write(cells.tsv_escape(cells.text(value)) + "\n")
        out.flush()

    # -- to stderr ------------------------------------------------------------------------------

    def info(self, message: str) -> None:
        """One line for people (summaries, notices) on stderr; never on stdout."""
        self.stderr.write(message.rstrip("\n") + "\n")
        self.stderr.flush()

    def progress(self, description: str, total: int | None = None) -> ContextManager[Callable[[int], None]]:
        """`with w.progress("Fetching sessions") as update: client.iter_sessions(..., on_page=update)`.

        update(done) sets the running total of items done so far (not an increment), as the
        client's on_page callback reports it. Drawn on stderr only when stderr is a TTY and the
        output is a table; otherwise update does nothing and nothing is written anywhere.
        """
        if self.is_machine or not _isatty(self.stderr):
            return nullcontext(_ignore)
        from cobrowse_cli.output.progress import rich_progress

        color = not self.opts.no_color and not _no_color_env()
        return rich_progress(self.stderr, description, total, color=color)

    # -- helpers --------------------------------------------------------------------------------

    def _console(self):
        from cobrowse_cli.output.table import make_console

        return make_console(self.stdout, color=self.color)

    def _csv_paths(self) -> list[str]:
        return self.opts.fields or [c.key for c in self.columns]


def _ignore(done: int) -> None:
    return None


def _choose_columns(defaults: list[Column], wanted: list[str] | None) -> list[Column]:
    """--columns picks by key or header (any case); anything else is a dotted path shown as text."""
    if not wanted:
        return list(defaults)
    by_name: dict[str, Column] = {}
    for column in defaults:
        by_name.setdefault(column.key.lower(), column)
        by_name.setdefault(column.title.lower(), column)
    chosen = []
    for name in wanted:
        column = next((c for c in defaults if c.key == name), None) or by_name.get(name.lower())
        chosen.append(column or Column(name, kind=_guess_kind(name)))
    return chosen


def _guess_kind(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if last in _TIME_KEYS:
        return "time"
    if last == "state":
        return "state"
    return "text"
