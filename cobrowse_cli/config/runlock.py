"""An advisory per-profile run lock (fcntl.flock; POSIX only), so two overlapping cron runs of a
destructive command do not work on the same sessions at once.

The lock file lives in the user *state* dir, keyed by command, profile and API URL (two accounts or two
profiles never block each other). The kernel drops a flock when its holder dies, however it dies: a
SIGKILLed run never leaves a stale lock behind. The file's text (pid, start time) is only for the message.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from cobrowse_cli.config.paths import state_dir


class LockHeld(Exception):
    """Another run holds the lock; `holder` is what it wrote there (pid and start time), maybe empty."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path}: held by {holder or 'another process'}")
        self.path, self.holder = path, holder


def lock_path(command: str, profile: str | None, api: str) -> Path:
    key = hashlib.sha256(f"{profile or 'default'}\n{api.rstrip('/')}".encode()).hexdigest()[:16]
    return state_dir() / "locks" / f"{command}-{key}.lock"


class RunLock:
    """`with RunLock(path, wait_s=0): ...` raises LockHeld when another process holds it past `wait_s`."""

    def __init__(self, path: Path, *, wait_s: float = 0.0, started: str = "",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.path, self.wait_s, self.started = path, wait_s, started
        self.sleep, self.clock = sleep, clock
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = self.clock() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self.clock() >= deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise LockHeld(self.path, holder) from None
                self.sleep(min(0.2, max(0.0, deadline - self.clock())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {self.started}".strip().encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
