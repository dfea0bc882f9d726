"""The in-process CLI runner (tests/support/cli.py) is as faithful as a process: same answers, and one
run leaves nothing behind that the next could see (environment, stdio, signal and logging handlers,
config, open files, threads)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import pytest

from tests.support.cli import InProcessTimeout, run_in_process


def _active_id(sandbox) -> str:
    return sandbox.api("GET", "/api/1/sessions?agent=all&state=active&limit=1", token=sandbox.admin_token()).body[0]["id"]


@pytest.mark.parametrize("argv, stdin", [
    (("sessions", "list", "--agent", "all", "--state", "active", "--json", "--fields", "id,state"), ""),
    (("sessions", "get", "no-such-session"), ""),  # exit 4, one line on stderr
    (("sessions", "list", "--state", "bogus"), ""),  # a usage error from the command
    (("sessions", "lst"), ""),  # a usage error from click
    (("sessions", "end", "--stdin", "--dry-run"), "ID\n"),  # ids on stdin
    (("--version",), ""),
])
def test_in_process_answers_what_the_process_answers(cli, cli_process, sandbox, argv, stdin):
    stdin = stdin.replace("ID", _active_id(sandbox))
    inside, outside = cli(*argv, input=stdin), cli_process(*argv, input=stdin)
    assert (inside.code, inside.out, inside.err) == (outside.code, outside.out, outside.err)
    assert inside.out_bytes == outside.out_bytes and inside.err_bytes == outside.err_bytes


def _process_state() -> dict:
    return {
        "environ": dict(os.environ),
        "argv": list(sys.argv),
        "stdio": (sys.stdin, sys.stdout, sys.stderr),
        "cwd": os.getcwd(),
        "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE,
                                                    signal.SIGWINCH, signal.SIGALRM)},
        "loggers": {name: (list(lg.handlers), lg.level, lg.propagate)  # those configured in any way
                    for name, lg in logging.root.manager.loggerDict.items()
                    if isinstance(lg, logging.Logger) and (lg.handlers, lg.level, lg.propagate) != ([], 0, True)},
        "root_handlers": list(logging.root.handlers),
        "fds": sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None,
        "threads": sorted(t.name for t in threading.enumerate() if not t.daemon),
    }


def test_a_run_leaves_this_process_as_it_found_it(cli, sandbox):
    sid = _active_id(sandbox)
    cli("count-active")  # the first run imports and registers what later runs reuse
    before = _process_state()
    runs = [
        cli("--debug", "count-active"),  # debug log to stderr
        cli("sessions", "watch", sid, "--transport", "socket", "--timeout", "0.5s"),  # the websockets logger
        cli("sessions", "end", sid, "--yes", "--json"),  # signal handlers, the run lock
        cli("exporter", "--once"),  # a prometheus registry
        cli("config", "set", "api", "https://one.example"),
    ]
    assert [r.code for r in runs] == [0, 7, 0, 0, 0], [r.err for r in runs]
    assert _process_state() == before


def test_the_next_run_sees_nothing_of_the_last(cli, sandbox, home, tmp_path):
    from tests.support.cli import Home

    debug = cli("--debug", "count-active")
    assert debug.code == 0 and "GET " in debug.err
    plain = cli("count-active")
    assert plain.code == 0 and plain.err == ""  # no debug handler or flag left over

    secret = cli("count-active", env={"COBROWSE_TOKEN": "from-the-last-run"})
    assert secret.code == 3
    assert cli("count-active", token=None).code == 3  # neither the admin token nor that one left in os.environ
    assert "from-the-last-run" not in os.environ.get("COBROWSE_TOKEN", "")

    assert cli("config", "set", "api", "https://one.example").code == 0
    other = Home.make(tmp_path / "other-home")
    assert other.run("config", "get", "api").out.strip() != "https://one.example"  # no config cache across homes
    assert home.run("config", "get", "api").out.strip() == "https://one.example"


def test_stdio_is_text_over_bytes_like_a_pipe(cli):
    result = cli("api", "POST", "/api/1/sessions", "--input", "-", input=b'{"custom_data": {"name": "Zo\xc3\xab"}}')
    assert result.code == 0, result.err
    assert "Zo\\u00eb".encode() in result.out_bytes or "Zoë".encode() in result.out_bytes
    assert result.out_bytes.decode() == result.out


def test_a_run_past_its_timeout_is_stopped_and_cleaned_up(sandbox, home):
    from tests.support.cli import isolated_env

    before = _process_state()
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    with pytest.raises(InProcessTimeout):
        run_in_process(env, "sessions", "watch", "--transport", "poll", "--interval", "0.2s", timeout=0.5)
    assert _process_state() == before


def test_overlapping_runs_are_refused(sandbox, home):
    from tests.support import cli as runner

    env = runner.isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    first: list = []
    thread = threading.Thread(target=lambda: first.append(
        run_in_process(env, "sessions", "watch", "--transport", "poll", "--interval", "0.2s", "--timeout", "1s")))
    thread.start()
    for _ in range(1000):
        if runner._one_at_a_time.locked() or not thread.is_alive():
            break
        threading.Event().wait(0.01)
    with pytest.raises(RuntimeError, match="cli_process"):
        run_in_process(env, "count-active")
    thread.join(30)
    assert first and first[0].code == 7, first  # the first run went on undisturbed (7: its --timeout)
