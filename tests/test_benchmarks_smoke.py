"""Smoke test of benchmarks/run.py: the start-up section runs end to end and prints its table.

No timing assertions (a shared 2-core machine): only that the table has its rows, that PASS/FAIL
verdicts are given, and that count-active, the SDK (when node and the SDK are installed) and the
sandbox's own truth agree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SDK = REPO / "tests" / "conformance" / "node_modules" / "cobrowse-agent-sdk" / "dist" / "esm" / "index.js"


def test_quick_startup_section_prints_the_table():
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "startup", "--rounds", "1"],
        capture_output=True, text=True, timeout=180,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    lines = out.splitlines()
    assert lines[0].startswith("cobrowse-cli benchmarks (quick mode")
    assert lines[1].split() == ["section", "measurement", "median", "compared", "target", "result"]

    def row(name: str) -> str:
        found = [line for line in lines if line.startswith("start-up") and name in line]
        assert found, f"no row {name!r} in:\n{out}"
        return found[0]

    assert row("python -c pass (floor)").split()[-1] != "FAIL"
    assert row("cobrowse --version").split()[-1] in ("PASS", "FAIL")
    assert " ms " in row("cobrowse --help")
    count_row = row("cobrowse count-active")
    assert row("count-active result").split()[-1] == "PASS"  # CLI == truth (== SDK when present)
    if shutil.which("node") and SDK.exists():
        assert count_row.split()[-1] in ("PASS", "FAIL")
        assert "x SDK" in count_row
        assert "sdk 1500" in row("count-active result")
    else:
        assert count_row.split()[-1] == "n/a"
    # The import-time profiles follow the table, one per command, with module names.
    assert "python -X importtime cobrowse --version" in out
    assert "python -X importtime cobrowse count-active" in out
    assert "cobrowse_cli" in out.split("python -X importtime cobrowse count-active", 1)[1]


def test_unknown_section_is_a_usage_error():
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "unknown section" in res.stderr
