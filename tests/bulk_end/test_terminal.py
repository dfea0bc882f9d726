"""On a terminal the outcome table streams: rows appear as sessions are ended, and a real Ctrl-C (the
interrupt character typed into the pty) leaves a table that is accurate up to that point, every id once."""

from __future__ import annotations

import os
import pty
import select
import time

from tests.helpers import COBROWSE

from .support import create, ended_on_server, env_for, record


def test_rows_stream_on_a_terminal_and_ctrl_c_leaves_an_accurate_table(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 200))
    sandbox.faults(latency_ms=30)
    env = env_for(sandbox, home, COLUMNS="120")
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(COBROWSE, [COBROWSE, "sessions", "end", "--agent", "all", "--filter", "cohort=x",
                             "--concurrency", "2"], env)
    screen, answered, interrupted, deadline = b"", False, False, time.monotonic() + 120
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(fd, b"y\n")
                answered = True
            if answered and not interrupted and screen.count(b" ended ") >= 10:
                os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT, as for a person
                interrupted = True
    _, status = os.waitpid(pid, 0)
    text = screen.decode(errors="replace").replace("^C", "")  # the terminal echoes the keypress
    table = text[text.index("OUTCOME"):]  # after the confirmation's preview
    rows = [line for line in table.splitlines() if line.split() and line.split()[0] in selected]

    assert os.waitstatus_to_exitcode(status) == 130, text[-2000:]
    assert interrupted, "no rows streamed before the run finished"
    assert text.count("OUTCOME") == 1  # one header, then streamed rows
    assert sorted(r.split()[0] for r in rows) == sorted(selected)
    ended = {r.split()[0] for r in rows if r.split()[1] == "ended"}
    assert ended == ended_on_server(sandbox, selected)
    assert "stopped: interrupted by SIGINT" in text
    record("terminal Ctrl-C", len(selected), len(rows), len(ended))
