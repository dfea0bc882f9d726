"""Issue 13, local files: concurrent edits keep every value, a symlinked config stays a link, odd
files are refused in one line, and every directory we create is private whatever the umask."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from cobrowse_cli.config import store
from tests.helpers import COBROWSE, assert_one_line_error, isolated_env, run_in_process


def test_twenty_concurrent_config_sets_keep_all_twenty(tmp_path):
    env = isolated_env(tmp_path)
    start = [subprocess.Popen([COBROWSE, "--profile", f"p{i}", "config", "set", "license_key", f"lic-{i}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda p: p.wait(timeout=60), start))
    for proc in start:
        proc.stdout.close()
        proc.stderr.close()
    assert codes == [0] * 20
    profiles = tomllib.loads((tmp_path / "config.toml").read_text())["profiles"]
    assert {name: p["license_key"] for name, p in profiles.items()} == {f"p{i}": f"lic-{i}" for i in range(20)}


def test_a_symlinked_config_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "dotfiles" / "cobrowse.toml"
    real.parent.mkdir()
    real.write_text('[profiles.default]\nname = "Jo"\n')
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    assert run_in_process(isolated_env(tmp_path), "config", "set", "sub", "jo@example.com").code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert tomllib.loads(real.read_text())["profiles"]["default"] == {"name": "Jo", "sub": "jo@example.com"}


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory", "huge"])
def test_anything_but_a_small_regular_file_is_refused_in_one_line(tmp_path, kind):
    path = tmp_path / "config.toml"
    if kind == "fifo":
        os.mkfifo(path)  # before: `config list` hung forever
    elif kind == "dev_zero":
        path = "/dev/zero"  # before: memory grew without end
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"# " + b"x" * (store.MAX_SIZE + 10) + b"\n")
    env = isolated_env(tmp_path, COBROWSE_CONFIG=str(path))
    needle = "larger than" if kind == "huge" else ("not a regular file" if kind != "directory" else str(path))
    assert_one_line_error(run_in_process(env, "config", "list", timeout=20), 2, needle)


def test_every_directory_created_is_0700_even_under_umask_000(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "config.toml"
    env = isolated_env(tmp_path, COBROWSE_CONFIG=str(target))
    proc = subprocess.run([COBROWSE, "config", "set", "sub", "x"], env=env, capture_output=True, text=True,
                          preexec_fn=lambda: os.umask(0), timeout=60)
    assert proc.returncode == 0, proc.stderr
    for directory in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    code, _, err = run_in_process(isolated_env(tmp_path / "home", COBROWSE_CONFIG=str(tmp_path / "config.toml")),
                                  "config", "set", "sub", "x")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"cannot write {tmp_path / 'config.toml'}: No space left on device" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no half-written temp left
