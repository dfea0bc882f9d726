"""Monitoring: `cobrowse top` (socket change -> screen latency, CPU at 1,500 active) and `cobrowse exporter`
(API requests per hour at the default interval, scrape latency at two account sizes).

`top` runs in a real pseudo-terminal (80x24) whose output is read and time-stamped here; its CPU is the
kernel's accounting of that one process (/proc/PID/stat), so the sandbox never counts towards it.

    .venv/bin/python benchmarks/bench_monitoring.py [--quick]
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import re
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_harness import Row, Sandbox, cobrowse_exe, median, progress, verdict  # noqa: E402

SECTION = "monitoring"
DEFAULT_INTERVAL_S = 30  # cobrowse exporter's default --interval


class PtyProcess:
    """A command on the slave side of a pty; everything it draws is kept with arrival times."""

    def __init__(self, argv: list[str], env: dict, cols: int = 80, rows: int = 24):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.master = master
        self.cond = threading.Condition()
        self.chunks: list[tuple[float, str]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.cond:
                self.chunks.append((time.perf_counter(), data.decode(errors="replace")))
                self.cond.notify_all()

    def wait_for(self, pattern: str, after: float, timeout: float = 30.0) -> float:
        """Arrival time of the first output after `after` that matches `pattern` (regex)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, text in self.chunks:
                    if at >= after and regex.search(text):
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {pattern!r} on screen")
                self.cond.wait(left)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.write(self.master, b"q")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def _open_ids(sandbox: Sandbox, state: str, limit: int) -> list[str]:
    req = urllib.request.Request(f"{sandbox.url}/api/1/sessions?state={state}&agent=all&limit={limit}",
                                 headers={"Authorization": f"Bearer {sandbox.token}"})
    with urllib.request.urlopen(req, timeout=60) as res:
        return [s["id"] for s in json.loads(res.read())]


def top_latency(sandbox: Sandbox, home: Path, changes: int) -> list[float]:
    """A pending session is accepted on the device side; time until top shows the new active total."""
    sandbox.reset(sessions=600, active=50)
    pending = _open_ids(sandbox, "pending", changes)
    if len(pending) < changes:
        sandbox.control("POST", "/_sandbox/sessions", {"count": changes - len(pending), "state": "pending"})
        pending = _open_ids(sandbox, "pending", changes)
    env = {**sandbox.cli_env(home), "TERM": "xterm-256color"}
    top = PtyProcess([cobrowse_exe(), "top", "--interval", "10m"], env)  # no re-list: only the socket can tell
    try:
        top.wait_for(r"socket \+ poll", 0.0)
        top.wait_for(r"active 50\b", 0.0)
        time.sleep(1.0)  # subscriptions settle
        latencies = []
        for n, sid in enumerate(pending[:changes], start=51):
            time.sleep(random.uniform(0.2, 0.6))
            started = time.perf_counter()
            sandbox.control("POST", f"/_sandbox/sessions/{sid}/activate")
            latencies.append(top.wait_for(rf"active {n}\b", started, timeout=15) - started)
        return latencies
    finally:
        top.stop()


