"""Windowed counting (issue 18): `count-active` at 1,000 / 10,000 / 20,000 active, with no and with 50 ms
of added latency, as a user runs it (the default: windows at concurrency 4 when the first pages show they
pay, else one page after another) against the same count done sequentially (COBROWSE_CONCURRENCY=1), the
official SDK (sdk_count_active.mjs) and the floor "one request plus the transfer": one 1,000-session page
with the latency plus the other pages without it (each fetched by a bare urllib call in this process).

Runs are interleaved per size, each variant first in turn; rows are medians. Peak RSS shows whether memory
stays flat in N. The default and the sequential run with --debug (stderr goes to a file) so each default run
says which mode it chose and both pay the same for it; "excl. start-up" takes off the median of the same
command over an empty selection with no latency (start-up, imports, one small request).
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from bench_harness import HERE, Row, Sandbox, checked, cobrowse_exe, median, ms, progress, run_measured, sdk_problem, verdict

SECTION = "windows"
SDK_TARGET, FLOOR_TARGET = 0.5, 1.5
CHOICE = "windowed listing: a page waited"  # the --debug line of the default's choice (client/windows.py)


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    cases = [(1000, 0), (1000, 50), (10000, 0), (10000, 50)] + ([] if quick else [(20000, 0), (20000, 50)])
    rounds = 3 if quick else 5
    rows: list[Row] = []
    no_sdk = sdk_problem()
    startup = _startup(sandbox, home, rounds)
    for active, latency in cases:
        sandbox.reset(sessions=active + 500, active=active)
        sandbox.faults(latency_ms=latency)
        env = {k: v for k, v in sandbox.cli_env(home).items() if k != "COBROWSE_CONCURRENCY"}
        variants = {"default": ([cobrowse_exe(), "--debug", "count-active"], env),  # --debug: the mode it chose
                    "sequential": ([cobrowse_exe(), "--debug", "count-active"], {**env, "COBROWSE_CONCURRENCY": "1"})}
        if not no_sdk:
            variants["sdk"] = (["node", str(HERE / "sdk_count_active.mjs")], env)
        for key, (argv, e) in variants.items():
            out = checked(run_measured(argv, env=e, capture=True), key).stdout.strip()
            if out != str(active):
                raise RuntimeError(f"{key} counted {out}, not {active}")
        modes: list[str] = []
        walls = {key: [] for key in variants}
        rss = {key: [] for key in variants}
        floors = []
        for i in range(rounds):
            progress(f"windows {active:,} active, {latency} ms: round {i + 1}/{rounds}")
            keys = list(variants)
            for key in keys[i % len(keys):] + keys[:i % len(keys)]:  # each goes first in turn (after the floor)
                argv, e = variants[key]
                sample = checked(run_measured(argv, env=e), key)
                walls[key].append(sample.wall)
                rss[key].append(sample.rss_mb)
                if key == "default":
                    modes.append(_mode(sample.stderr))
            floors.append(_floor(sandbox, active, latency))
        t = {key: median(v) for key, v in walls.items()}
        floor = median(floors)
        mode = ", ".join(f"{m} {modes.count(m)}/{rounds}" for m in sorted(set(modes)))
        name = f"count-active {active:,} active, +{latency} ms ({mode})"
        rows.append(Row(SECTION, name, ms(t["default"]),
                        f"{t['default'] / t['sequential']:.2f}x sequential, {t['default'] / floor:.2f}x floor "
                        f"({(t['default'] - startup) / floor:.2f}x excl. start-up), rss {median(rss['default']):.0f} MB",
                        raw={"median_s": t["default"], "sequential_s": t["sequential"], "floor_s": floor,
                             "startup_s": startup, "mode": mode, "sdk_s": t.get("sdk")}))
        regression_ok = t["default"] <= t["sequential"] * 1.1
        if no_sdk:
            rows.append(Row(SECTION, f"  vs sequential ({ms(t['sequential'])})", f"{t['default'] / t['sequential']:.2f}x",
                            f"floor {ms(floor)}", "no regression", verdict(regression_ok)))
            continue
        ratio = t["default"] / t["sdk"]
        target = f"<= {SDK_TARGET:g}x SDK" if latency and active >= 10000 else "no regression"
        ok = ratio <= SDK_TARGET if latency and active >= 10000 else regression_ok
        rows.append(Row(SECTION, f"  vs SDK ({ms(t['sdk'])}), sequential ({ms(t['sequential'])})",
                        f"{ratio:.2f}x SDK", f"floor {ms(floor)}", target, verdict(ok)))
    sandbox.faults()
    return rows


def _mode(err: str) -> str:
    """What the default did, from its --debug lines: windows, sequential, or one walk (no choice to make)."""
    choice = next((line for line in err.splitlines() if CHOICE in line), "")
    return "windows" if choice.endswith(": windows") else "sequential" if choice else "one walk"


def _startup(sandbox: Sandbox, home: Path, rounds: int) -> float:
    """The command over an empty selection (the server filters it to one empty page), no latency."""
    sandbox.reset(sessions=100, active=50)
    sandbox.faults()
    argv = [cobrowse_exe(), "count-active", "--filter", "bench=none"]
    return median(checked(run_measured(argv, env=sandbox.cli_env(home)), "start-up").wall for _ in range(rounds))


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
