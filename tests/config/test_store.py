"""The config file: private modes, atomic replacement, and never clobbering a file that does not parse."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cobrowse_cli.config import store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_creates_private_dir_and_file(tmp_path: Path):
    path = tmp_path / "new" / "dir" / "config.toml"
    old_umask = os.umask(0)  # even a permissive umask must not widen the modes
    try:
        store.save(path, {"profiles": {"default": {"token": "secret"}}})
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert store.load(path) == {"profiles": {"default": {"token": "secret"}}}


def test_crash_during_replace_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "config.toml"
    store.save(path, {"default_profile": "old"})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(store.ConfigError, match="simulated crash"):  # one line naming the file
        store.save(path, {"default_profile": "new"})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_write_is_fsynced_before_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    store.save(tmp_path / "config.toml", {"default_profile": "x"})
    assert events == ["fsync", "replace", "fsync"]  # file data, rename, then the directory entry


def test_parse_error_names_file_line_and_column(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[profiles.default]\napi = "https://x"\ntoken = oops\n')
    with pytest.raises(store.ConfigError) as info:
        store.load(path)
    message = str(info.value)
    assert str(path) in message and "line 3" in message and "column" in message
    assert info.value.exit_code == 2
    assert "\n" not in message


def test_save_refuses_to_overwrite_a_file_that_does_not_parse(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("not = [valid\n")
    with pytest.raises(store.ConfigError):
        store.save(path, {"default_profile": "x"})
    assert path.read_text() == "not = [valid\n"


def test_wrong_shape_is_reported(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('profiles = "nope"\n')
    with pytest.raises(store.ConfigError, match="profiles"):
        store.load(path)


def test_missing_file_is_empty(tmp_path: Path):
    assert store.load(tmp_path / "none.toml") == {}
