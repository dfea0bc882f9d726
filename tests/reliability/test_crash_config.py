"""Crash safety of `cobrowse config set`: SIGKILL at random points never leaves a broken or half-new file.

A 200 kB value widens the write window so the random kills land before, during and after the temp-file
write and the rename. After every kill the file must parse and hold exactly the old or the new value, keep
its other keys, stay 0600, and the next `config` run must not trip on leftovers. The kills run in a few
independent lanes (one config file each) so the test's wall time is not all sleeping.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.cli import COBROWSE, isolated_env, run_in_process

LANES = 3
KILLS_PER_LANE = 6  # 18 kills in all, spread over the whole run (stratified), so they surely straddle it
VALUE_SIZE = 200_000
EXTRA_KILLS = 12  # at most, per lane, when the load changed under the timed run (see _kill_lane)
OTHER_TOKEN = "static-token-kept-across-writes"


def _values(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))["profiles"]["default"]


def _timed_set(env: dict, value: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([COBROWSE, "config", "set", "name", "-"], input=value, capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - started


def _start_lane(home: Path) -> None:
    """A config with another key to keep (in-process: what is killed is the lane's processes)."""
    home.mkdir()
    assert run_in_process(isolated_env(home), "config", "set", "token", OTHER_TOKEN).code == 0


def _kill_lane(home: Path, seed: int) -> dict:
    """Set `name` to alternating large values, SIGKILL each run at a random moment, check the file each time."""
    env = isolated_env(home)
    path = home / "config.toml"
    rng = random.Random(seed)
    values = {"a": "a" * VALUE_SIZE, "b": "b" * VALUE_SIZE}
    # One uninterrupted set, under today's load; alternating values, so both runs write (an unchanged
    # value is not written at all).
    full = max(_timed_set(env, values[v]) for v in ("b", "a"))
    current = "a"
    outcomes = {"old": 0, "new": 0}

    def kill_at(at: float) -> None:
        nonlocal current
        new = "b" if current == "a" else "a"
        proc = subprocess.Popen([COBROWSE, "config", "set", "name", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        started = time.monotonic()
        proc.stdin.write(values[new].encode())  # returns once the CLI has read most of it
        proc.stdin.close()
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        proc.kill()
        proc.wait()
        conf = _values(path)  # raises if the file does not parse
        assert conf["name"] in (values[current], values[new]), "a half-written value"
        assert conf["token"] == OTHER_TOKEN
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        if conf["name"] == values[new]:
            outcomes["new"] += 1
            current = new
        else:
            outcomes["old"] += 1

    # kill k lands in the k-th slice of [0, 1.3 x an uninterrupted run]: early ones before the write,
    # late ones after the rename, the middle ones anywhere in between
    for kill in range(KILLS_PER_LANE):
        kill_at(full * 1.3 * (kill + rng.random()) / KILLS_PER_LANE)
    # A load that changed since the timed run can leave one side unseen: later kills (the machine slowed
    # down) or an immediate one (it sped up) until both sides are, so the straddle check tests the file,
    # not the scheduler.
    later = full * 1.3
    for _ in range(EXTRA_KILLS):
        if outcomes["new"] == 0:
            later *= 1.5
            kill_at(later)
        elif outcomes["old"] == 0:
            kill_at(0.0)
        else:
            break
    return outcomes


@pytest.mark.slow
def test_sigkill_mid_config_set_leaves_old_or_new_value(tmp_path):
    for i in range(LANES):
        _start_lane(tmp_path / f"lane{i}")
    with ThreadPoolExecutor(LANES) as pool:
        lanes = list(pool.map(_kill_lane, [tmp_path / f"lane{i}" for i in range(LANES)], range(LANES)))
    totals = {k: sum(lane[k] for lane in lanes) for k in ("old", "new")}
    print(f"{sum(totals.values())} kills: {totals}")
    assert totals["old"] > 0 and totals["new"] > 0, f"the kills did not straddle the write: {totals}"

    for i in range(LANES):
        home = tmp_path / f"lane{i}"
        env = isolated_env(home)
        # Temp files a SIGKILL left behind are private and never read back as the config.
        # (.config.toml.lock is the empty file `config set` locks; it holds nothing.)
        leftovers = [p for p in home.iterdir() if p.name not in ("config.toml", ".config.toml.lock")]
        for p in leftovers:
            assert p.name.startswith(".config.toml.") and p.name.endswith(".tmp"), p.name
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p.name
        if leftovers:
            print(f"lane {i}: {len(leftovers)} temp file(s) left behind")
        # The next run (in-process: no kill is involved any more) finds the file as left.
        assert run_in_process(env, "config", "set", "name", "after-the-crashes").code == 0
        got = run_in_process(env, "config", "get", "name")
        assert (got.code, got.out) == (0, "after-the-crashes\n")
        assert _values(home / "config.toml")["token"] == OTHER_TOKEN
        assert stat.S_IMODE(os.stat(home / "config.toml").st_mode) == 0o600
        listed = run_in_process(env, "config", "list")
        assert listed.code == 0 and OTHER_TOKEN not in listed.out  # the token stays masked
