"""Shared by the bulk-end tests: create a cohort, run `sessions end` on it as a real process, and account
for every id across stdout, stderr and the report against the sandbox's own end counters."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import COBROWSE, isolated_env

END = ["sessions", "end", "--agent", "all", "--filter", "cohort=x", "--yes", "--ndjson"]
UNWRITTEN = "cobrowse: outcome not written to stdout: "
SUMMARY = re.compile(r"\(of (\d+)\) in \d+\.\ds, started \S+Z")


def create(sandbox, n: int, cohort: str = "x") -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        body = {"count": min(250, n - len(ids)), "state": "active", "custom_data": {"cohort": cohort},
                "agent": "admin@sandbox.test"}
        ids += sandbox.control("POST", "/_sandbox/sessions", body)["ids"]
    return ids


def env_for(sandbox, home: Path, token: str | None = None, **extra: str) -> dict[str, str]:
    return isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=token or sandbox.admin_token(),
                        XDG_STATE_HOME=str(home / ".state"), **extra)


def popen(env, *args: str, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([COBROWSE, *args], stdout=stdout, stderr=subprocess.PIPE, stdin=stdin, env=env, text=True)


def rest_of(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """What the run writes to stdout and stderr from here on, once it has ended. Not communicate(): it reads
    the raw pipes, skipping lines an earlier readline() had already buffered (under load several lines
    arrive in one read, and the lost ones looked like a run that never reported an id)."""
    got: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=name: got.__setitem__(n, getattr(proc, n).read()), daemon=True)
               for name in ("stdout", "stderr") if getattr(proc, name) is not None]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    for reader in readers:
        reader.join(timeout)
    return got.get("stdout", ""), got.get("stderr", "")


def piped_to_head(env, *args: str, report: Path, lines: int = 3) -> tuple[Accounting, str]:
    """The run's stdout into `head -N`, which exits early: (the run's accounting, what head showed)."""
    run = popen(env, *args, "--report", str(report))
    head = subprocess.Popen(["head", f"-{lines}"], stdin=run.stdout, stdout=subprocess.PIPE, text=True)
    run.stdout.close()  # head alone holds the read end, as in a shell pipeline
    shown, _ = head.communicate(timeout=60)
    err = run.stderr.read()
    run.wait(timeout=60)
    return Accounting.of(run.returncode, "", err, report), shown


def into_dev_full(env, *args: str) -> Accounting:
    """The run with /dev/full (every write fails: no space) as its stdout."""
    with open("/dev/full", "w") as full:
        run = popen(env, *args, stdout=full)
        _, err = run.communicate(timeout=60)
    return Accounting.of(run.returncode, "", err)


def outcomes_in(text: str) -> list[dict]:
    return [row for row in (json.loads(line) for line in text.splitlines() if line.startswith("{"))
            if row.get("type") != "summary"]


@dataclass
class Accounting:
    """What one run said, per id: on stdout, on stderr (unwritten outcomes), in its report."""

    code: int
    stdout: list[dict]
    stderr: list[dict]
    report: list[dict] | None
    err: str
    summary: dict | None = field(default=None)

    @classmethod
    def of(cls, code: int, out: str, err: str, report: Path | None = None) -> Accounting:
        unwritten = [json.loads(line[len(UNWRITTEN):]) for line in err.splitlines() if line.startswith(UNWRITTEN)]
        rows = None
        summary = None
        if report is not None:
            text = report.read_text()
            rows = outcomes_in(text)
            summaries = [json.loads(line) for line in text.splitlines() if '"type":"summary"' in line]
            summary = summaries[-1] if summaries else None
        return cls(code, outcomes_in(out), unwritten, rows, err, summary)

    @property
    def named(self) -> list[str]:
        return [o["id"] for o in self.stdout + self.stderr]

    def by_outcome(self, name: str) -> set[str]:
        return {o["id"] for o in self.stdout + self.stderr if o["outcome"] == name}

    def assert_every_id_once(self, selected: set[str]) -> None:
        assert sorted(self.named) == sorted(selected), (len(self.named), len(selected), self.err[-2000:])
        if self.report is not None:
            assert sorted(o["id"] for o in self.report) == sorted(selected)
            assert self.summary is not None and self.summary["selected"] == len(selected)
        assert SUMMARY.search(self.err), self.err[-2000:]
        assert "Traceback" not in self.err


def ended_on_server(sandbox, ids: set[str]) -> set[str]:
    by_session = sandbox.stats()["ends"]["by_session"]
    assert max((by_session.get(i, 0) for i in ids), default=0) <= 1  # nothing ended twice
    return {i for i in ids if by_session.get(i)}


def record(name: str, selected: int, reported: int, ended: int, **more) -> None:
    """A line in the test log for the closing note (run pytest with -s to see them)."""
    extra = "".join(f" {k}={v}" for k, v in more.items())
    print(f"\nBULK-END {name}: selected={selected} reported={reported} ended_on_server={ended}{extra}")
