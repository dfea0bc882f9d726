"""What every benchmark section shares: measured child processes, a loopback sandbox, result rows.

A child's wall time comes from perf_counter around it; its CPU (user + sys) and peak RSS come from
os.wait4, i.e. from the kernel's accounting of that one process, so the sandbox server (a separate
process) and this script never count towards the CLI's numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SDK_DIR = Path(os.environ.get("COBROWSE_SDK", REPO / "tests" / "conformance" / "node_modules" / "cobrowse-agent-sdk"))
LONG_TIMEOUT_S = 86_400.0  # sandbox lifecycle timeouts: the seeded data must not change mid-benchmark


def python_exe() -> str:
    return sys.executable


def cobrowse_exe() -> str:
    """The `cobrowse` entry point next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "cobrowse"
    found = str(beside) if beside.exists() else shutil.which("cobrowse")
    if not found:
        raise SystemExit("cannot find the cobrowse command: run with the project's venv python")
    return found


def sdk_problem() -> str | None:
    """Why the SDK peer cannot run here, or None when it can."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (SDK_DIR / "dist" / "esm" / "index.js").exists():
        return f"the JS SDK is not installed at {SDK_DIR} (npm ci --prefix tests/conformance)"
    return None


def progress(message: str) -> None:
    """Where the benchmark is, on stderr (the table is the only thing on stdout)."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # user + sys seconds of the child process
    rss_mb: float  # peak resident set size of the child
    rc: int
    stdout: str = ""
    stderr: str = ""


def run_measured(
    argv: list[str],
    *,
    env: dict | None = None,
    stdin_text: str | None = None,
    capture: bool = False,
    timeout: float = 120.0,
) -> Sample:
    """Run argv once; stdout goes to /dev/null unless `capture` (then to a temp file, read back)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin_text is not None:
            inp.write(stdin_text.encode())
            inp.seek(0)
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=inp if stdin_text is not None else subprocess.DEVNULL,
            stdout=out if capture else subprocess.DEVNULL,
            stderr=err,
        )
        killer = threading.Timer(timeout, proc.kill)  # bounded: a hung child cannot hang the benchmark
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            rc=proc.returncode,
            stdout=out.read().decode(errors="replace") if capture else "",
            stderr=err.read().decode(errors="replace"),
        )


def checked(sample: Sample, what: str) -> Sample:
    if sample.rc != 0:
        tail = sample.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        raise RuntimeError(f"{what} exited {sample.rc}: {tail[0]}")
    return sample


def median(values) -> float:
    return statistics.median(list(values))


@dataclass
class Row:
    section: str
    name: str
    value: str
    compare: str = ""
    target: str = ""
    result: str = ""  # PASS / FAIL / "" (informative) / n/a
    raw: dict = field(default_factory=dict)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:,.2f} s"


class Sandbox:
    """`cobrowse sandbox serve` in its own process on 127.0.0.1, with its admin token and control surface."""

    def __init__(self, state_dir: Path, *, sessions: int, active: int, seed: int = 1):
        self.state_dir = state_dir
        launcher = ["-m", "cobrowse_cli", "sandbox", "serve"]
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [python_exe(), *launcher, "--host", "127.0.0.1", "--port", "0",
             "--state-dir", str(state_dir), "--sessions", str(sessions), "--active", str(active),
             "--devices", "10", "--seed", str(seed), "--pending-timeout", str(LONG_TIMEOUT_S),
             "--authorizing-timeout", str(LONG_TIMEOUT_S), "--inactivity-timeout", str(LONG_TIMEOUT_S)],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self.url = self.token = ""
        deadline = time.monotonic() + 120
        while not (self.url and self.token) and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("Sandbox listening on "):
                self.url = line.split("Sandbox listening on ", 1)[1].strip()
            elif "export COBROWSE_API=" in line:
                self.token = line.split("COBROWSE_TOKEN=", 1)[1].strip()
        if not (self.url and self.token):
            self.stop()
            raise RuntimeError("the sandbox did not start")
        self._stderr.seek(0)
        # Keep draining its stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def control(self, method: str, path: str, body: dict | None = None, timeout: float = 180.0):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return json.loads(res.read() or b"null")

    def reset(self, *, sessions: int, active: int, seed: int = 1) -> None:
        self.control("POST", "/_sandbox/reset", {"sessions": sessions, "active": active, "seed": seed, "devices": 10})

    def faults(self, **settings) -> None:
        self.control("POST", "/_sandbox/faults", {"reset": True, **settings})

    def cli_env(self, home: Path) -> dict:
        """Environment for a CLI child: this sandbox, and no user config or state leaking in or out."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
        env.update(COBROWSE_API=self.url, COBROWSE_TOKEN=self.token, NO_COLOR="1",
                   XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
                   XDG_CACHE_HOME=str(home / "cache"))
        if SDK_DIR:
            env["COBROWSE_SDK"] = str(SDK_DIR)
        return env

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._stderr.close()
