"""Scale: `cobrowse sessions list --all --ndjson --agent all > /dev/null` over a large sandbox,
against the official SDK paging the same data (benchmarks/sdk_page_all.mjs, same NDJSON out).

Per size: wall time, sessions/s, peak RSS, and the client process's own CPU (user + sys): wall time
includes waiting for the sandbox (a Python server on the same 2 cores), CPU time does not, so
N / CPU is the client-side processing rate. Memory is flat in N when RSS(large) ~ RSS(small).
"""

from __future__ import annotations

from pathlib import Path

from bench_harness import (HERE, Row, Sandbox, checked, cobrowse_exe, median, progress, run_measured,
                           sdk_problem, secs, verdict)

SECTION = "scale"
RATE_TARGET = 50_000  # sessions/s of client-side processing
FLAT_TARGET = 1.25  # RSS(large) / RSS(small)
ACTIVE_SHARE = 0.02


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    sizes = (5_000, 20_000) if quick else (10_000, 100_000)
    runs = 1 if quick else 3
    env = sandbox.cli_env(home)
    tools = {"cli": [cobrowse_exe(), "sessions", "list", "--all", "--ndjson", "--agent", "all"]}
    no_sdk = sdk_problem()
    if not no_sdk:
        tools["sdk"] = ["node", str(HERE / "sdk_page_all.mjs")]

    # Start-up cost, to show how much of the CPU is paging and serialising rather than imports.
    startup_cpu = median(checked(run_measured([cobrowse_exe(), "sessions", "list", "--limit", "1", "--agent", "all",
                                               "--ndjson"], env=env), "startup").cpu for _ in range(3))
    results: dict[tuple[str, int], dict] = {}
    for n in sizes:
        progress(f"scale: seeding {n:,} sessions")
        sandbox.reset(sessions=n, active=max(1, int(n * ACTIVE_SHARE)))
        samples: dict[str, list] = {tool: [] for tool in tools}
        for i in range(runs):
            for tool, argv in tools.items():
                progress(f"scale: {tool} over {n:,} sessions, run {i + 1}/{runs}")
                s = checked(run_measured(argv, env=env, timeout=300), f"{tool} list")
                if tool == "sdk" and s.stderr.strip() != f"{n} sessions":
                    raise RuntimeError(f"the SDK script saw {s.stderr.strip()!r}, expected {n} sessions")
                samples[tool].append(s)
        for tool, ss in samples.items():
            results[(tool, n)] = {"wall": median(s.wall for s in ss), "cpu": median(s.cpu for s in ss),
                                  "rss": median(s.rss_mb for s in ss)}

    rows = []
    small, large = sizes
    for n in sizes:
        for tool in tools:
            r = results[(tool, n)]
            label = "cobrowse sessions list --all --ndjson" if tool == "cli" else "SDK paging (node) -> NDJSON"
            compare = f"{n / r['wall']:,.0f} sessions/s wall, {r['rss']:.0f} MB peak RSS"
            if tool == "cli" and "sdk" in tools:
                compare += f", {r['wall'] / results[('sdk', n)]['wall']:.2f}x SDK wall"
            rows.append(Row(SECTION, f"{label}, {n:,}", secs(r["wall"]), compare, raw=r))
            rate = n / r["cpu"]
            net = n / max(r["cpu"] - startup_cpu, 1e-6) if tool == "cli" else None
            detail = f"{r['cpu']:.2f} s CPU"
            if net is not None:
                detail += f"; {net:,.0f}/s excl. {startup_cpu:.2f} s start-up"
            # The target is client-side *processing*: paging, decoding, writing; the fixed start-up
            # (imports, config) is shown separately by the start-up section.
            is_target = tool == "cli" and n == large
            rows.append(Row(SECTION, f"  client-side rate ({tool}, {n:,})", f"{rate:,.0f} sessions/s", detail,
                            f">= {RATE_TARGET:,}/s excl. start-up" if is_target else "",
                            verdict(net >= RATE_TARGET) if is_target else ""))
    for tool in tools:
        ratio = results[(tool, large)]["rss"] / results[(tool, small)]["rss"]
        is_target = tool == "cli"
        rows.append(Row(SECTION, f"peak RSS {large:,} / {small:,} ({tool})", f"{ratio:.2f}x",
                        f"{results[(tool, small)]['rss']:.0f} -> {results[(tool, large)]['rss']:.0f} MB",
                        f"<= {FLAT_TARGET:g}x (flat)" if is_target else "",
                        verdict(ratio <= FLAT_TARGET) if is_target else ""))
    if no_sdk:
        rows.append(Row(SECTION, "SDK paging (node)", "not available", no_sdk, result="n/a"))
    return rows
