"""One pty driver: run a command with a pseudo-terminal for stdout (and, by default, stdin and stderr),
answer its prompts, and return what the terminal showed.

- `tty="all"` (default): stdin, stdout and stderr are one terminal, the controlling one (getpass
  and confirmation prompts read it). `answers` are typed in turn, each when the screen, stripped, ends
  with its prompt. `ctrl_c_when(screen_bytes, seconds_elapsed)`, once every answer is typed, decides when
  to type Ctrl-C (the terminal then sends SIGINT, as for a person), or `key` instead (e.g. b"q").
  `Screen.raw` keeps the bytes as written; `Screen.modes` the terminal's local modes (ICANON, ECHO...)
  before the command started and after it ended, so a test can check it put the terminal back.
- `tty="stdout"`: only stdout is the terminal; stdin is /dev/null and stderr a pipe (`Screen.err`),
  so no progress bar is drawn there.
- `tty="stderr"`: only stderr is the terminal (`Screen.err`); stdout is a pipe (`Screen.out`).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Screen:
    code: int
    out: str  # stdout (the terminal's text unless tty="stderr"), \r\n turned into \n
    err: str = ""  # stderr, when it was not the one terminal
    raw: bytes = b""  # tty="all": every byte the terminal received, as written
    modes: tuple[int, int] = (0, 0)  # tty="all": termios local modes (lflag) before the command, and after it


def run_on_pty(argv: list[str], env: dict[str, str], *, answers: list[tuple[str, str]] = (), tty: str = "all",
               width: int | None = None, timeout: float = 60,
               ctrl_c_when: Callable[[bytes, float], bool] | None = None, key: bytes = b"\x03") -> Screen:
    if tty == "all":
        return _forked(argv, env, list(answers), width, timeout, ctrl_c_when, key)
    return _one_stream(argv, env, tty, width, timeout)


def _set_width(fd: int, width: int | None) -> None:
    if width:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))


def _text(data: bytes) -> str:
    return data.decode(errors="replace").replace("\r\n", "\n")


def _forked(argv, env, pending, width, timeout, ctrl_c_when, key) -> Screen:
    go_r, go_w = os.pipe()  # the child waits on it until the parent has read the terminal's modes
    pid, fd = pty.fork()
    if pid == 0:  # the child: size its terminal before the command can ask, then become the command
        _set_width(0, width)
        os.close(go_w)
        os.read(go_r, 1)
        os.close(go_r)
        os.execve(argv[0], argv, env)
    os.close(go_r)
    before = termios.tcgetattr(fd)[3]  # on Linux the leader side reads the follower's settings
    os.write(go_w, b"x")
    os.close(go_w)
    out, seen, interrupted = b"", 0, False
    started = time.monotonic()
    deadline = started + timeout
    try:
        while time.monotonic() < deadline:
            if ctrl_c_when and not pending and not interrupted and ctrl_c_when(out, time.monotonic() - started):
                os.write(fd, key)
                interrupted = True
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if pending and out[seen:].rstrip().endswith(pending[0][0].encode()):
                # getpass flushes typed-ahead input when it turns echo off: let it get there first
                time.sleep(0.3)
                os.write(fd, pending.pop(0)[1].encode() + b"\r")
                seen = len(out)
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        after = termios.tcgetattr(fd)[3]
        os.close(fd)
    return Screen(os.waitstatus_to_exitcode(status), _text(out), raw=out, modes=(before, after))


def _one_stream(argv, env, tty, width, timeout) -> Screen:
    leader, follower = pty.openpty()
    _set_width(follower, width)
    streams = {"stdout": follower, "stderr": subprocess.PIPE} if tty == "stdout" else {
        "stdout": subprocess.PIPE, "stderr": follower}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env, close_fds=True, **streams)
    os.close(follower)
    pipe = proc.stderr if tty == "stdout" else proc.stdout
    chunks: dict[int, list[bytes]] = {leader: [], pipe.fileno(): []}
    open_fds = set(chunks)
    deadline = time.monotonic() + timeout
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], max(0.0, deadline - time.monotonic()))
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the pty's other side closed
                data = b""
            if data:
                chunks[fd].append(data)
            else:
                open_fds.discard(fd)
    if open_fds:
        proc.kill()
    code = proc.wait(timeout=timeout)
    os.close(leader)
    piped, screen = _text(b"".join(chunks[pipe.fileno()])), _text(b"".join(chunks[leader]))
    pipe.close()
    return Screen(code, screen, piped) if tty == "stdout" else Screen(code, piped, screen)
