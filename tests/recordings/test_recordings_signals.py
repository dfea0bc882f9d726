"""Ctrl-C (a real SIGINT) in the middle of downloads: no partial file under a final name, no temp file left."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.helpers import COBROWSE, isolated_env

SIZE = 4 * 1024 * 1024


def test_sigint_mid_download_leaves_only_complete_files(sandbox, home, tmp_path):
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    ids = [s["id"] for s in sessions if s["recorded"]][:4]
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": SIZE, "chunk_delay_ms": 100})  # ~1.6 s per video
    out = tmp_path / "out"
    env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    proc = subprocess.Popen([COBROWSE, "recordings", "download", *ids, "--dir", str(out), "--concurrency", "2", "--ndjson"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (out.is_dir() and any(p.name.endswith(".part") for p in out.iterdir())):
        assert time.monotonic() < deadline and proc.poll() is None, "no download started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr  # (Typer turns Ctrl-C into a silent exit 130 for every command)
    names = [p.name for p in out.iterdir()]
    assert not [n for n in names if n.startswith(".")], names  # temp files removed
    for video in out.glob("*.mp4"):
        assert video.stat().st_size == SIZE  # anything under its final name is complete
