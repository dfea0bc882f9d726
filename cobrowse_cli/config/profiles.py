"""Profile operations on the loaded config data (a dict); the caller loads and saves the file.

Each raises UsageError naming the known profiles when a name is wrong, and keeps `default_profile`
pointing at a profile that exists.
"""

from __future__ import annotations

from typing import Any

from cobrowse_cli.config import keys, store
from cobrowse_cli.exitcodes import UsageError


def _require(data: dict[str, Any], name: str) -> dict[str, Any]:
    from cobrowse_cli.choices import unknown

    known = store.profiles(data)
    if name not in known:
        if not known:
            raise UsageError(f"no profile named {name!r}: there are none yet (run `cobrowse auth login`)")
        raise unknown("profile", name, sorted(known))
    return known[name]


def use(data: dict[str, Any], name: str) -> None:
    _require(data, name)
    data["default_profile"] = name


def rename(data: dict[str, Any], old: str, new: str) -> None:
    keys.check_profile_name(new)
    profile = _require(data, old)
    if new in store.profiles(data):
        raise UsageError(f"a profile named {new!r} exists already; delete it first or pick another name")
    profiles = data["profiles"]
    data["profiles"] = {(new if k == old else k): v for k, v in profiles.items()}  # keeps the file's order
    data["profiles"][new] = profile
    if data.get("default_profile") == old:
        data["default_profile"] = new


def delete(data: dict[str, Any], name: str) -> None:
    _require(data, name)
    del data["profiles"][name]
    if not data["profiles"]:
        del data["profiles"]
    if data.get("default_profile") == name:
        del data["default_profile"]  # the next run falls back to "default" rather than a missing name


def drop_if_empty(data: dict[str, Any], name: str) -> bool:
    """After an unset: an empty [profiles.NAME] table is removed (it would only confuse `config profiles`)."""
    profiles = data.get("profiles")
    if isinstance(profiles, dict) and profiles.get(name) == {}:
        delete(data, name)
        return True
    return False
