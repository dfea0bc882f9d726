"""Root Typer app: global options, command registration and the one place errors become exit codes.

Start-up matters (cron runs this every minute): nothing here imports httpx, rich, jwt or the sandbox.
Command modules follow the same rule and import heavy modules inside the functions that use them.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Optional

import typer

from cobrowse_cli import __version__, exitcodes
from cobrowse_cli.commands._context import Env, Globals

# Command name -> module exposing register(root); order is the order shown in --help.
COMMAND_MODULES = {
    "count-active": "count",
    "sessions": "sessions",
    "devices": "devices",
    "auth": "auth",
    "config": "config",
    "api": "api",
    "completion": "completion",
    "sandbox": "sandbox",
}
_registered: set[str] = set()

def _plain_required_arguments() -> None:
    """Usage lines show a required argument as `ID` (gh, kubectl, man pages), not Typer's `{ID}`, which
    reads like a set of choices."""
    from typer import core

    original = core.TyperArgument.make_metavar

    def make_metavar(self, ctx, *, usage: bool = False) -> str:
        var = original(self, ctx, usage=usage)
        return var[1:-1] if usage and var.startswith("{") and var.endswith("}") else var

    core.TyperArgument.make_metavar = make_metavar


_plain_required_arguments()

app = typer.Typer(
    name="cobrowse",
    help="Support operations on the Cobrowse.io agent API: sessions, devices, live updates.",
    epilog="Examples:\n\n  cobrowse --sandbox count-active --by agent\n\n  cobrowse sessions list --filter user_id=42 --json\n\n"
    + exitcodes.EPILOG,
    no_args_is_help=True,
    add_completion=False,  # `cobrowse completion` prints the script; Typer's options would edit ~/.bashrc
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"cobrowse {__version__}")
        raise typer.Exit()


def _complete_profiles(incomplete: str) -> list[str]:
    """Shell completion for --profile: the names in the config file (read with tomllib only)."""
    from cobrowse_cli.config import profile_names

    return [name for name in profile_names() if name.startswith(incomplete)]


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    profile: Annotated[
        Optional[str],
        typer.Option(
            "--profile", "-p", help="Config profile to use [env: COBROWSE_PROFILE].",
            autocompletion=_complete_profiles,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log requests to stderr (secrets redacted); show tracebacks.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Disable colour (NO_COLOR is honoured too).")] = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Run the command against an embedded, seeded sandbox (no account needed). Needs the sandbox extra.",
        ),
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow sending a token over plain http to a non-loopback host.")
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Tables: every column at full width, nothing shortened.")] = False,
    jq: Annotated[
        Optional[str],
        typer.Option("--jq", metavar="EXPR", help="Filter a command's JSON output with a jq expression (implies --json)."),
    ] = None,
) -> None:
    ctx.obj = Env(
        Globals(
            profile=profile,
            debug=debug or _env_flag("COBROWSE_DEBUG"),
            no_color=no_color or bool(os.environ.get("NO_COLOR")),
            sandbox=sandbox or _env_flag("COBROWSE_SANDBOX"),
            insecure=insecure,
            wide=wide,
            jq=jq,
        )
    )
    ctx.call_on_close(ctx.obj.close)


def version_command() -> None:
    """Print the version (the same as --version)."""
    print(f"cobrowse {__version__}")


def help_command(
    ctx: typer.Context,
    command: Annotated[Optional[list[str]], typer.Argument(metavar="[COMMAND]...", help="e.g. sessions list")] = None,
) -> None:
    """Show help for a command: `cobrowse help sessions list` is `cobrowse sessions list --help`."""
    from cobrowse_cli.choices import unknown

    root = ctx.find_root()
    target, target_ctx = root.command, root
    for name in command or []:
        names = sorted(getattr(target, "commands", {}))
        sub = target.get_command(target_ctx, name) if names else None
        if sub is None:
            raise unknown("command", name, names) if names else \
                exitcodes.UsageError(f"'{target_ctx.command_path}' has no subcommands")
        target, target_ctx = sub, sub.make_context(name, [], parent=target_ctx, resilient_parsing=True)
    print(target_ctx.get_help())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")


def register_commands(names: list[str] | None = None) -> typer.Typer:
    """Register command groups (all by default) on the root app; idempotent. Returns the app."""
    for name in COMMAND_MODULES if names is None else names:
        if name not in _registered:
            _registered.add(name)
            importlib.import_module(f"cobrowse_cli.commands.{COMMAND_MODULES[name]}").register(app)
    if "version" not in _registered:  # last in --help, after the command groups
        _registered.add("version")
        app.command("version", epilog="Examples:\n\n  cobrowse version\n\n" + exitcodes.EPILOG)(version_command)
        app.command("help", context_settings={"ignore_unknown_options": True},
                    epilog="Examples:\n\n  cobrowse help sessions list\n\n" + exitcodes.EPILOG)(help_command)
    return app


def _needed_commands(args: list[str]) -> list[str] | None:
    """Only the group argv names (a cron run of count-active need not build the other seven);
    None (all of them) for help, completion, typos, or anything unclear."""
    if os.environ.get("_COBROWSE_COMPLETE"):
        return None
    rest = iter(args)
    for arg in rest:
        if arg in _GLOBAL_VALUED:
            next(rest, None)
        elif not arg.startswith("-"):
            return [arg] if arg in COMMAND_MODULES else None
    return None


_GLOBAL_FLAGS = {"--debug", "--no-color", "--sandbox", "--insecure", "--version", "--wide"}
_GLOBAL_VALUED = {"--profile", "-p", "--jq"}


def _hoist_globals(args: list[str]) -> list[str]:
    """Global options given after the subcommand move in front of it, as kubectl and gh accept them
    (`cobrowse sessions list --profile eu`); an option the subcommand itself declares stays its own
    (`auth login --sandbox`)."""
    first = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    if not any(a.split("=", 1)[0] in _GLOBAL_FLAGS | _GLOBAL_VALUED for a in args[first + 1:]):
        return args  # the common case: nothing to move, and no need to build the command tree
    command = typer.main.get_command(app)
    front: list[str] = []
    rest: list[str] = []
    it = iter(enumerate(args))
    for i, arg in it:
        if arg == "--":
            rest += args[i:]
            break
        own = _option_arity(command, arg.split("=", 1)[0])
        if own is not None:  # the current command's own option (and its value)
            rest.append(arg)
            if own and "=" not in arg:
                rest += [v for _, v in [next(it, (None, None))] if v is not None]
        elif arg.split("=", 1)[0] in _GLOBAL_FLAGS | _GLOBAL_VALUED and rest:
            front.append(arg)
            if arg in _GLOBAL_VALUED:
                front += [v for _, v in [next(it, (None, None))] if v is not None]
        else:
            rest.append(arg)
            sub = getattr(command, "commands", {}).get(arg) if not arg.startswith("-") else None
            if sub is not None:
                command = sub
    return front + rest


def _option_arity(command, name: str) -> int | None:
    """None: `command` has no option `name`; 0: a flag; 1: it takes a value."""
    for param in getattr(command, "params", []):
        if name in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
            return 0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else 1
    return None


# Commands whose output is JSON (or can be): where a global --jq means something.
JQ_COMMANDS = {
    "count-active", "sessions list", "sessions get", "sessions update", "sessions end", "sessions watch",
    "devices list", "devices get", "devices watch", "auth status", "config list", "config profiles",
}


def _check_jq_target(args: list[str]) -> None:
    """--jq on a command that prints no JSON is a usage error, not silently ignored."""
    if not any(a == "--jq" or a.startswith("--jq=") for a in args) or "--help" in args or "-h" in args:
        return
    path = _command_path(None, args).removeprefix("cobrowse").strip()
    if path and path not in JQ_COMMANDS and not getattr(_find(path), "commands", None):
        raise exitcodes.UsageError(f"--jq does not apply to '{path}': it prints no JSON")


def _find(path: str):
    command = typer.main.get_command(app)
    for name in path.split():
        command = getattr(command, "commands", {}).get(name, command)
    return command


def _expand_json_fields(args: list[str]) -> list[str]:
    """`--json=id,state` and `--json id,state` are gh's field selection; Typer flags take no value, so
    split them. A following word counts as fields only when every name in it is a known field, so
    `sessions get --json 123456` still means the session."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if arg.startswith("--json="):
            out += ["--json", "--fields", arg.split("=", 1)[1]]
        elif out[-1:] == ["--json"] and not arg.startswith("-") and _is_field_list(arg):
            out += ["--fields", arg]
        else:
            out.append(arg)
    return out


