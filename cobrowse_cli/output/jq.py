"""`--jq EXPR`: filter JSON output with libjq (the `jq` package), loaded only when --jq is given.

As with gh, each result is printed on its own line: a string raw, anything else as compact JSON.
"""

from __future__ import annotations

from typing import Any, Iterable, TextIO

from cobrowse_cli.exitcodes import UsageError


def compile_program(expr: str):
    """The compiled program; a syntax error (or a missing jq package) is a usage error, before any request."""
    try:
        import jq
    except ImportError:
        raise UsageError("--jq needs the jq package: pip install jq") from None
    try:
        return jq.compile(expr)
    except ValueError as e:
        raise UsageError(f"invalid --jq expression: {_first_line(e)}") from None


def write_results(program, value: Any, out: TextIO) -> int:
    """Run `program` on `value` and write each result; returns how many."""
    from cobrowse_cli.output.machine import dumps

    try:
        results: Iterable[Any] = program.input_value(value).all()
    except ValueError as e:
        raise UsageError(f"--jq: {_first_line(e)}") from None
    count = 0
    for result in results:
        out.write((result if isinstance(result, str) else dumps(result)) + "\n")
        count += 1
    out.flush()
    return count


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
