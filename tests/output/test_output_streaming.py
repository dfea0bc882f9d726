"""Streaming: rows written as they come, flat memory, no rich on machine paths, quiet closed pipes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

from cobrowse_cli.output import OutputOptions, Writer

from .conftest import SESSION_COLUMNS, PipeStream, make_session


class NullSink(io.TextIOBase):
    """A pipe that throws bytes away (counts them), so only the writer's own memory is measured."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)

    def isatty(self) -> bool:
        return False


def generated_sessions(n: int):
    # Small rows, made on the fly: tracemalloc slows every allocation, and the test is about growth.
    for i in range(n):
        yield {"id": f"s{i}", "state": "active", "custom_data": {"user_id": i}}


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "tsv", "ids"])
def test_rows_are_written_before_the_next_one_is_pulled(fmt):
    out = PipeStream()
    seen_when_pulled = []

    def rows():
        for i in range(3):
            seen_when_pulled.append(out.getvalue())
            yield make_session(i)

    Writer(OutputOptions(format=fmt), stdout=out, stderr=PipeStream(), columns=SESSION_COLUMNS).write_rows(rows())
    assert "s0000" not in seen_when_pulled[0]
    assert "s0000" in seen_when_pulled[1] and "s0001" in seen_when_pulled[2]


def peak_bytes(fmt: str, n: int) -> int:
    sink = NullSink()
    writer = Writer(OutputOptions(format=fmt), stdout=sink, stderr=PipeStream(), columns=SESSION_COLUMNS)
    tracemalloc.start()
    try:
        assert writer.write_rows(generated_sessions(n)) == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def list_peak_bytes(n: int) -> int:
    tracemalloc.start()
    try:
        rows = list(generated_sessions(n))
        assert len(rows) == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_ndjson_streams_in_flat_memory():
    # The peak is flat from the first thousand rows (4.7 kB at 2k, 10k and 200k): 20x the rows must not mean
    # more memory (a leak of 1 byte a row would show), and holding even 10k rows in a list costs far more.
    small, large = peak_bytes("ndjson", 2_000), peak_bytes("ndjson", 40_000)
    held = list_peak_bytes(10_000)
    assert large < small * 1.5, (small, large)
    assert large * 20 < held, (large, held)


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv"])
def test_other_streaming_formats_are_flat_too(fmt):
    small, large = peak_bytes(fmt, 1_000), peak_bytes(fmt, 10_000)
    assert large < small * 1.5, (small, large)


MACHINE_SCRIPT = textwrap.dedent(
    """
    import io, sys
    from cobrowse_cli.output import Column, OutputOptions, Writer
    cols = [Column("id"), Column("state", kind="state"), Column("created", kind="time")]
    row = {"id": "s1", "state": "active", "created": "2026-01-01T00:00:00Z", "custom_data": {"a": 1}}
    for fmt in ("json", "ndjson", "csv", "tsv", "ids"):
        w = Writer(OutputOptions(format=fmt), stdout=io.StringIO(), stderr=sys.stderr, columns=cols)
        w.write_rows(iter([row, row]))
        w.write_item(row)
        w.write_value(3, json_key="active")
        with w.progress("paging", total=2) as update:
            update(1)
        w.info("done")
    print(sorted(m for m in sys.modules if m == "rich" or m.startswith("rich.")))
    """
)


def test_machine_formats_never_import_rich():
    result = subprocess.run([sys.executable, "-c", MACHINE_SCRIPT], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


CLOSED_PIPE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from cobrowse_cli.output import Column, OutputOptions, Writer

    def rows():
        for i in range(100_000):
            yield {"id": f"s{i}", "custom_data": {"note": "x" * (i % 700), "emoji": "ü"}}

    w = Writer(OutputOptions(format=sys.argv[1]), stdout=sys.stdout, stderr=sys.stderr, columns=[Column("id"), Column("custom_data")])
    try:
        w.write_rows(rows())
    except BrokenPipeError:
        # What cobrowse_cli.app.run does: exit 0 with stdout on devnull so the final flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(3)  # the reader closed early: finishing normally would mean the error was swallowed
    """
)


def spawn(fmt: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLOSED_PIPE_SCRIPT, fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(proc: subprocess.Popen) -> None:
    proc.stdout.close()
    rc = proc.wait(timeout=30)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert rc == 0 and err == "", (rc, err)


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "tsv", "ids"])
def test_reader_closing_early_ends_quietly(fmt):
    """Like `cobrowse sessions list --ndjson | head -1`: no traceback, no "Broken pipe" text."""
    proc = spawn(fmt)
    first = [proc.stdout.readline().decode() for _ in range(3)]
    finish(proc)
    assert all(line.endswith("\n") for line in first)
    if fmt == "ndjson":
        assert [json.loads(line)["id"] for line in first] == ["s0", "s1", "s2"]
    if fmt == "csv":
        assert list(csv.reader(first)) == [["id", "custom_data"], ["s0", '{"note":"","emoji":"ü"}'], ["s1", '{"note":"x","emoji":"ü"}']]


def test_ndjson_reaches_the_pipe_in_whole_lines_only():
    """Each os-level read of the pipe ends at a line end: the writer never split a line across writes."""
    proc = spawn("ndjson")
    ids = []
    for _ in range(20):
        chunk = os.read(proc.stdout.fileno(), 1 << 20)  # larger than a pipe buffer: whatever is there
        assert chunk.endswith(b"\n"), chunk[-80:]
        ids += [json.loads(line)["id"] for line in chunk.decode().splitlines()]
    finish(proc)
    assert ids == [f"s{i}" for i in range(len(ids))]
