"""The shape architecture.md asks for, checked: import directions, and a start-up path free of heavy modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cobrowse_cli"

HEAVY = ("httpx", "rich", "jwt", "cryptography", "websockets", "cbor2", "starlette", "uvicorn", "orjson")
ROOT = PACKAGE.parent


def test_import_linter_contracts_hold():
    """The layers and forbidden imports in pyproject.toml [tool.importlinter] (every static import form)."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_no_string_import_breaks_a_contract():
    """importlib.import_module("...") / __import__("...") are invisible to import-linter: checked here."""
    assert string_import_offenders(PACKAGE) == []


VIOLATIONS = {  # file to append to -> an import that breaks a rule
    "client/query.py": "from cobrowse_cli import commands\n",
    "output/cells.py": "import cobrowse_cli.sandbox.store\n",
    "config/store.py": "from ..watch import feed\n",
    "sandbox/store.py": "def _late():\n    from cobrowse_cli.client.query import Query\n",
    "watch/feed.py": "import importlib\nimportlib.import_module(\"cobrowse_cli.commands.watch\")\n",
    "output/table.py": "from importlib import import_module\nimport_module(\".sandbox.store\", \"cobrowse_cli\")\n",
    "client/paging.py": "__import__(f\"cobrowse_cli.output.{name}\")\n",
}


def _is_string_import(line: str) -> bool:
    return "import_module" in line or "__import__" in line


@pytest.mark.parametrize("kind", ["static", "string"])
def test_each_import_form_that_breaks_a_rule_fails(tmp_path, kind):
    """A copy of the package with the violations of one kind added (one lint run per kind, not per file):
    import-linter names every static one; the string-import pass finds every string one, which import-linter
    cannot see (the reason that pass exists)."""
    chosen = {path: line for path, line in VIOLATIONS.items() if _is_string_import(line) == (kind == "string")}
    shutil.copytree(PACKAGE, tmp_path / "cobrowse_cli", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, line in chosen.items():
        target = tmp_path / "cobrowse_cli" / path
        target.write_text(target.read_text() + "\n" + line)
    strings = string_import_offenders(tmp_path / "cobrowse_cli")
    lint = _lint_imports(tmp_path)
    if kind == "string":
        assert lint.returncode == 0, lint.stdout
        assert sorted(s.split(":")[0] for s in strings) == sorted(chosen), strings
    else:
        assert strings == []
        assert lint.returncode != 0 and "BROKEN" in lint.stdout, lint.stdout
        for path in chosen:  # each added import is reported as `importer -> imported`
            module = "cobrowse_cli." + path.removesuffix(".py").replace("/", ".")
            assert f"{module} -> " in lint.stdout, (module, lint.stdout)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under `root` (PYTHONPATH wins over the editable install)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)


def string_import_offenders(package: Path) -> list[str]:
    """`path: target` for each string import that a [tool.importlinter] contract forbids, or that names no
    module statically (an f-string must at least fix the package it imports from)."""
    config = tomllib.loads((package.parent / "pyproject.toml").read_text())["tool"]["importlinter"]
    offenders = []
    for path in sorted(package.rglob("*.py")):
        source = "cobrowse_cli." + ".".join(path.relative_to(package).with_suffix("").parts)
        for target in _string_imports(ast.parse(path.read_text(), str(path)), source):
            rel = path.relative_to(package).as_posix()
            if target is None:
                offenders.append(f"{rel}: an import by a name no one can check")
            elif _forbidden(config, source.removesuffix(".__init__"), target):
                offenders.append(f"{rel}: {target}")
    return offenders


def _string_imports(tree: ast.AST, source: str):
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and _is_import_call(node.func)):
            continue
        name = _static_prefix(node.args[0])
        if name is None:
            yield None
            continue
        if name.startswith("."):  # import_module(".x", "cobrowse_cli.pkg")
            anchor = _static_prefix(node.args[1]) if len(node.args) > 1 else None
            anchor = anchor or next((_static_prefix(k.value) for k in node.keywords if k.arg == "package"), None)
            if anchor is None:
                yield None
                continue
            name = anchor + name
        if name.split(".")[0] == "cobrowse_cli":
            yield name.rstrip(".")


def _is_import_call(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__")


def _static_prefix(node: ast.expr) -> str | None:
    """The module name, or the literal part before the first placeholder of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        prefix = node.values[0].value
        return prefix if prefix.count(".") >= 1 else None
    return None


def _forbidden(config: dict, source: str, target: str) -> bool:
    def within(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    for contract in config["contracts"]:
        if contract["type"] == "forbidden":
            if any(within(source, s) for s in contract["source_modules"]) and \
                    any(within(target, f) or within(f, target) for f in contract["forbidden_modules"]):
                return True
        elif contract["type"] == "layers":
            rank = {}
            for i, layer in enumerate(contract["layers"]):
                for name in layer.replace(":", "|").split("|"):
                    rank[f"{contract['containers'][0]}.{name.strip()}"] = i
            src = next((r for m, r in rank.items() if within(source, m)), None)
            dst = next((r for m, r in rank.items() if within(target, m) or within(m, target)), None)
            if src is not None and dst is not None and dst < src:
                return True
    return False


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
