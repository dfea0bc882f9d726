"""`kill -9` mid-download leaves hidden temp files; the next run removes its own stale ones for the ids
it handles, and nothing else in the directory (another id's, a live run's, look-alikes, links)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.helpers import COBROWSE, isolated_env

SIZE = 1024 * 1024
HOLD = ("import fcntl, sys; f = open(sys.argv[1], 'ab'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); sys.stdin.read()")


def _parts(directory, session_id):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{session_id}~") and p.name.endswith(".part"))


def test_a_rerun_removes_the_temp_files_a_killed_run_left_and_nothing_else(sandbox, home, cli_in_process, tmp_path):
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    a, b, other = [s["id"] for s in sessions if s["recorded"]][:3]
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": SIZE, "chunk_delay_ms": 100})  # ~1.6 s per video
    out = tmp_path / "out"
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    proc = subprocess.Popen([COBROWSE, "recordings", "download", a, b, "--dir", str(out), "--concurrency", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (out.is_dir() and _parts(out, a) and _parts(out, b)):
        assert time.monotonic() < deadline and proc.poll() is None, "the downloads did not start"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stale = _parts(out, a) + _parts(out, b)
    assert stale and not list(out.glob("*.mp4"))  # what kill -9 leaves: temp files only

    # What must survive the re-run: another id's stale file, a live writer's file for a handled id,
    # look-alike names, and a link shaped like ours (neither it nor its target is touched).
    keep = {f".{other}~video.abcdefgh.part": b"x", f".{a}~video.part": b"x", f".{a}.qqqqqqqq.part": b"x",
            f"{a}.notes": b"x", f".{a}~events.abcdefgh.part.bak": b"x"}
    for name, data in keep.items():
        (out / name).write_bytes(data)
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(b"precious")
    (out / f".{b}~video.linklink.part").symlink_to(target)
    live = out / f".{a}~video.livelive.part"
    live.write_bytes(b"")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(live)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        sandbox.control("POST", "/_sandbox/media", {"chunk_delay_ms": 0})
        rerun = cli_in_process("recordings", "download", a, b, "--dir", str(out), "--ndjson")
        assert live.exists()  # checked while its writer is alive
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)

    assert rerun.code == 0, rerun.err
    assert f"removed {len(stale)} temp file(s) an interrupted run left in {out}" in rerun.err
    names = set(os.listdir(out))
    assert not names & set(stale)
    assert set(keep) | {f".{b}~video.linklink.part", live.name} <= names
    assert target.read_bytes() == b"precious" and all((out / n).read_bytes() == d for n, d in keep.items())
    for sid in (a, b):
        assert (out / f"{sid}.mp4").stat().st_size == SIZE and (out / f"{sid}.events.json").is_file()


def test_only_names_exactly_of_a_handled_id_are_removed(tmp_path):
    from cobrowse_cli.client.partfiles import Stale

    ours = [".abc~video.abcdefgh.part", ".abc~events.k2_9zzzz.part"]
    others = [".abc.x~video.abcdefgh.part", ".xabc~video.abcdefgh.part", ".abc~video.ABCDEFGH.part",
              ".abc~audio.abcdefgh.part", ".abc~video.abcdefg.part", "abc~video.abcdefgh.part", ".abc~video.abcdefgh.part2"]
    for name in ours + others:
        (tmp_path / name).write_bytes(b"x")
    stale = Stale(tmp_path)
    assert stale.remove("abc") == 2 and stale.remove("abc") == 0  # each name is tried once
    assert sorted(os.listdir(tmp_path)) == sorted(others)
    assert stale.removed == 2
