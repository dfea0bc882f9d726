"""The watch commands as a user runs them: a real process (`python -m cobrowse_cli`-style, through
app.run), Ctrl-C, a closed pipe, NDJSON read line by line, usage errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

# Runs the real app; adds the watch commands when sessions/devices.register do not (yet) do it.
LAUNCHER = """
import sys
from cobrowse_cli import app as root
from cobrowse_cli.commands.watch import add_device_watch, add_session_watch
for info in root.app.registered_groups:
    names = {c.name for c in info.typer_instance.registered_commands}
    if "watch" not in names and info.name in ("sessions", "devices"):
        (add_session_watch if info.name == "sessions" else add_device_watch)(info.typer_instance)
sys.exit(root.run())
"""


@pytest.fixture
def cli(sandbox, tmp_path):
    env = {**os.environ, "COBROWSE_API": sandbox.url, "COBROWSE_TOKEN": sandbox.token(),
           "COBROWSE_CONFIG": str(tmp_path / "config.toml"), "PYTHONUNBUFFERED": "1"}
    env.pop("COBROWSE_PROFILE", None)
    procs = []

    def start(*args: str) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", LAUNCHER, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def new_session(sandbox, tag: str) -> str:
    return sandbox.control("POST", "/_sandbox/sessions",
                           {"count": 1, "state": "active", "agent": "agent@sandbox.test", "custom_data": {"tag": tag}})["ids"][0]


def test_a_started_cli_gets_the_default_ctrl_c():
    """However pytest was started (a background job inherits SIGINT ignored), the CLIs the tests start must
    get Ctrl-C as at a terminal: tests/conftest.py sees to it. Without it the next test hangs, then fails."""
    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "True\n"


def test_ctrl_c_exits_130_without_traceback(sandbox, cli):
    sid = new_session(sandbox, uuid.uuid4().hex)
    p = cli("sessions", "watch", sid, "--transport", "socket")
    assert sid in p.stdout.readline()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 130
    assert err in ("", "cobrowse: interrupted\n")  # Typer turns KeyboardInterrupt into a silent Exit(130)


def test_closed_pipe_ends_quietly(sandbox, cli):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    p = cli("sessions", "watch", "--filter", f"tag={tag}", "--transport", "socket", "--timeout", "20s")
    assert sid in p.stdout.readline()
    p.stdout.close()  # like `| head -1`
    for i in range(3):  # the next lines hit the closed pipe
        sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "custom_data": {"n": str(i)}})
    p.wait(timeout=15)
    assert p.returncode == 0
    assert p.stderr.read() == ""


@pytest.mark.parametrize("transport", ["socket", "poll"])
def test_ndjson_parses_line_by_line(sandbox, cli, transport):
    tag = uuid.uuid4().hex
    sid = new_session(sandbox, tag)
    p = cli("sessions", "watch", "--filter", f"tag={tag}", "--ndjson", "--count", "2", "--transport", transport,
            "--interval", "0.3s", "--timeout", "20s")
    first = json.loads(p.stdout.readline())  # available before the watch ends: flushed per line
    assert first["type"] == "added" and first["resource"]["id"] == sid
    sandbox.api("PUT", f"/api/1/sessions/{sid}", json={"id": sid, "custom_data": {"ticket": "T-9"}})
    assert json.loads(p.stdout.readline())["changed"] == [{"field": "custom_data.ticket", "old": None, "new": "T-9"}]
    sandbox.control("POST", f"/_sandbox/sessions/{sid}/end")
    out, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    last = json.loads(out)
    assert set(last) == {"type", "at", "resource", "changed"} and last["type"] == "ended"


@pytest.mark.parametrize("args, message", [
    (["sessions", "watch", "--until", "state"], "invalid --until 'state'"),
    (["sessions", "watch", "--transport", "carrier-pigeon"], "invalid --transport"),
    (["sessions", "watch", "--interval", "0.01s"], "must be at least 0.2s"),
    (["sessions", "watch", "--timeout", "soon"], "invalid --timeout"),
    (["devices", "watch", "--transport", "poll", "--until", "online=true"], "needs the socket transport"),
    (["sessions", "watch", "--fields", "id"], "--fields needs --ndjson"),
])
def test_usage_errors_exit_2(cli, args, message):
    p = cli(*args)
    out, err = p.communicate(timeout=15)
    assert p.returncode == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_unknown_id_exits_4(cli):
    p = cli("sessions", "watch", "no-such-session")
    out, err = p.communicate(timeout=15)
    assert p.returncode == 4 and "no-such-session" in err
