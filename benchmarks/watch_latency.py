"""Latency from a change in the sandbox to the printed watch line: socket vs poll.

Starts `cobrowse sandbox serve` in its own process (so the server does not share our GIL), watches one
session with each transport (the command's own run_watch, output to an in-memory stream), then N
times: PUT a custom_data change through the REST API (as another agent would) and time until the
line for it is written. Changes are spaced by a random pause (up to one interval) so they land at random points of
the poll cycle.

    .venv/bin/python benchmarks/watch_latency.py [--changes 20] [--interval 2s]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


class TimedLines(io.TextIOBase):
    def __init__(self):
        self.cond = threading.Condition()
        self.lines: list[tuple[float, str]] = []
        self.buf = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        now = time.perf_counter()
        with self.cond:
            self.buf += text
            *done, self.buf = self.buf.split("\n")
            self.lines += [(now, line) for line in done]
            self.cond.notify_all()
        return len(text)

    def wait_for(self, needle: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, line in self.lines:
                    if needle in line:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no line with {needle!r}")
                self.cond.wait(left)


def start_sandbox(state_dir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cobrowse_cli", "sandbox", "serve", "--port", "0", "--state-dir", str(state_dir),
         "--sessions", "200", "--active", "20", "--devices", "10", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("Sandbox listening on "):
        proc.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
    return proc, line.split("Sandbox listening on ", 1)[1].strip()


def call(url: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data, method=method, headers=headers)) as res:
        return json.loads(res.read() or b"null")


def measure(url: str, token: str, transport: str, interval: str, changes: int) -> list[float]:
    from cobrowse_cli.client import Client
    from cobrowse_cli.commands._context import Context
    from cobrowse_cli.commands.watch import WatchOptions, parse_interval, run_watch

    tag = f"bench-{transport}-{random.randrange(1 << 30)}"
    sid = call(url, "POST", "/_sandbox/sessions", {"count": 1, "state": "active", "agent": "agent@sandbox.test",
                                                   "custom_data": {"tag": tag}})["ids"][0]
    out = TimedLines()
    env = Context(stdout=out, stderr=io.StringIO())
    env._client = Client(api=url, token=token)
    opts = WatchOptions("session", filters=[f"tag={tag}"], transport=transport, interval=interval,
                        until=["custom_data.stop=yes"], timeout="10m")
    thread = threading.Thread(target=run_watch, args=(opts, env), daemon=True)
    thread.start()
    out.wait_for(sid)
    time.sleep(1.0)  # let the socket open and subscribe
    latencies = []
    for i in range(changes):
        # A line is printed just after a poll, so pause a random part of the interval: changes then
        # land anywhere in the poll cycle (expected poll latency ≈ interval / 2 + one list).
        time.sleep(random.uniform(0.05, parse_interval(interval)))
        started = time.perf_counter()
        call(url, "PUT", f"/api/1/sessions/{sid}", {"id": sid, "custom_data": {"n": f"v{i}"}}, token)
        latencies.append(out.wait_for(f"→ v{i}") - started)
    call(url, "PUT", f"/api/1/sessions/{sid}", {"id": sid, "custom_data": {"stop": "yes"}}, token)
    thread.join(30)
    env._client.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--interval", default="2s", help="poll/re-list interval (the watch default is 2s)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cobrowse_cli.sandbox.auth import load_keys, mint_token

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(Path(tmp))
        try:
            token = mint_token(load_keys(Path(tmp)), sub="agent@sandbox.test", ttl=3600)
            results = {t: measure(url, token, t, args.interval, args.changes) for t in ("socket", "poll")}
        finally:
            proc.terminate()
            proc.wait(10)

    print(f"change → printed line, {args.changes} changes each, --interval {args.interval}")
    print(f"{'transport':<10} {'median ms':>10} {'p90 ms':>9} {'max ms':>9}")
    for name, values in results.items():
        ms = sorted(v * 1000 for v in values)
        p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
        print(f"{name:<10} {statistics.median(ms):>10.1f} {p90:>9.1f} {ms[-1]:>9.1f}")
    ratio = statistics.median(results["poll"]) / statistics.median(results["socket"])
    print(f"poll / socket median ratio: {ratio:.0f}x")


if __name__ == "__main__":
    main()
