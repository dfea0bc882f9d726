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
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from cobrowse_cli.exitcodes import UsageError

DIR_MODE = 0o700
FILE_MODE = 0o600


class ConfigError(UsageError):
    """The config file cannot be read or has the wrong shape (exit 2)."""


def load(path: Path) -> dict[str, Any]:
    """The parsed file, or {} when it does not exist. Raises ConfigError naming the file and position."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 (byte {e.start}); fix or remove it") from None
    except tomllib.TOMLDecodeError as e:
        # tomllib's message already ends with "(at line L, column C)".
        raise ConfigError(f"config file {path} does not parse: {e}; fix or remove it") from None
    _check_shape(path, data)
    return data


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
    write_private_file(path, tomli_w.dumps(data))
    _fsync_dir(path.parent)  # the rename itself survives a crash


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
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _ensure_private_dir(directory: Path) -> None:
    # Only directories we create get 0700; an existing one (e.g. ~/.config) is left as the user set it.
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
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
