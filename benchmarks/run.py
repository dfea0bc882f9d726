"""cobrowse-cli benchmarks: one table of medians and ratios, measured side by side in one run.

    .venv/bin/python benchmarks/run.py [--quick] [--only startup,scale,bulk,watch,recordings] [--json FILE]

Sections: start-up (vs `python -c pass` and the official JS SDK), scale (`sessions list --all --ndjson`
over 100k sandbox sessions), bulk end (1,000 sessions under 50 ms injected latency) and watch latency
(socket vs poll, from benchmarks/watch_latency.py), monitoring (`top` latency and CPU, exporter
requests and scrape latency, from benchmarks/bench_monitoring.py) and recordings download (vs curl; peak RSS
flat in file size, from benchmarks/bench_recordings.py). Everything runs against a sandbox on 127.0.0.1
that this script starts and stops. Targets are ratios, reported as PASS/FAIL, never asserted: the
exit code is 0 unless a section could not run. Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_harness import Row, Sandbox, progress  # noqa: E402

SECTIONS = ("startup", "scale", "bulk", "watch", "monitoring", "recordings", "windows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs (CI smoke, < 2 min)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--json", metavar="FILE", help="also write the rows (with raw numbers) as JSON")
    parser.add_argument("--rounds", type=int, help="start-up rounds (default 5 quick, 11 full; the test suite's smoke run uses 1)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")

    # An installed package has its bytecode compiled by pip; a source checkout may not (e.g. with
    # PYTHONDONTWRITEBYTECODE set), which would charge ~25 ms of compiling to every start-up row.
    import compileall

    import cobrowse_cli

    compileall.compile_dir(str(Path(cobrowse_cli.__file__).parent), quiet=1)

    started = time.perf_counter()
    rows: list[Row] = []
    notes: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="cobrowse-bench-") as tmp:
        home = Path(tmp)
        progress("starting the sandbox")
        sandbox = Sandbox(home / "sandbox", sessions=0, active=0)
        try:
            for section in chosen:
                try:
                    new_rows, new_notes = run_section(section, sandbox, home, quick=args.quick, rounds=args.rounds)
                except Exception as e:  # noqa: BLE001 - one broken section must not hide the others
                    failed = True
                    new_rows, new_notes = [Row(section, "(section failed)", f"{type(e).__name__}: {e}", result="n/a")], []
                rows += new_rows
                notes += new_notes
        finally:
            sandbox.stop()

    mode = "quick" if args.quick else "full"
    print(f"cobrowse-cli benchmarks ({mode} mode, {time.perf_counter() - started:.0f} s; medians of interleaved runs)")
    print(format_table(rows))
    for note in notes:
        print()
        print(note.rstrip())
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=2, default=str))
    return 1 if failed else 0


def run_section(section: str, sandbox: Sandbox, home: Path, *, quick: bool,
                rounds: int | None = None) -> tuple[list[Row], list[str]]:
    if section == "startup":
        import bench_startup

        rows = bench_startup.run(sandbox, home, rounds=rounds or (5 if quick else 11))
        return rows, [bench_startup.format_profiles(bench_startup.import_profiles(sandbox, home))]
    if section == "scale":
        import bench_scale

        return bench_scale.run(sandbox, home, quick=quick), []
    if section == "bulk":
        import bench_bulk

        return bench_bulk.run(sandbox, home, quick=quick), []
    if section == "windows":
        import bench_windows

        return bench_windows.run(sandbox, home, quick=quick), []
    if section == "monitoring":
        import bench_monitoring

        return bench_monitoring.run(sandbox, home, quick=quick), []
    if section == "recordings":
        import bench_recordings

        return bench_recordings.run(sandbox, home, quick=quick), []
    import bench_watch

    return bench_watch.run(sandbox, home, quick=quick), []


HEADERS = ("section", "measurement", "median", "compared", "target", "result")


def format_table(rows: list[Row]) -> str:
    cells = [HEADERS] + [(r.section, r.name, r.value, r.compare, r.target, r.result) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
