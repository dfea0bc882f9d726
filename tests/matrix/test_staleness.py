"""Item 9 of issue 12: `--inactive-for` on active sessions cautions a person at a terminal, never a pipe."""

from __future__ import annotations

from tests.helpers import COBROWSE, isolated_env, run_in_process
from tests.support.pty import run_on_pty

CAUTION = "caution: --inactive-for reads `updated`"
ARGS = ["sessions", "end", "--agent", "all", "--state", "active", "--inactive-for", "30m", "--dry-run", "--json"]


def _run(sandbox, home, *, stderr_tty: bool) -> tuple[int, str, str]:
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    if not stderr_tty:  # pipes: the in-process runner gives the CLI pipe-like streams
        return tuple(run_in_process(env, *ARGS, timeout=60))
    screen = run_on_pty([COBROWSE, *ARGS], env, tty="stderr")
    return screen.code, screen.out, screen.err


def test_inactive_for_on_active_sessions_cautions_on_a_terminal_only(sandbox, home):
    code, out, err = _run(sandbox, home, stderr_tty=True)
    assert code == 0 and CAUTION in err
    assert out.lstrip().startswith("[")  # data only on stdout
    code, out, err = _run(sandbox, home, stderr_tty=False)
    assert code == 0 and CAUTION not in err
