"""The TOML config file: read with tomllib, written atomically with tomli-w, never readable by others.

Layout:
    default_profile = "default"
    [profiles.default]
    api = "https://cobrowse.io"
    license_key = "..."
    token = "eyJ..."              # a static token, or instead:
    private_key = "/path/key.pem" # a path to a PEM (never the key itself) plus claims for minting
    sub = "agent@example.com"
    name = "Agent Smith"
    role = "administrator"
    token_ttl = 3600

A file that does not parse is never overwritten: the user's hand edits are worth more than our write.
Changes go through transaction(): load, modify and save under an exclusive lock (fcntl), so concurrent
`config set` runs lose nothing. A symlinked config file is written through to its target (the link
stays); anything but a regular file (a FIFO, /dev/zero) or a file over MAX_SIZE is refused. Every
OSError becomes one ConfigError line naming the path.
"""

from __future__ import annotations

import copy
import os
import stat
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cobrowse_cli.exitcodes import UsageError

DIR_MODE = 0o700
FILE_MODE = 0o600
MAX_SIZE = 1024 * 1024  # a config of many profiles is a few KB


class ConfigError(UsageError):
    """The config file cannot be read or has the wrong shape (exit 2)."""


def load(path: Path) -> dict[str, Any]:
    """The parsed file, or {} when it does not exist. Raises ConfigError naming the file and position."""
    raw = _read_regular(path)
    if raw is None:
        return {}
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 (byte {e.start}); fix or remove it") from None
    except tomllib.TOMLDecodeError as e:
        # tomllib's message already ends with "(at line L, column C)".
        raise ConfigError(f"config file {path} does not parse: {e}; fix or remove it") from None
    _check_shape(path, data)
    return data


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file of at most MAX_SIZE; None when it does not exist."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; we refuse it right after.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"config file {path} is not a regular file; point COBROWSE_CONFIG at a file")
        if info.st_size > MAX_SIZE:
            raise ConfigError(f"config file {path} is larger than {MAX_SIZE // 1024} KB; is it the right file?")
        raw = os.read(fd, MAX_SIZE + 1)
        if len(raw) > MAX_SIZE:
            raise ConfigError(f"config file {path} is larger than {MAX_SIZE // 1024} KB; is it the right file?")
        return raw
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)


@contextmanager
def transaction(path: Path) -> Iterator[dict[str, Any]]:
    """`with transaction(path) as data: data[...] = ...`: loaded, changed and saved (only if changed)
    while holding an exclusive lock, so two processes editing different profiles keep both edits."""
    with _locked(path):
        data = load(path)
        before = copy.deepcopy(data)
        yield data
        if data != before:
            save(path, data)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A lock file beside the target: the config file itself is replaced by rename, so a lock on it
    # would protect an inode that is about to disappear.
    import fcntl

    target = _write_target(path)
    _ensure_private_dir(target.parent)
    lock_path = target.parent / f".{target.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    except OSError as e:
        raise ConfigError(f"cannot lock config file {path} ({lock_path}): {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_target(path: Path) -> Path:
    """Where a write really goes: through a symlink to its target, so the link the user made stays."""
    try:
        return Path(os.path.realpath(path)) if path.is_symlink() else path
    except OSError as e:
        raise ConfigError(f"cannot resolve config file {path}: {e.strerror or e}") from None


def _check_shape(path: Path, data: dict[str, Any]) -> None:
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(f"config file {path}: 'profiles' must be a table of [profiles.<name>] tables")
    default = data.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"config file {path}: 'default_profile' must be a string")


def save(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically; the temp file is created 0600 so a secret is never briefly world-readable."""
    import tomli_w

    load(path)  # refuses (ConfigError) when the existing file does not parse: never clobber hand edits
    target = _write_target(path)
    write_private_file(target, tomli_w.dumps(data))
    _fsync_dir(target.parent)  # the rename itself survives a crash


def write_private_file(path: Path, text: str) -> None:
    """Atomic 0600 write of a small file (the token cache uses it too)."""
    _ensure_private_dir(path.parent)
    fd, tmp_name = _create_private_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except OSError as e:  # ENOSPC, EDQUOT, EROFS, EISDIR...: one line, the half-written temp removed
        _remove_quietly(tmp_name)
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _ensure_private_dir(directory: Path) -> None:
    # Every directory we create gets 0700, parents included (mkdir(parents=True) would make those
    # 0777 & ~umask: world-writable under umask 000); an existing one is left as the user set it.
    missing = []
    for parent in [directory, *directory.parents]:
        if parent.exists():
            break
        missing.append(parent)
    try:
        for parent in reversed(missing):
            try:
                parent.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue  # another process made it first
            os.chmod(parent, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened: be exact
        if not directory.is_dir():
            raise NotADirectoryError(20, "Not a directory")
    except OSError as e:
        raise ConfigError(f"cannot create config directory {directory}: {e.strerror or e}") from None


def _create_private_temp(directory: Path, name: str) -> tuple[int, str]:
    # mkstemp creates with O_EXCL and mode 0600 (documented); the umask can only narrow it further.
    try:
        return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ConfigError(f"cannot write in {directory}: {e.strerror or e}") from None


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (e.g. Windows), hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def profiles(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return data.get("profiles", {})