def _is_field_list(word: str) -> bool:
    from cobrowse_cli.commands._columns import is_field_list

    return is_field_list(word)


def _error(message: str) -> None:
    # One line, always: user input echoed in a message may hold newlines or other separators.
    message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    sys.stderr.write(f"cobrowse: {message}\n")
    sys.stderr.flush()


def _quiet_broken_pipe() -> int:
    # Point stdout at devnull so the interpreter's final flush cannot complain.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return exitcodes.OK


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for user errors)."""
    typed = list(sys.argv[1:] if argv is None else argv)
    args = _expand_json_fields(typed)
    debug = "--debug" in args or _env_flag("COBROWSE_DEBUG")
    for position, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")  # bytes that are not UTF-8 arrive as lone surrogates and break later, anywhere
        except UnicodeEncodeError:
            _error(f"argument {position} ({arg!r}) is not valid UTF-8 text")
            return exitcodes.USAGE
    register_commands(_needed_commands(args))
    if os.environ.get("_COBROWSE_COMPLETE"):  # Typer's shell classes, without its --install-completion
        from typer.completion import completion_init

        completion_init()
    try:
        args = _hoist_globals(args)
        _check_jq_target(args)
        rv = app(args=args, prog_name="cobrowse", standalone_mode=False)
        return rv if isinstance(rv, int) else exitcodes.OK
    except KeyboardInterrupt:
        _error("interrupted")
        return exitcodes.INTERRUPTED
    except (BrokenPipeError, exitcodes.StdoutClosed):
        return _quiet_broken_pipe()
    except exitcodes.CLIError as e:
        _traceback_if(debug)
        _error(str(e))
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - the one place errors become exit codes
        return _map_exception(e, debug, args, json_fields="--fields" in args and "--fields" not in typed)


def _map_exception(e: Exception, debug: bool, args: list[str], *, json_fields: bool = False) -> int:
    from typer._click import exceptions as click_exc  # typer 0.28 vendors click

    client_code = _client_exit_code(e)
    if client_code is not None:
        _traceback_if(debug)
        _error(_redact(str(e)))  # a server may echo a token in its message
        return client_code
    if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] in ("starlette", "uvicorn"):
        _error("the sandbox needs the sandbox extra: pip install 'cobrowse-cli[sandbox]'")
        return exitcodes.USAGE
    if isinstance(e, click_exc.NoArgsIsHelpError) and e.ctx is not None:
        print(e.ctx.get_help())  # `cobrowse` or `cobrowse sessions` alone: help, as gh does
        return exitcodes.OK
    if isinstance(e, click_exc.UsageError):
        if isinstance(e, click_exc.NoSuchOption) and e.option_name == "--fields" and json_fields:
            _error("this command's --json takes no field list; use --json alone")  # from --json=FIELDS
            return exitcodes.USAGE
        stray = _stray_json_word(args, e.format_message())
        if stray:  # `--json stat`: a mistyped field list, not an argument
            from cobrowse_cli.commands._columns import unknown_field

            _error(str(unknown_field(stray)))
            return exitcodes.USAGE
        _error(f"{e.format_message()} (see '{_command_path(e.ctx, args)} --help')")
        return exitcodes.USAGE
    if isinstance(e, typer.Abort):
        _error("aborted")
        return exitcodes.INTERRUPTED
    if isinstance(e, click_exc.ClickException):
        _error(e.format_message())
        return e.exit_code
    _traceback_if(debug)
    _error(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)")
    return exitcodes.API_ERROR


def _stray_json_word(args: list[str], message: str) -> str | None:
    """The word after --json that click rejected as an extra argument, if that is what happened."""
    if "unexpected extra argument" not in message:
        return None
    for before, word in zip(args, args[1:]):
        if before == "--json" and f"({word})" in message:
            return word
    return None


def _command_path(ctx, args: list[str]) -> str:
    """The deepest command argv names: click may report a parse error against the root context."""
    path = ctx.command_path if ctx else "cobrowse"
    if path != "cobrowse":
        return path
    command, names = typer.main.get_command(app), ["cobrowse"]
    for arg in args:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is not None:
            command = sub
            names.append(arg)
    return " ".join(names)


def _traceback_if(debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()


def _redact(message: str) -> str:
    from cobrowse_cli.client.redact import redact

    return redact(message)


def _client_exit_code(e: Exception) -> int | None:
    if "cobrowse_cli.client.errors" not in sys.modules:
        return None
    from cobrowse_cli.client import errors

    if not isinstance(e, errors.CobrowseError):
        return None
    if isinstance(e, (errors.AuthenticationError, errors.ForbiddenError)):
        return exitcodes.AUTH
    if isinstance(e, errors.NotFoundError):
        return exitcodes.NOT_FOUND
    if isinstance(e, errors.InsecureTransportError):
        return exitcodes.USAGE
    return exitcodes.API_ERROR
