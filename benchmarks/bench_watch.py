"""Watch latency: change in the sandbox -> printed watch line, socket vs poll.

The measurement itself is benchmarks/watch_latency.py's `measure()` (kept by the watch work); this
section only points it at our sandbox and turns its samples into rows. If that module is missing or
its interface changed, the section reports "not available" instead of failing the whole run.
"""

from __future__ import annotations

from pathlib import Path

from bench_harness import Row, Sandbox, median, progress

SECTION = "watch"
INTERVAL = "2s"  # the watch default


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    changes = 4 if quick else 15
    try:
        from watch_latency import measure

        from cobrowse_cli.sandbox.auth import load_keys, mint_token
    except Exception as e:  # noqa: BLE001 - the module belongs to another part of the project
        return [Row(SECTION, "change -> printed line", "not available", f"{type(e).__name__}: {e}", result="n/a")]
    sandbox.reset(sessions=500, active=50)
    sandbox.faults()
    # measure() creates its session for agent@sandbox.test and watches it with that agent's token.
    token = mint_token(load_keys(sandbox.state_dir), sub="agent@sandbox.test", ttl=3600)
    results = {}
    for transport in ("socket", "poll"):
        progress(f"watch: {changes} changes over the {transport} transport")
        try:
            results[transport] = measure(sandbox.url, token, transport, INTERVAL, changes)
        except Exception as e:  # noqa: BLE001
            results[transport] = e
    rows = []
    for transport, values in results.items():
        name = f"change -> printed line, {transport}" + (f" (--interval {INTERVAL})" if transport == "poll" else "")
        if isinstance(values, Exception):
            rows.append(Row(SECTION, name, "not available", f"{type(values).__name__}: {values}", result="n/a"))
            continue
        ms_values = sorted(v * 1000 for v in values)
        compare = f"max {ms_values[-1]:,.0f} ms over {len(values)} changes"
        if transport == "poll" and not isinstance(results.get("socket"), Exception):
            compare += f"; {median(values) / median(results['socket']):.0f}x socket"
        rows.append(Row(SECTION, name, f"{median(ms_values):,.0f} ms", compare, raw={"latencies_s": values}))
    return rows
