"""A download's hidden temp files, `.ID~video.XXXXXXXX.part` and `.ID~events.XXXXXXXX.part`, and the
removal of the ones a killed run left behind.

The writing process holds a flock on its temp file from creation until after the rename into place;
the kernel drops it when the process dies, however it dies (`kill -9`). A run removes, for each id it
handles, the temp files of that id that were there when it started and that no live process holds:
never a name that is not exactly one of ours, a link, or a file a concurrent run is still writing.
`~` cannot occur in an id we write (recordings.py checks ids against a file-name pattern without it),
so the id in a temp file's name is unambiguous. Without fcntl (not POSIX) nothing is ever removed.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

KINDS = ("video", "events")
# tempfile's random part: 8 of [a-z0-9_]
_NAME = re.compile(r"^\.(?P<id>[A-Za-z0-9_.-]+)~(?:video|events)\.[a-z0-9_]{8}\.part$")


def create(directory: Path, session_id: str, kind: str) -> tuple[BinaryIO, str]:
    """A new temp file for `kind` of `session_id`, open for writing and locked until it is closed: rename
    it into place before closing it."""
    fd, path = tempfile.mkstemp(dir=directory, prefix=f".{session_id}~{kind}.", suffix=".part")
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a name just made: nobody else holds it
        except OSError:
            pass  # a file system without flock: a cleaner cannot lock it either, so it never removes it
    return os.fdopen(fd, "wb"), path


class Stale:
    """The temp files in `directory` when a run starts, by session id; `remove(id)` deletes that id's
    unlocked ones (thread-safe; each name is tried once). `removed` counts what was deleted."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.removed = 0
        self._by_id: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        for name in names:
            match = _NAME.match(name)
            if match:
                self._by_id.setdefault(match["id"], []).append(name)

    def remove(self, session_id: str) -> int:
        with self._lock:
            names = self._by_id.pop(session_id, [])
        removed = sum(_remove_if_abandoned(self.directory / name) for name in names)
        with self._lock:
            self.removed += removed
        return removed


def _remove_if_abandoned(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # gone (renamed into place meanwhile), a link, or not ours to read
    try:
        seen = os.fstat(fd)
        if not stat.S_ISREG(seen.st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live process is writing it
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
            return False  # the name was reused since we opened it
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
