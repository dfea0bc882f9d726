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

from cobrowse_cli import __version__, argv_rules, exitcodes
from cobrowse_cli.commands._context import Context, Globals
from cobrowse_cli.commands._options import epilog

# Command name -> module exposing register(root); order is the order shown in --help.
COMMAND_MODULES = {
    "count-active": "count",
    "top": "top",
    "exporter": "exporter",
    "sessions": "sessions",
    "devices": "devices",
    "recordings": "recordings",
    "account": "account",
    "regions": "regions",
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
    epilog=epilog("cobrowse --sandbox count-active --by agent", "cobrowse sessions list --filter user_id=42 --json"),
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
    request_timeout: Annotated[
        Optional[str],
        typer.Option(
            "--request-timeout", metavar="SECONDS",
            help="Most one API request may take, connect to last byte (default 60; env COBROWSE_REQUEST_TIMEOUT).",
        ),
    ] = None,
    csv_raw: Annotated[
        bool,
        typer.Option("--csv-raw", help="--csv writes values exactly (no control escaping or formula neutralising)."),
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Tables: every column at full width, nothing shortened.")] = False,
    jq: Annotated[
        Optional[str],
        typer.Option("--jq", metavar="EXPR", help="Filter a command's JSON output with a jq expression (implies --json)."),
    ] = None,
    region: Annotated[
        Optional[str], typer.Option("--region", metavar="us|eu", help="Cloud region picking the API URL (also COBROWSE_REGION).")
    ] = None,
) -> None:
    from cobrowse_cli.config.keys import parse_seconds


    ctx.obj = Context(
        Globals(
            profile=profile,
            debug=debug or _env_flag("COBROWSE_DEBUG"),
            no_color=no_color or bool(os.environ.get("NO_COLOR")),
            sandbox=sandbox or _env_flag("COBROWSE_SANDBOX"),
            insecure=insecure,
            csv_raw=csv_raw,
            request_timeout=None if request_timeout is None else parse_seconds(request_timeout, "--request-timeout"),
            wide=wide,
            jq=jq,
            region=region,
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
        app.command("version", epilog=epilog("cobrowse version"))(version_command)
        app.command("help", context_settings={"ignore_unknown_options": True},
                    epilog=epilog("cobrowse help sessions list"))(help_command)
    return app


def _needed_commands(args: list[str]) -> list[str] | None:
    """Only the group argv names (a cron run of count-active need not build the other seven);
    None (all of them) for help, completion, typos, or anything unclear."""
    if os.environ.get("_COBROWSE_COMPLETE"):
        return None
    rest = iter(args)
    for arg in rest:
        if arg in argv_rules.GLOBAL_VALUED:
            next(rest, None)
        elif not arg.startswith("-"):
            return [arg] if arg in COMMAND_MODULES else None
    return None


def _error(message: str) -> None:
    # One line, always, and inert: a message may echo user input or a server's text.
    from cobrowse_cli.commands._context import say_prefixed
    from cobrowse_cli.output.safety import terminal_safe

    say_prefixed(sys.stderr, terminal_safe(message))


def _explained(e: Exception, message: str) -> str:
    """The message with the context a command added (commands._context.explained)."""
    prefix, suffix = getattr(e, "explained", ("", ""))
    return f"{prefix}{message}{suffix}"


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
    if "count-active" in typed:  # monitoring-plugin mode: every failure must become UNKNOWN (exit 3)
        from cobrowse_cli.commands import count_plugin

        if count_plugin.is_plugin_run(typed):
            return count_plugin.run_as_plugin(typed, _run)
    return _run(typed)


def _run(typed: list[str]) -> int:
    args = argv_rules.expand_json_fields(typed)
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
        args = argv_rules.hoist_globals(args, _click_root)
        argv_rules.check_jq_target(args, _click_root)
        rv = _click_root()(args=args, prog_name="cobrowse", standalone_mode=False)
        return rv if isinstance(rv, int) else exitcodes.OK
    except KeyboardInterrupt:
        _error("interrupted")
        return exitcodes.INTERRUPTED
    except (BrokenPipeError, exitcodes.StdoutClosed):
        return _quiet_broken_pipe()
    except exitcodes.CLIError as e:
        _traceback_if(debug)
        _error(_explained(e, str(e)))
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - the one place errors become exit codes
        return _map_exception(e, debug, args, json_fields="--fields" in args and "--fields" not in typed)


def _map_exception(e: Exception, debug: bool, args: list[str], *, json_fields: bool = False) -> int:
    from typer._click import exceptions as click_exc  # typer 0.28 vendors click

    client_code = _client_exit_code(e)
    if client_code is not None:
        _traceback_if(debug)
        _error(_explained(e, _redact(str(e))))  # a server may echo a token in its message
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
        stray = argv_rules.stray_json_word(args, e.format_message())
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


def _command_path(ctx, args: list[str]) -> str:
    """The deepest command argv names: click may report a parse error against the root context."""
    path = ctx.command_path if ctx else "cobrowse"
    return path if path != "cobrowse" else " ".join(["cobrowse", argv_rules.command_path(args, _click_root)[0]]).strip()


_click_built: tuple[frozenset[str], object] | None = None


def _click_root():
    """The click command tree, built once per set of registered groups: building it is most of a run's
    CPU once every group is registered (help, completion, and every in-process run after them)."""
    global _click_built
    key = frozenset(_registered)
    if _click_built is None or _click_built[0] != key:
        _click_built = (key, typer.main.get_command(app))
    return _click_built[1]


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
    if isinstance(e, (errors.AuthenticationError, errors.ForbiddenError, errors.RoleError)):
        return exitcodes.AUTH
    if isinstance(e, errors.NotFoundError):
        return exitcodes.NOT_FOUND
    if isinstance(e, errors.InsecureTransportError):
        return exitcodes.USAGE
    return exitcodes.API_ERROR
