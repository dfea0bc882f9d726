"""One pty driver: run a command with a pseudo-terminal for stdout (and, by default, stdin and stderr),
answer its prompts, and return what the terminal showed.

- `tty_stdin=True` (default): stdin, stdout and stderr are one terminal, the controlling one (getpass
  and confirmation prompts read it). `answers` are typed in turn, each when the screen, stripped, ends
  with its prompt.
- `tty_stdin=False`: only stdout is the terminal; stdin is /dev/null and stderr a pipe (`Screen.err`),
  so no progress bar is drawn there.
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
from dataclasses import dataclass


@dataclass
class Screen:
    code: int
    out: str  # the terminal's text, \r\n turned into \n
    err: str = ""  # stderr, when it was a pipe


def run_on_pty(argv: list[str], env: dict[str, str], *, answers: list[tuple[str, str]] = (), tty_stdin: bool = True,
               width: int | None = None, timeout: float = 60) -> Screen:
    if tty_stdin:
        return _forked(argv, env, list(answers), width, timeout)
    return _stdout_only(argv, env, width, timeout)


def _set_width(fd: int, width: int | None) -> None:
    if width:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))


def _text(data: bytes) -> str:
    return data.decode(errors="replace").replace("\r\n", "\n")


def _forked(argv, env, pending, width, timeout) -> Screen:
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command, on its new controlling terminal
        os.execve(argv[0], argv, env)
    _set_width(fd, width)
    out, seen = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.2)[0]:
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
        os.close(fd)
    return Screen(os.waitstatus_to_exitcode(status), _text(out))


def _stdout_only(argv, env, width, timeout) -> Screen:
    leader, follower = pty.openpty()
    _set_width(follower, width)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE, env=env,
                            close_fds=True)
    os.close(follower)
    chunks: dict[int, list[bytes]] = {leader: [], proc.stderr.fileno(): []}
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
    err = b"".join(chunks[proc.stderr.fileno()])
    proc.stderr.close()
    return Screen(code, _text(b"".join(chunks[leader])), _text(err))
