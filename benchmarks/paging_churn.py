"""Paging costs and misses (issue 12, item 6): what paging to a page that adds nothing costs, and what a
2,300-session listing misses while 200 pending sessions are accepted (pending -> active) during it.

    .venv/bin/python benchmarks/paging_churn.py [--runs 7]

The 200 pending sessions are spread through the listing (ten batches of 20 pending + 210 active, made in
time order); between pages, the script accepts a share of them through the control API, so each one
jumps to the top of the listing (its `activated` is now), above the pages already read. Counted: how many
of the 200 the listing of `state=pending,active` missed, with and without the catch-up walk
(client/listing.py). Prints a table to stdout.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_harness import Sandbox  # noqa: E402

from cobrowse_cli.client import Client  # noqa: E402
from cobrowse_cli.client.listing import select_sessions  # noqa: E402
from cobrowse_cli.client.paging import SESSIONS, iter_paged  # noqa: E402
from cobrowse_cli.client.selection import SessionQuery  # noqa: E402


def extra_request_cost(sb: Sandbox, runs: int) -> list[str]:
    sb.reset(sessions=2300, active=300)
    walls, probes, counts = [], [], []
    with Client(sb.url, token=sb.token) as c:
        for _ in range(runs):
            times: list[float] = []

            def fetch(q):
                t = time.perf_counter()
                page = c._call("GET", "/api/1/sessions", query=q, expect=list)
                times.append(time.perf_counter() - t)
                return page

            t0 = time.perf_counter()
            n = sum(1 for _ in iter_paged(fetch, SESSIONS, {"agent": "all"}))
            walls.append(time.perf_counter() - t0)
            probes.append(times[-1])
            counts.append(len(times))
        verified = {}
        for catch_up in (False, True):
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                got = sum(1 for _ in select_sessions(c, SessionQuery(agent="all"), catch_up=catch_up))
                samples.append(time.perf_counter() - t0)
            assert got == 2300
            verified[catch_up] = statistics.median(samples)
    assert n == 2300
    wall, probe = statistics.median(walls), statistics.median(probes)
    return [f"list 2,300 sessions (pages of 1,000) | requests {counts[0]} (was {counts[0] - 1}) | "
            f"walk {wall * 1000:.1f} ms | last request {probe * 1000:.1f} ms ({probe / wall:.0%} of the walk)",
            f"verified selection of the same 2,300 | catch-up off {verified[False] * 1000:.1f} ms | "
            f"on {verified[True] * 1000:.1f} ms (+1 request)"]


def churn_misses(sb: Sandbox, page_size: int, catch_up: bool, seed: int) -> tuple[int, int]:
    sb.control("POST", "/_sandbox/reset", {"sessions": 0, "active": 0, "devices": 0})
    pending: list[str] = []
    for _ in range(10):
        pending += sb.control("POST", "/_sandbox/sessions", {"count": 20, "state": "pending"})["ids"]
        sb.control("POST", "/_sandbox/sessions", {"count": 210, "state": "active"})
    rng = random.Random(seed)
    order = rng.sample(pending, len(pending))
    pages = -(-2300 // page_size)
    per_page = -(-len(order) // pages)
    query = SessionQuery(states=("pending", "active"), agent="all")
    seen: set[str] = set()
    with Client(sb.url, token=sb.token) as c:
        def on_page(_done: int) -> None:  # between pages: accept the next share of the pending sessions
            for sid in order[:per_page]:
                sb.control("POST", f"/_sandbox/sessions/{sid}/activate")
            del order[:per_page]

        selection = select_sessions(c, query, on_page=on_page, catch_up=catch_up)
        selection._items = lambda p, size: c.iter_sessions(p, page_size=page_size, on_page=on_page)
        for s in selection:
            seen.add(s["id"])
    return sum(1 for sid in pending if sid not in seen), len(seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sb = Sandbox(Path(tmp), sessions=2300, active=300)
        try:
            rows = extra_request_cost(sb, args.runs)
            for page_size in (1000, 100):
                for catch_up in (False, True):
                    misses = [churn_misses(sb, page_size, catch_up, seed)[0] for seed in range(3)]
                    rows.append(f"2,300 sessions, 200 accepted while paging, pages of {page_size} | "
                                f"catch-up {'on ' if catch_up else 'off'} | missed {statistics.median(misses):.0f} "
                                f"of 200 (runs: {', '.join(map(str, misses))})")
        finally:
            sb.stop()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
