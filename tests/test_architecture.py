"""The shape architecture.md asks for, checked: import directions, and a start-up path free of heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cobrowse_cli"

# layer -> layers it must never import (the sandbox and the client share no code: a shared bug would pass)
FORBIDDEN = {
    "client": {"commands", "output", "sandbox", "config", "watch"},
    "sandbox": {"client", "commands", "config", "watch", "output", "timeutil"},
    "output": {"client", "sandbox", "commands"},
    "config": {"client", "commands", "output", "sandbox", "watch"},
    "watch": {"commands", "sandbox"},
}
HEAVY = ("httpx", "rich", "jwt", "cryptography", "websockets", "cbor2", "starlette", "uvicorn", "orjson")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_import_directions(layer):
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "cobrowse_cli" and len(parts) > 1 and parts[1] in FORBIDDEN[layer]:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_building_every_command_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from cobrowse_cli.app import register_commands\n"
        "register_commands()\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported at start-up: {out}"


@pytest.mark.parametrize("argv", [["--version"], ["sessions", "list", "--limit", "0"], ["count-active", "--by", "x"]])
def test_a_real_run_loads_no_heavy_module_before_it_needs_one(argv):
    """These runs end before any request (version, usage errors): nothing heavy may have been imported."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "cobrowse_cli", *argv],
                            capture_output=True, text=True)
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert result.returncode in (0, 2)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_no_unused_or_undefined_names():
    ruff = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if ruff.returncode != 0:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    root = PACKAGE.parent
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--quiet",
                             "cobrowse_cli", "tests", "benchmarks"], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
