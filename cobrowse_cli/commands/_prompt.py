"""Questions at a terminal: each answer is checked as it is given and asked again until it is valid.

confirm() is the one yes/no gate before a change: no (or just Enter) raises exitcodes.Declined
(exit 10, "declined: nothing was changed"), never the Ctrl-C code.
"""

from __future__ import annotations

from typing import Any, Callable, TextIO

from cobrowse_cli.exitcodes import Declined, UsageError

MAX_TRIES = 5  # a script feeding a terminal garbage must not loop for ever
YES, NO = ("y", "yes"), ("n", "no")


def ask(question: str, *, check: Callable[[str], Any] | None = None, default: str | None = None,
        hide: bool = False, stderr: TextIO | None = None) -> Any:
    """Prompt on stderr; `check(answer)` returns the value to use or raises UsageError (said, then re-asked)."""
    import typer

    for _ in range(MAX_TRIES):
        answer = typer.prompt(question, default=default, hide_input=hide, err=True,
                              show_default=bool(default) and not hide)
        try:
            return check(answer) if check else answer
        except UsageError as e:
            _say(stderr, f"  {e}; try again")
    raise UsageError(f"no valid answer to {question!r} after {MAX_TRIES} tries")


def choice(question: str, options: dict[str, str], *, default: str, stderr: TextIO | None = None) -> str:
    """One of `options` (typed key or full word -> its key), e.g. {"t": "token", "k": "key"}."""

    def check(answer: str) -> str:
        text = answer.strip().lower()
        for key, word in options.items():
            if text in (key, word):
                return key
        raise UsageError(f"answer {' or '.join(options)}")

    return ask(question, check=check, default=default, stderr=stderr)


def confirm(question: str, *, stderr: TextIO | None = None) -> None:
    """`question [y/N]`: yes returns, no or Enter raises Declined; anything else is asked again."""

    def check(answer: str) -> bool:
        text = answer.strip().lower()
        if text in YES:
            return True
        if text in NO or not text:
            raise Declined()
        raise UsageError("answer y or n")

    ask(f"{question} [y/N]", check=check, default="", stderr=stderr)


def _say(stderr: TextIO | None, message: str) -> None:
    import sys

    out = stderr or sys.stderr
    out.write(message + "\n")
    out.flush()