def top_cpu(sandbox: Sandbox, home: Path, seconds: float) -> tuple[float, float]:
    """CPU share of one core used by top over `seconds` at 1,500 active, default 5 s poll; and its start-up CPU."""
    sandbox.reset(sessions=4000, active=1500)
    env = {**sandbox.cli_env(home), "TERM": "xterm-256color"}
    top = PtyProcess([cobrowse_exe(), "top"], env)
    try:
        top.wait_for(r"active 1,500\b", 0.0, timeout=60)
        time.sleep(2.0)  # past the first listing, socket open and subscriptions sent
        cpu0, t0 = top.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        share = (top.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        return share, cpu0
    finally:
        top.stop()


def exporter_requests(sandbox: Sandbox, home: Path) -> tuple[int, int]:
    """API requests one collection makes at 1,500 active (what every --interval costs)."""
    sandbox.reset(sessions=4000, active=1500)
    before = sandbox.control("GET", "/_sandbox/stats")["requests"]["total"]
    result = subprocess.run([cobrowse_exe(), "exporter", "--once", "--by", "agent", "--by", "custom_data.plan"],
                            env=sandbox.cli_env(home), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"exporter --once exited {result.returncode}: {result.stderr.strip()[-200:]}")
    stats = sandbox.control("GET", "/_sandbox/stats")
    open_sessions = sum(stats["sessions"].get(state, 0) for state in ("active", "pending", "authorizing"))
    return stats["requests"]["total"] - before, open_sessions


def scrape_latency(sandbox: Sandbox, home: Path, sessions: int, active: int, scrapes: int) -> list[float]:
    sandbox.reset(sessions=sessions, active=active)
    proc = subprocess.Popen([cobrowse_exe(), "exporter", "--listen", "127.0.0.1:0", "--interval", "1h",
                             "--by", "agent", "--by", "custom_data.plan"],
                            env=sandbox.cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = next(w.rstrip(",") for w in line.split() if w.startswith("http://"))
        deadline = time.monotonic() + 60
        while b"cobrowse_up 1.0" not in urllib.request.urlopen(url, timeout=10).read():
            if time.monotonic() > deadline:
                raise TimeoutError("the exporter never collected")
            time.sleep(0.1)
        samples = []
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as res:
                res.read()
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        proc.terminate()
        proc.wait(15)


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    rows: list[Row] = []
    changes = 5 if quick else 20
    progress(f"monitoring: top, {changes} changes over the socket")
    lat = sorted(top_latency(sandbox, home, changes))
    rows.append(Row(SECTION, "top: change -> screen (socket)", f"{median(lat) * 1000:,.0f} ms",
                    f"max {lat[-1] * 1000:,.0f} ms over {len(lat)} changes", "<= 250 ms", verdict(lat[-1] <= 0.25),
                    raw={"latencies_s": lat}))
    seconds = 10.0 if quick else 60.0
    progress(f"monitoring: top CPU over {seconds:g}s at 1,500 active, 5 s poll")
    share, startup_cpu = top_cpu(sandbox, home, seconds)
    rows.append(Row(SECTION, "top: CPU at 1,500 active, 5 s poll", f"{share * 100:.1f}% of a core",
                    f"over {seconds:g} s (start-up + first listing: {startup_cpu:.2f} s CPU)", "<= 5%",
                    verdict(share <= 0.05), raw={"cpu_share": share}))
    progress("monitoring: exporter API requests per collection")
    per, open_sessions = exporter_requests(sandbox, home)
    per_hour = per * 3600 // DEFAULT_INTERVAL_S
    rows.append(Row(SECTION, "exporter: API requests/hour (--interval 30s)", f"{per_hour:,}",
                    f"{per} per collection at {open_sessions:,} open sessions; scrapes add none", "", "",
                    raw={"per_collection": per}))
    scrapes = 50 if quick else 300
    for sessions, active in ((200, 20), (4000, 1500)):
        progress(f"monitoring: {scrapes} scrapes at {active:,} active")
        values = sorted(scrape_latency(sandbox, home, sessions, active, scrapes))
        p95, p99 = (values[min(len(values) - 1, int(len(values) * q))] for q in (0.95, 0.99))
        load = os.getloadavg()[0]  # a shared machine's noise shows in the tail, so the verdict is on p95
        rows.append(Row(SECTION, f"exporter: scrape at {active:,} active", f"{median(values) * 1000:.1f} ms",
                        f"p95 {p95 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {values[-1] * 1000:.1f} ms, "
                        f"{len(values)} scrapes, load {load:.1f}", "p95 <= 10 ms", verdict(p95 <= 0.010),
                        raw={"scrape_s": values}))
    return rows


if __name__ == "__main__":
    import tempfile

    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory(prefix="cobrowse-bench-") as tmp:
        sb = Sandbox(Path(tmp) / "sandbox", sessions=0, active=0)
        try:
            for row in run(sb, Path(tmp), quick=quick):
                print(f"{row.name:48} {row.value:>16}  {row.compare}  {row.target} {row.result}")
        finally:
            sb.stop()
