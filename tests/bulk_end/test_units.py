"""In-process units of the bulk-end pieces that need no server: the run lock (injected clock and sleep),
the server clock, and the one-write line stream in each format, including a JSON array closed on stop."""

from __future__ import annotations

import io
import json
import os
from types import SimpleNamespace

import pytest

from cobrowse_cli.commands.sessions_end import ServerClock
from cobrowse_cli.config.runlock import LockHeld, RunLock, lock_path
from cobrowse_cli.output import OutputOptions, Writer
from cobrowse_cli.output.options import Column
from cobrowse_cli.output.stream import LineStream, OutputLost, write_line

ROWS = [{"id": "a", "outcome": "ended", "at": "2026-12-01T00:00:00.000Z"},
        {"id": "b", "outcome": "skipped", "reason": "interrupted", "at": "2026-12-01T00:00:01.000Z"}]


def test_a_held_lock_is_refused_after_the_wait_and_freed_on_release(tmp_path):
    path = tmp_path / "locks" / "end.lock"
    ticks, slept = iter(float(n) for n in range(100)), []
    with RunLock(path, started="2026-12-01T00:00:00.000Z"):
        other = RunLock(path, wait_s=3, sleep=slept.append, clock=lambda: next(ticks))
        with pytest.raises(LockHeld) as held:
            other.acquire()
        assert f"pid {os.getpid()} since 2026-12-01T00:00:00.000Z" in held.value.holder
        assert slept  # it waited (in injected time) before giving up
    with RunLock(path):  # released: the next run gets it at once
        pass


def test_lock_paths_differ_per_profile_and_api(monkeypatch, tmp_path):
    monkeypatch.setenv("COBROWSE_STATE_DIR", str(tmp_path))
    a = lock_path("sessions-end", "default", "https://api.cobrowse.io")
    assert a == lock_path("sessions-end", None, "https://api.cobrowse.io/")
    assert a != lock_path("sessions-end", "eu", "https://api.cobrowse.io") != lock_path("sessions-end", None, "http://x")
    assert a.parent == tmp_path / "locks"


def test_the_server_clock_is_used_only_when_ours_is_off_by_more_than_5s():
    clock = ServerClock()
    clock.observe(SimpleNamespace(headers={"Date": "Tue, 01 Dec 2026 00:00:00 GMT"}))  # far from now
    assert abs(clock.now().year - 2026) == 0 and abs(clock.offset_s) > 5
    clock.observe(SimpleNamespace(headers={"Date": "not a date"}))  # unreadable: keep what we had
    assert clock.offset_s != 0
    from email.utils import formatdate

    clock.observe(SimpleNamespace(headers={"Date": formatdate(usegmt=True)}))
    assert clock.offset_s == 0.0


def _writer(fmt: str, out) -> Writer:
    columns = [Column("id", "ID"), Column("outcome", "OUTCOME", kind="state")]
    return Writer(OutputOptions(format=fmt), stdout=out, stderr=io.StringIO(), columns=columns)


@pytest.mark.parametrize("fmt, expected", [
    ("ndjson", [json.dumps(r, separators=(",", ":")) for r in ROWS]),
    ("tsv", ["a\tended", "b\tskipped"]),
    ("csv", ["id,outcome", "a,ended", "b,skipped"]),
    ("ids", ["a", "b"]),
])
def test_each_row_is_one_line_in_every_format(fmt, expected):
    out = io.StringIO()
    stream = LineStream(_writer(fmt, out))
    for row in ROWS:
        stream.write(row)
    stream.close()
    assert out.getvalue().replace("\r\n", "\n").splitlines() == expected


def test_a_json_array_stopped_early_is_still_closed_and_parses():
    out = io.StringIO()
    stream = LineStream(_writer("json", out))
    stream.write(ROWS[0])
    stream.close()
    assert json.loads(out.getvalue()) == [ROWS[0]]


def test_a_failing_descriptor_is_output_lost_never_a_half_line(tmp_path):
    with open("/dev/full", "w") as full:
        with pytest.raises(OutputLost, match="No space left"):
            write_line(full, '{"id":"a"}\n')
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed, pytest.raises(OutputLost, match="closed"):
        write_line(closed, '{"id":"a"}\n')
