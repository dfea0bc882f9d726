"""Start-up: `cobrowse --version`, `--help` and a one-shot `count-active`, against `python -c pass`
(the floor) and a node script making the same call through the official SDK (the peer).

Runs are interleaved (floor, version, help, count, SDK, floor, ...) so that machine noise hits every
variant alike; each row is the median over the rounds.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bench_harness import (HERE, Row, Sandbox, checked, cobrowse_exe, median, ms, progress, python_exe,
                           run_measured, sdk_problem, verdict)

SECTION = "start-up"
ACTIVE = 1500
VERSION_TARGET = 3.0  # x the python floor
COUNT_TARGET = 0.6  # x the SDK script


def run(sandbox: Sandbox, home: Path, *, rounds: int) -> list[Row]:
    sandbox.reset(sessions=3000, active=ACTIVE)
    env = sandbox.cli_env(home)
    cb = cobrowse_exe()
    variants = {
        "floor": [python_exe(), "-c", "pass"],
        "version": [cb, "--version"],
        "help": [cb, "--help"],
        "count": [cb, "count-active"],
    }
    no_sdk = sdk_problem()
    if not no_sdk:
        variants["sdk"] = ["node", str(HERE / "sdk_count_active.mjs")]
        variants["node"] = ["node", "-e", "0"]

    # One checked warm-up each (also fills the page cache), keeping the printed counts.
    outputs = {key: checked(run_measured(argv, env=env, capture=True), key).stdout.strip()
               for key, argv in variants.items()}
    truth = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    walls: dict[str, list[float]] = {key: [] for key in variants}
    for i in range(rounds):
        progress(f"start-up round {i + 1}/{rounds}")
        for key, argv in variants.items():
            walls[key].append(checked(run_measured(argv, env=env), key).wall)
    t = {key: median(values) for key, values in walls.items()}

    floor = t["floor"]
    rows = [
        Row(SECTION, "python -c pass (floor)", ms(floor), "1.00x floor", raw={"median_s": floor}),
        Row(SECTION, "cobrowse --version", ms(t["version"]), f"{t['version'] / floor:.2f}x floor",
            f"<= {VERSION_TARGET:g}x floor", verdict(t["version"] <= VERSION_TARGET * floor),
            raw={"median_s": t["version"]}),
        Row(SECTION, "cobrowse --help", ms(t["help"]), f"{t['help'] / floor:.2f}x floor",
            raw={"median_s": t["help"]}),
    ]
    count_name = f"cobrowse count-active ({ACTIVE:,} active, one-shot)"
    if no_sdk:
        rows.append(Row(SECTION, count_name, ms(t["count"]), f"{t['count'] / floor:.2f}x floor",
                        f"<= {COUNT_TARGET:g}x SDK", "n/a", raw={"median_s": t["count"]}))
        rows.append(Row(SECTION, "SDK script (node, official SDK)", "not available", no_sdk, result="n/a"))
    else:
        ratio = t["count"] / t["sdk"]
        rows.append(Row(SECTION, count_name, ms(t["count"]), f"{ratio:.2f}x SDK, {t['count'] / floor:.2f}x floor",
                        f"<= {COUNT_TARGET:g}x SDK", verdict(ratio <= COUNT_TARGET), raw={"median_s": t["count"]}))
        rows.append(Row(SECTION, "SDK script count (node, official SDK)", ms(t["sdk"]),
                        f"{t['sdk'] / t['node']:.2f}x node -e 0", raw={"median_s": t["sdk"]}))
        rows.append(Row(SECTION, "node -e 0 (node floor)", ms(t["node"]), f"{t['node'] / floor:.2f}x floor",
                        raw={"median_s": t["node"]}))
    counts = {"cli": outputs["count"], "truth": str(truth)}
    if not no_sdk:
        counts["sdk"] = outputs["sdk"]
    rows.append(Row(SECTION, "count-active result", ", ".join(f"{k} {v}" for k, v in counts.items()),
                    target="all equal", result=verdict(len(set(counts.values())) == 1)))
    return rows


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_profile(argv: list[str], env: dict, *, runs: int = 3, top: int = 12) -> list[dict]:
    """`python -X importtime`: the modules with the largest cumulative import time (median of runs).

    `level` is the nesting depth, so the list reads as a tree: a module's cost includes its children.
    """
    per_module: dict[str, dict] = {}
    for _ in range(runs):
        res = subprocess.run([python_exe(), "-X", "importtime", *argv], env=env, capture_output=True,
                             text=True, timeout=60)
        for m in IMPORT_LINE.finditer(res.stderr):
            self_us, cum_us, indent, name = int(m[1]), int(m[2]), m[3], m[4]
            entry = per_module.setdefault(name, {"name": name, "level": len(indent) // 2, "self": [], "cum": []})
            entry["self"].append(self_us)
            entry["cum"].append(cum_us)
    rows = [{"name": e["name"], "level": e["level"], "self_ms": median(e["self"]) / 1000,
             "cum_ms": median(e["cum"]) / 1000} for e in per_module.values()]
    rows.sort(key=lambda r: r["cum_ms"], reverse=True)
    return rows[:top]


def import_profiles(sandbox: Sandbox, home: Path) -> dict[str, list[dict]]:
    env = sandbox.cli_env(home)
    cb = cobrowse_exe()
    progress("import-time profiles")
    return {
        "cobrowse --version": import_profile([cb, "--version"], env),
        "cobrowse count-active": import_profile([cb, "count-active"], env),
    }


def format_profiles(profiles: dict[str, list[dict]]) -> str:
    lines = []
    for title, rows in profiles.items():
        lines.append(f"python -X importtime {title}: top {len(rows)} by cumulative time (median of 3 runs)")
        lines.append(f"  {'cumulative':>10} {'self':>8}  module (indent = nesting)")
        for r in rows:
            lines.append(f"  {r['cum_ms']:>7.1f} ms {r['self_ms']:>5.1f} ms  {'  ' * r['level']}{r['name']}")
        lines.append("")
    return "\n".join(lines)
