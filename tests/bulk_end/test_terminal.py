"""On a terminal the outcome table streams: rows appear as sessions are ended, and a real Ctrl-C (the
interrupt character typed into the pty) leaves a table that is accurate up to that point, every id once."""

from __future__ import annotations

from tests.helpers import COBROWSE
from tests.support.pty import run_on_pty

from .support import create, ended_on_server, env_for, record


def test_rows_stream_on_a_terminal_and_ctrl_c_leaves_an_accurate_table(sandbox, home):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 200))
    sandbox.faults(latency_ms=30)
    env = env_for(sandbox, home, COLUMNS="120")
    fired: list[bool] = []

    def after_ten_rows(screen: bytes, _elapsed: float) -> bool:  # typed once the confirmation is answered
        fired.append(screen.count(b" ended ") >= 10)
        return fired[-1]

    result = run_on_pty([COBROWSE, "sessions", "end", "--agent", "all", "--filter", "cohort=x", "--concurrency", "2"],
                        env, answers=[("[y/N]:", "y")], ctrl_c_when=after_ten_rows, timeout=120)
    interrupted = any(fired)
    text = result.out.replace("^C", "")  # the terminal echoes the keypress
    table = text[text.index("OUTCOME"):]  # after the confirmation's preview
    rows = [line for line in table.splitlines() if line.split() and line.split()[0] in selected]

    assert result.code == 130, text[-2000:]
    assert interrupted, "no rows streamed before the run finished"
    assert text.count("OUTCOME") == 1  # one header, then streamed rows
    assert sorted(r.split()[0] for r in rows) == sorted(selected)
    ended = {r.split()[0] for r in rows if r.split()[1] == "ended"}
    assert ended == ended_on_server(sandbox, selected)
    assert "stopped: interrupted by SIGINT" in text
    record("terminal Ctrl-C", len(selected), len(rows), len(ended))
