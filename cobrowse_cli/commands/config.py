"""`cobrowse config list | get | set | unset | path`: read and edit the config file's profiles.

The profile edited is the root --profile (or COBROWSE_PROFILE, or default_profile, or "default").
`set` creates the profile when needed; token values are always shown masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

import typer

from cobrowse_cli.commands._common import epilog, get_env
from cobrowse_cli.commands._context import Env
from cobrowse_cli.exitcodes import EPILOG, CLIError, UsageError


@dataclass
class ConfigOpts:
    key: str | None = None
    value: str | None = None
    all_profiles: bool = False
    json: bool = False


def register(root: typer.Typer) -> None:
    app = typer.Typer(
        help="Show and edit the config file (profiles, API URL, credentials).",
        no_args_is_help=True,
        epilog="Examples:\n\n  cobrowse config list --all\n\n  cobrowse config set api https://eu.cobrowse.io\n\n"
        "Keys: default_profile, api, license_key, token, private_key, sub, name, role, token_ttl, insecure. "
        "Precedence: flag > environment (COBROWSE_TOKEN, COBROWSE_API, COBROWSE_LICENSE, COBROWSE_PROFILE) "
        "> profile > default.\n\n" + EPILOG,
    )
    root.add_typer(app, name="config")

    @app.command("list", epilog=epilog("cobrowse config list", "cobrowse config list --all --json"))
    def list_(
        ctx: typer.Context,
        all_profiles: Annotated[bool, typer.Option("--all", "-a", help="Every profile, as profiles.NAME.KEY=VALUE.")] = False,
        json_: Annotated[bool, typer.Option("--json", help="A JSON object (tokens still masked).")] = False,
    ) -> None:
        """List the profile's settings as KEY=VALUE (tokens masked)."""
        run_list(ConfigOpts(all_profiles=all_profiles, json=json_), get_env(ctx))

    @app.command(epilog=epilog("cobrowse config get api", "cobrowse --profile eu config get token"))
    def get(ctx: typer.Context, key: Annotated[str, typer.Argument(help="A config key, e.g. api.")]) -> None:
        """Print one value (tokens masked); exit 1 when it is not set."""
        run_get(ConfigOpts(key=key), get_env(ctx))

    @app.command("set", epilog=epilog("cobrowse config set api https://cobrowse.example.com", "mint-token | cobrowse config set token -", "cobrowse config set default_profile eu"))
    def set_(
        ctx: typer.Context,
        key: Annotated[str, typer.Argument(help="A config key, e.g. api.")],
        value: Annotated[str, typer.Argument(help="The value; '-' reads it from stdin (for tokens).")],
    ) -> None:
        """Set a value in the profile (created if needed); values are validated first."""
        run_set(ConfigOpts(key=key, value=value), get_env(ctx))

    @app.command(epilog=epilog("cobrowse config unset token"))
    def unset(ctx: typer.Context, key: Annotated[str, typer.Argument(help="A config key, e.g. token.")]) -> None:
        """Remove a value from the profile."""
        run_unset(ConfigOpts(key=key), get_env(ctx))

    @app.command(epilog=epilog("cobrowse config path", "COBROWSE_CONFIG=./ops.toml cobrowse config path"))
    def path(ctx: typer.Context) -> None:
        """Print the config file's path (COBROWSE_CONFIG overrides it)."""
        run_path(ConfigOpts(), get_env(ctx))




def _profile_name(env: Env, data: dict, *, must_exist: bool) -> str:
    """The profile to show or edit: --profile / COBROWSE_PROFILE, else default_profile, else "default"."""
    from cobrowse_cli.config import DEFAULT_PROFILE, keys, store

    explicit = env.globals.profile or os.environ.get("COBROWSE_PROFILE") or None
    name = explicit or data.get("default_profile") or DEFAULT_PROFILE
    keys.check_profile_name(name)
    profiles = store.profiles(data)
    if must_exist and explicit and name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(f"unknown profile {name!r}; known profiles: {known}")
    return name


def _load():
    from cobrowse_cli.config import config_path, store

    path = config_path()
    return path, store.load(path)


def run_list(opts: ConfigOpts, env: Env) -> None:
    from cobrowse_cli.config import keys, store

    _, data = _load()
    if opts.all_profiles:
        flat: dict[str, str] = {}
        if "default_profile" in data:
            flat["default_profile"] = data["default_profile"]
        for pname, conf in sorted(store.profiles(data).items()):
            for key, value in conf.items():
                flat[f"profiles.{pname}.{key}"] = keys.display(key, value)
    else:
        name = _profile_name(env, data, must_exist=True)
        conf = store.profiles(data).get(name, {})
        flat = {key: keys.display(key, conf[key]) for key in keys.PROFILE_KEYS if key in conf}
        flat.update({key: keys.display(key, v) for key, v in conf.items() if key not in keys.PROFILE_KEYS})
    if opts.json:
        from cobrowse_cli.output.machine import dumps

        env.stdout.write(dumps(flat, indent=2) + "\n")
    else:
        env.stdout.writelines(f"{key}={value}\n" for key, value in flat.items())


def run_get(opts: ConfigOpts, env: Env) -> None:
    from cobrowse_cli.config import keys, store

    key = keys.check_key(opts.key or "")
    _, data = _load()
    if key in keys.TOP_KEYS:
        value = data.get(key)
        where = "the config file"
    else:
        name = _profile_name(env, data, must_exist=True)
        value = store.profiles(data).get(name, {}).get(key)
        where = f"profile {name!r}"
    if value is None:
        raise CLIError(f"{key} is not set in {where}", exit_code=1)
    env.stdout.write(keys.display(key, value) + "\n")


def run_set(opts: ConfigOpts, env: Env) -> None:
    from cobrowse_cli.config import config_path, keys, store

    key = keys.check_key(opts.key or "")
    raw = opts.value or ""
    if raw == "-":
        raw = env.stdin.read().strip()
    value = keys.validate(key, raw)
    path = config_path()
    with store.transaction(path) as data:  # a file that does not parse stops us here, untouched
        if key in keys.TOP_KEYS:
            known = store.profiles(data)
            if value not in known:
                raise UsageError(f"no profile named {value!r}; known profiles: {', '.join(sorted(known)) or 'none'}")
            data[key] = value
        else:
            name = _profile_name(env, data, must_exist=False)
            profile = data.setdefault("profiles", {}).setdefault(name, {})
            profile[key] = value
            if key == "private_key" and "token" in profile:
                env.stderr.write(f"note: profile {name!r} also has a static token, which takes precedence over minting\n")


def run_unset(opts: ConfigOpts, env: Env) -> None:
    from cobrowse_cli.config import config_path, keys, store

    key = keys.check_key(opts.key or "")
    path = config_path()
    with store.transaction(path) as data:  # saved only if something changed
        if key in keys.TOP_KEYS:
            target = data
        else:
            name = _profile_name(env, data, must_exist=True)
            target = store.profiles(data).get(name, {})
        target.pop(key, None)  # cached minted tokens need no purge: their cache key covers every claim


def run_path(opts: ConfigOpts, env: Env) -> None:
    from cobrowse_cli.config import config_path

    env.stdout.write(f"{config_path()}\n")
