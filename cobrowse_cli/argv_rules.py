"""argv before Typer sees it: gh/kubectl habits that click cannot express by itself.

- global options after the subcommand move in front of it (`cobrowse sessions list --profile eu`);
- `-o wide` becomes `--wide`; `--json=a,b` and `--json a,b` become `--json --fields a,b` (a following word only when every name
  in it is a known field, so `sessions get --json 123456` still means the session);
- `--jq` on a command that prints no JSON is refused instead of ignored.

The click command tree is built only when one of these is actually present (start-up matters).
"""

from __future__ import annotations

from typing import Callable

from cobrowse_cli.exitcodes import UsageError

GLOBAL_FLAGS = {"--debug", "--no-color", "--sandbox", "--insecure", "--version", "--wide"}
GLOBAL_VALUED = {"--profile", "-p", "--jq"}
GLOBALS = GLOBAL_FLAGS | GLOBAL_VALUED

# Commands whose output is JSON (or can be): where --jq means something.
JQ_COMMANDS = {
    "count-active", "sessions list", "sessions get", "sessions update", "sessions end", "sessions watch",
    "devices list", "devices get", "devices watch", "auth status", "config list", "config profiles",
}


def hoist_globals(args: list[str], root: Callable[[], object]) -> list[str]:
    """Global options after the subcommand move in front of it; an option the subcommand itself
    declares stays its own (`auth login --sandbox`); nothing after `--` moves. `root()` is the click
    command tree."""
    first = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    if not any(a.split("=", 1)[0] in GLOBALS for a in args[first + 1:]):
        return args  # the common case: nothing to move, and no need to build the command tree
    command = root()
    front: list[str] = []
    rest: list[str] = []
    it = iter(enumerate(args))
    for i, arg in it:
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0]
        own = option_arity(command, name)
        if own is not None:  # the current command's own option (and its value)
            rest.append(arg)
            if own and "=" not in arg:
                rest += [v for _, v in [next(it, (None, None))] if v is not None]
        elif name in GLOBALS and rest:
            front.append(arg)
            if arg in GLOBAL_VALUED:
                front += [v for _, v in [next(it, (None, None))] if v is not None]
        else:
            rest.append(arg)
            sub = getattr(command, "commands", {}).get(arg) if not arg.startswith("-") else None
            if sub is not None:
                command = sub
    return front + rest


def option_arity(command, name: str) -> int | None:
    """None: `command` has no option `name`; 0: a flag; 1: it takes a value."""
    for param in getattr(command, "params", []):
        if name in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
            return 0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else 1
    return None


def command_path(args: list[str], root: Callable[[], object]) -> tuple[str, object]:
    """("sessions list", its click command) for the subcommands argv names ("" for the root)."""
    command, names = root(), []
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is not None:
            command = sub
            names.append(arg)
    return " ".join(names), command


def check_jq_target(args: list[str], root: Callable[[], object]) -> None:
    """--jq on a command that prints no JSON is a usage error, not silently ignored."""
    if not any(a == "--jq" or a.startswith("--jq=") for a in args) or "--help" in args or "-h" in args:
        return
    path, command = command_path(args, root)
    if path and path not in JQ_COMMANDS and not getattr(command, "commands", None):
        raise UsageError(f"--jq does not apply to '{path}': it prints no JSON")


def expand_json_fields(args: list[str]) -> list[str]:
    """`--json=id,state` and `--json id,state` are gh's field selection; Typer flags take no value.
    kubectl's `-o wide` is `--wide`."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if arg in ("-owide", "--output=wide"):
            out.append("--wide")
        elif arg == "wide" and out[-1:] in (["-o"], ["--output"]):
            out[-1] = "--wide"
        elif arg.startswith("--json="):
            out += ["--json", "--fields", arg.split("=", 1)[1]]
        elif out[-1:] == ["--json"] and not arg.startswith("-") and _is_field_list(arg):
            out += ["--fields", arg]
        else:
            out.append(arg)
    return out


def stray_json_word(args: list[str], message: str) -> str | None:
    """The word after --json that click rejected as an extra argument (`--json stat`), if that happened."""
    if "unexpected extra argument" not in message:
        return None
    for before, word in zip(args, args[1:]):
        if before == "--json" and f"({word})" in message:
            return word
    return None


def _is_field_list(word: str) -> bool:
    from cobrowse_cli.commands._columns import is_field_list

    return is_field_list(word)
