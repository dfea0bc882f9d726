"""A real SIGINT / SIGTERM / SIGHUP in the middle of downloads: no partial file under a final name, no temp
file left, every id reported (valid JSON), the signal's exit code."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.helpers import COBROWSE, isolated_env

SIZE = 4 * 1024 * 1024


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_mid_download_leaves_only_complete_files_and_reports_every_id(sandbox, home, tmp_path, sig, code):
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    ids = [s["id"] for s in sessions if s["recorded"]][:6]
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": SIZE, "chunk_delay_ms": 100})  # ~1.6 s per video
    out = tmp_path / "out"
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    proc = subprocess.Popen([COBROWSE, "recordings", "download", *ids, "--dir", str(out), "--concurrency", "2", "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (out.is_dir() and any(p.name.endswith(".part") for p in out.iterdir())):
        assert time.monotonic() < deadline and proc.poll() is None, "no download started"
        time.sleep(0.02)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"interrupted by {signal.Signals(sig).name}" in stderr.splitlines()[-1], stderr
    rows = json.loads(stdout)  # a whole JSON array: the stop is graceful
    assert sorted(r["id"] for r in rows) == sorted(ids)  # every id once
    assert {r["outcome"] for r in rows} <= {"downloaded", "failed", "skipped"} and any(r["outcome"] != "downloaded" for r in rows)
    names = [p.name for p in out.iterdir()]
    assert not [n for n in names if n.startswith(".")], names  # temp files removed
    for video in out.glob("*.mp4"):
        assert video.stat().st_size == SIZE  # anything under its final name is complete
