"""`cobrowse top` in a real terminal (tmux): it draws, follows sandbox changes (socket and poll),
survives resizes and hostile custom_data, and leaves on `q` / Ctrl-C with the terminal restored."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from tests.helpers import COBROWSE, isolated_env

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    def __init__(self, tmp_path, env: dict, *args: str, width: int = 80, height: int = 24):
        self.name = f"cbtop-{uuid.uuid4().hex[:12]}"  # own server per test: parallel-safe
        script = tmp_path / "top.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        # After top: the exit code, and whether the terminal is back in canonical mode with echo.
        script.write_text(f"{exports}{shlex.join([COBROWSE, 'top', *args])}\necho EXIT=$?\n"
                          "stty -a | tr ' ' '\\n' | grep -x -e -icanon -e -echo -e icanon -e echo | tr '\\n' ' '\n"
                          "echo; sleep 600\n")
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), f"bash {shlex.quote(str(script))}")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out; screen:\n{screen}"
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-x", str(width), "-y", str(height))

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


@pytest.fixture
def top(sandbox, home, tmp_path):
    started = []

    def start(*args: str, **size) -> Tmux:
        env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token(), TERM="xterm-256color")
        env = {k: v for k, v in env.items() if k in ("PATH", "HOME", "TERM", "NO_COLOR", "LANG", "LC_ALL")
               or k.startswith(("COBROWSE_", "XDG_"))}
        started.append(Tmux(tmp_path, env, *args, **size))
        return started[-1]

    yield start
    for t in started:
        t.close()


def totals(screen: str) -> dict:
    return {state: int(n.replace(",", "")) for state, n in re.findall(r"(active|pending|authorizing) ([\d,]+)", screen)}


def test_refuses_when_stdout_is_not_a_terminal(cli, one_line_error):
    one_line_error(cli("top"), 2, "count-active --watch")


@needs_tmux
def test_draws_updates_resizes_shows_hostile_data_literally_and_quits_on_q(top, sandbox):
    t = top("--interval", "1s", "--by", "custom_data.plan", "--columns", "custom_data.region")
    screen = t.wait_for(lambda s: totals(s).get("active") == 20)
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "cobrowse top" in lines[0] and "poll every 1s" in lines[0]
    assert "Active by plan" in screen and "Waiting" in screen and "Longest-running active" in screen
    assert "REGION" in screen

    # New sessions appear at the next listing; customer data is shown as text, never interpreted.
    sandbox.control("POST", "/_sandbox/sessions", {"count": 5, "state": "active", "custom_data": {"plan": "[/oops]"}})
    sandbox.control("POST", "/_sandbox/sessions", {"count": 3, "state": "active", "custom_data": {"plan": "\x1b[2J\x1b]0;pwn\x07"}})
    screen = t.wait_for(lambda s: totals(s).get("active") == 28)
    assert "[/oops]" in screen
    assert "\\x1b[2J\\x1b]0;pwn" in screen  # escaped (the cell may cut the tail with an ellipsis) ...
    assert "cobrowse top" in screen.splitlines()[0]  # ... so the screen was not cleared
    assert "pwn" not in t.tmux("display-message", "-p", "#{pane_title}")  # ... nor the window title set

    t.resize(120, 40)
    screen = t.wait_for(lambda s: len(s.splitlines()) > 24 and totals(s).get("active") == 28)
    assert all(len(line) <= 120 for line in screen.splitlines())
    t.resize(60, 15)
    screen = t.wait_for(lambda s: len(s.rstrip("\n").splitlines()) <= 15 and "cobrowse top" in s)
    assert all(len(line) <= 60 for line in screen.splitlines())

    t.keys("q")
    screen = t.wait_for(lambda s: "EXIT=" in s and "icanon" in s)
    assert "EXIT=0" in screen
    assert re.search(r"(?<!-)icanon (?<!-)echo", screen), screen  # the terminal is restored
    assert "cobrowse top" not in screen  # the alternate screen is gone
    assert "Traceback" not in screen


@needs_tmux
def test_socket_delivers_changes_to_listed_sessions_between_polls(top, sandbox):
    t = top("--interval", "10m")  # no re-list during the test: only the socket can bring the change
    screen = t.wait_for(lambda s: totals(s).get("active") == 20 and "socket" in s.splitlines()[0])
    waiting = totals(screen)["pending"] + totals(screen).get("authorizing", 0)
    listed = re.findall(r"\b([A-Za-z0-9]{20})\s+(?:pending|authorizing)\b", screen)
    assert listed
    time.sleep(0.5)  # let the subscriptions reach the server
    sandbox.control("POST", f"/_sandbox/sessions/{listed[0]}/activate")
    screen = t.wait_for(lambda s: totals(s).get("active") == 21, timeout=10)
    assert totals(screen)["pending"] + totals(screen).get("authorizing", 0) == waiting - 1
    assert listed[0] not in re.findall(r"\b([A-Za-z0-9]{20})\s+(?:pending|authorizing)\b", screen)


@needs_tmux
def test_ctrl_c_quits_cleanly(top):
    t = top("--interval", "1s")
    t.wait_for(lambda s: "cobrowse top" in s and totals(s).get("active") == 20)
    t.keys("C-c")
    screen = t.wait_for(lambda s: "EXIT=" in s and "icanon" in s)
    assert "EXIT=0" in screen and re.search(r"(?<!-)icanon (?<!-)echo", screen)


def test_in_a_bare_pty_it_draws_and_leaves_the_alternate_screen_on_q(sandbox, home):
    """The same without tmux: the raw bytes top writes, from start to a clean exit."""
    from tests.support.pty import run_on_pty

    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token(), TERM="xterm-256color")
    screen = run_on_pty([COBROWSE, "top", "--interval", "1s"], env, width=80, timeout=30, key=b"q",
                        ctrl_c_when=lambda out, _: b"active 20" in out)
    out = screen.raw
    assert screen.code == 0, out[-2000:]
    assert b"\x1b[?1049h" in out and b"\x1b[?1049l" in out[-64:]  # entered, and left at the very end
    assert b"Traceback" not in out
    before, after = screen.modes
    assert after == before  # local modes (ICANON, ECHO) as they were
