"""Windowed counting (issue 18): `count-active` at 1,000 / 10,000 / 20,000 active, with no and with 50 ms
of added latency, with windows (COBROWSE_CONCURRENCY=4, the default) against the same count done
sequentially (COBROWSE_CONCURRENCY=1), the official SDK (sdk_count_active.mjs) and the floor "one request
plus the transfer": one 1,000-session page with the latency plus the other pages without it (each
fetched by a bare urllib call in this process).

Runs are interleaved per size; rows are medians. Peak RSS shows whether memory stays flat in N.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from bench_harness import HERE, Row, Sandbox, checked, cobrowse_exe, median, ms, progress, run_measured, sdk_problem, verdict

SECTION = "windows"
SDK_TARGET, FLOOR_TARGET = 0.5, 1.5


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    cases = [(1000, 0), (1000, 50), (10000, 0), (10000, 50)] + ([] if quick else [(20000, 0), (20000, 50)])
    rounds = 3 if quick else 5
    rows: list[Row] = []
    no_sdk = sdk_problem()
    for active, latency in cases:
        sandbox.reset(sessions=active + 500, active=active)
        sandbox.faults(latency_ms=latency)
        env = sandbox.cli_env(home)
        variants = {"windows": ([cobrowse_exe(), "count-active"], {**env, "COBROWSE_CONCURRENCY": "4"}),
                    "sequential": ([cobrowse_exe(), "count-active"], {**env, "COBROWSE_CONCURRENCY": "1"})}
        if not no_sdk:
            variants["sdk"] = (["node", str(HERE / "sdk_count_active.mjs")], env)
        for key, (argv, e) in variants.items():
            out = checked(run_measured(argv, env=e, capture=True), key).stdout.strip()
            if out != str(active):
                raise RuntimeError(f"{key} counted {out}, not {active}")
        walls = {key: [] for key in variants}
        rss = {key: [] for key in variants}
        floors = []
        for i in range(rounds):
            progress(f"windows {active:,} active, {latency} ms: round {i + 1}/{rounds}")
            for key, (argv, e) in variants.items():
                sample = checked(run_measured(argv, env=e), key)
                walls[key].append(sample.wall)
                rss[key].append(sample.rss_mb)
            floors.append(_floor(sandbox, active, latency))
        t = {key: median(v) for key, v in walls.items()}
        floor = median(floors)
        name = f"count-active {active:,} active, +{latency} ms"
        rows.append(Row(SECTION, name, ms(t["windows"]),
                        f"{t['windows'] / t['sequential']:.2f}x sequential, {t['windows'] / floor:.2f}x floor, "
                        f"rss {median(rss['windows']):.0f} MB", raw={"median_s": t["windows"], "floor_s": floor}))
        if not no_sdk:
            ratio = t["windows"] / t["sdk"]
            target = f"<= {SDK_TARGET:g}x SDK" if latency and active >= 10000 else "no regression"
            ok = ratio <= SDK_TARGET if latency and active >= 10000 else t["windows"] <= t["sequential"] * 1.1
            rows.append(Row(SECTION, f"  vs SDK ({ms(t['sdk'])}), sequential ({ms(t['sequential'])})",
                            f"{ratio:.2f}x SDK", f"floor {ms(floor)}", target, verdict(ok)))
    sandbox.faults()
    return rows


def _floor(sandbox: Sandbox, active: int, latency: int) -> float:
    """One page with the latency, plus the rest of the pages' server and transfer time without it."""
    url = sandbox.url + "/api/1/sessions?agent=all&state=active&limit=1000"
    get = lambda: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        url, headers={"Authorization": f"Bearer {sandbox.token}"}), timeout=60).read()
    started = time.perf_counter()
    get()
    first = time.perf_counter() - started
    sandbox.faults()
    started = time.perf_counter()
    get()
    rest = (time.perf_counter() - started) * (max(active, 1000) / 1000 - 1)
    sandbox.faults(latency_ms=latency)
    return first + rest
