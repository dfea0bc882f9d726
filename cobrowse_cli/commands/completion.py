"""`cobrowse completion [bash|zsh|fish]`: print the shell completion script.

The script is exactly what Typer generates for prog `cobrowse` (completions/ holds the same text,
checked by tests/test_completions.py); the shell then calls `cobrowse` with _COBROWSE_COMPLETE set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.commands._options import epilog
from cobrowse_cli.exitcodes import UsageError

PROG_NAME = "cobrowse"
COMPLETE_VAR = "_COBROWSE_COMPLETE"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    """The script for `shell`, ending in a newline (what `cobrowse completion SHELL` prints)."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def detect_shell(environ: "os._Environ[str] | dict[str, str] | None" = None) -> str:
    """The login shell from $SHELL, when it is one we support."""
    environ = os.environ if environ is None else environ
    name = os.path.basename(environ.get("SHELL", "")).strip()
    if name in Shell.__members__:
        return name
    shown = f" ($SHELL is {name!r})" if name else ""
    raise UsageError(f"cannot tell your shell{shown}: give one of bash, zsh, fish")


EPILOG = epilog(
    "cobrowse completion bash > ~/.local/share/bash-completion/completions/cobrowse",
    "cobrowse completion zsh > \"${fpath[1]}/_cobrowse\"",
    "cobrowse completion fish > ~/.config/fish/completions/cobrowse.fish",
)


def register(root: typer.Typer) -> None:
    @root.command("completion", epilog=EPILOG)
    def completion(
        ctx: typer.Context,
        shell: Annotated[Optional[Shell], typer.Argument(help="bash, zsh or fish (default: from $SHELL).")] = None,
    ) -> None:
        """Print the shell completion script for bash, zsh or fish."""
        raise typer.Exit(run_completion(CompletionOptions(shell.value if shell else None), get_context(ctx)))


@dataclass
class CompletionOptions:
    shell: str | None = None  # None: from $SHELL


def run_completion(opts: CompletionOptions, ctx: Context) -> int:
    ctx.stdout.write(completion_script(opts.shell or detect_shell()))
    ctx.stdout.flush()
    return exitcodes.OK
