"""One message for a value outside a closed set: the valid ones listed, the closest suggested.

Used for --state, --json fields, --columns and --by keys (gh's "Unknown JSON field" is the model,
on one line). Stdlib only.
"""

from __future__ import annotations

from cobrowse_cli.exitcodes import UsageError


def closest(value: str, valid: list[str] | tuple[str, ...]) -> str | None:
    import difflib

    found = difflib.get_close_matches(value.lower(), [v.lower() for v in valid], n=1, cutoff=0.6)
    return next((v for v in valid if found and v.lower() == found[0]), None)


def unknown(what: str, value: str, valid: list[str] | tuple[str, ...], *, extra: str = "") -> UsageError:
    """UsageError('unknown --state "actve" (did you mean "active"?); valid: pending, …')."""
    guess = closest(value, valid)
    hint = f' (did you mean "{guess}"?)' if guess else ""
    return UsageError(f'unknown {what} "{value}"{hint}; valid: {", ".join(valid)}{extra}')
