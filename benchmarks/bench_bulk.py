"""Bulk end: `cobrowse sessions end --filter bench=TAG --agent all --yes --concurrency C` over 1,000
active sessions while the sandbox adds 50 ms to every API request.

The floor is `sessions x 50 ms / concurrency` (every end waits its 50 ms; C of them overlap). The
wall time includes the CLI's start-up and the listing of the selection (also delayed by 50 ms per
page), as a cron job would see it. Each run is checked on the sandbox's side: every selected session
ended exactly once, none left active.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bench_harness import Row, Sandbox, checked, cobrowse_exe, median, progress, run_measured, secs, verdict

SECTION = "bulk end"
LATENCY_MS = 50
BOUND_TARGET = 1.3


def end_run(sandbox: Sandbox, env: dict, *, count: int, concurrency: int) -> float:
    """Create `count` active sessions under a fresh tag, end them with the CLI, verify, return wall s."""
    tag = uuid.uuid4().hex[:12]
    ids = sandbox.control("POST", "/_sandbox/sessions",
                          {"count": count, "state": "active", "custom_data": {"bench": tag}})["ids"]
    before = sandbox.control("GET", "/_sandbox/stats")["ends"]["by_session"]
    argv = [cobrowse_exe(), "sessions", "end", "--filter", f"bench={tag}", "--agent", "all", "--yes",
            "--concurrency", str(concurrency), "--ndjson"]
    s = checked(run_measured(argv, env=env, capture=True, timeout=30 + count * LATENCY_MS / 1000 * 2),
                f"sessions end --concurrency {concurrency}")
    outcomes = [json.loads(line)["outcome"] for line in s.stdout.splitlines() if line.strip()]
    after = sandbox.control("GET", "/_sandbox/stats")["ends"]["by_session"]
    left = sandbox.control("GET", f"/_sandbox/truth/active-count?filter_bench={tag}")["count"]
    twice = [i for i in ids if after.get(i, 0) - before.get(i, 0) != 1]
    if left or twice or outcomes.count("ended") != count:
        raise RuntimeError(f"bulk end was wrong: {left} left active, {len(twice)} not ended exactly once, "
                           f"{outcomes.count('ended')}/{count} reported ended")
    return s.wall


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    n = 1000
    runs = 1 if quick else 3
    serial_n = 100 if quick else n
    env = sandbox.cli_env(home)
    sandbox.reset(sessions=500, active=50)
    sandbox.faults(latency_ms=LATENCY_MS)
    try:
        walls: dict[int, list[float]] = {10: [], 20: []}
        for i in range(runs):
            for c in walls:
                progress(f"bulk end: {n} sessions at concurrency {c}, run {i + 1}/{runs}")
                walls[c].append(end_run(sandbox, env, count=n, concurrency=c))
        progress(f"bulk end: {serial_n} sessions serially (concurrency 1)")
        serial = end_run(sandbox, env, count=serial_n, concurrency=1) * n / serial_n
    finally:
        sandbox.faults()
    rows = []
    for c, values in walls.items():
        wall = median(values)
        bound = n * LATENCY_MS / 1000 / c
        rows.append(Row(SECTION, f"end {n:,} @ {LATENCY_MS} ms latency, concurrency {c}", secs(wall),
                        f"{wall / bound:.2f}x bound ({bound:.1f} s), {serial / wall:.1f}x faster than serial",
                        f"<= {BOUND_TARGET:g}x bound", verdict(wall <= BOUND_TARGET * bound), raw={"walls": values}))
    serial_label = f"end {n:,} serially (concurrency 1)"
    if serial_n != n:
        serial_label += f", extrapolated from {serial_n}"
    rows.append(Row(SECTION, serial_label, secs(serial), f"{serial / (n * LATENCY_MS / 1000):.2f}x bound ({n * LATENCY_MS / 1000:.0f} s)"))
    rows.append(Row(SECTION, "each ended exactly once (sandbox truth)", "yes", "all runs", "exactly once", "PASS"))
    return rows
