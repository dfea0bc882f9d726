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

app = typer.Typer(
    name="cobrowse",
    help="Support operations on the Cobrowse.io agent API: sessions, devices, live updates.",
    epilog="Examples:\n\n  cobrowse --sandbox count-active --by agent\n\n  cobrowse sessions list --filter user_id=42 --json\n\n"
    + exitcodes.EPILOG,
    no_args_is_help=True,
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
            "--profile", "-p", envvar="COBROWSE_PROFILE", help="Config profile to use.",
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
    region: Annotated[
        Optional[str], typer.Option("--region", metavar="us|eu", help="Cloud region picking the API URL (also COBROWSE_REGION).")
    ] = None,
) -> None:
    ctx.obj = Env(
        Globals(
            profile=profile,
            debug=debug or _env_flag("COBROWSE_DEBUG"),
            no_color=no_color or bool(os.environ.get("NO_COLOR")),
            sandbox=sandbox or _env_flag("COBROWSE_SANDBOX"),
            insecure=insecure,
            region=region,
        )
    )
    ctx.call_on_close(ctx.obj.close)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")


def register_commands(names: list[str] | None = None) -> typer.Typer:
    """Register command groups (all by default) on the root app; idempotent. Returns the app."""
    for name in COMMAND_MODULES if names is None else names:
        if name not in _registered:
            _registered.add(name)
            importlib.import_module(f"cobrowse_cli.commands.{COMMAND_MODULES[name]}").register(app)
    return app


def _needed_commands(args: list[str]) -> list[str] | None:
    """Only the group argv names (a cron run of count-active need not build the other seven);
    None (all of them) for help, completion, typos, or anything unclear."""
    if os.environ.get("_COBROWSE_COMPLETE"):
        return None
    rest = iter(args)
    for arg in rest:
        if arg in ("--profile", "-p", "--region"):
            next(rest, None)
        elif not arg.startswith("-"):
            return [arg] if arg in COMMAND_MODULES else None
    return None


def _expand_json_fields(args: list[str]) -> list[str]:
    """`--json=id,state` is gh's field selection; Typer flags take no value, so split it."""
    out: list[str] = []
    for arg in args:
        if arg.startswith("--json="):
            out += ["--json", "--fields", arg.split("=", 1)[1]]
        else:
            out.append(arg)
    return out


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
    try:
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
        return _map_exception(e, debug, args, json_fields=any(a.startswith("--json=") for a in typed))


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
    if isinstance(e, (errors.AuthenticationError, errors.ForbiddenError, errors.RoleError)):
        return exitcodes.AUTH
    if isinstance(e, errors.NotFoundError):
        return exitcodes.NOT_FOUND
    if isinstance(e, errors.InsecureTransportError):
        return exitcodes.USAGE
    return exitcodes.API_ERROR
