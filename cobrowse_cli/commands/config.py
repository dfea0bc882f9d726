"""`cobrowse config list | get | set | unset | path | profiles | use | rename | delete`: the config file.

The profile edited is the root --profile (or COBROWSE_PROFILE, or default_profile, or "default").
`set` creates the profile when needed; token values are always shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._output import write_json
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import OK, NotFound, UsageError


@dataclass
class ConfigOptions:
    key: str | None = None
    value: str | None = None
    all_profiles: bool = False
    json: bool = False
    name: str | None = None  # use, rename (the old name), delete
    new_name: str | None = None  # rename
    yes: bool = False  # delete


def register(root: typer.Typer) -> None:
    app = typer.Typer(
        help="Show and edit the config file (profiles, API URL, credentials).",
        no_args_is_help=True,
        epilog=epilog(
            "cobrowse config list --all", "cobrowse config set api https://eu.cobrowse.io",
            notes="Keys: default_profile, api, license_key, token, private_key, sub, name, role, token_ttl, insecure. "
            "Precedence: flag > environment (COBROWSE_TOKEN, COBROWSE_API, COBROWSE_LICENSE, COBROWSE_PROFILE) "
            "> profile > default.",
        ),
    )
    root.add_typer(app, name="config")

    @app.command("list", epilog=epilog("cobrowse config list", "cobrowse config list --all --json"))
    def list_(
        ctx: typer.Context,
        all_profiles: Annotated[bool, typer.Option("--all", "-a", help="Every profile, as profiles.NAME.KEY=VALUE.")] = False,
        json_: Annotated[bool, typer.Option("--json", help="A JSON object (tokens still masked).")] = False,
    ) -> None:
        """List the profile's settings as KEY=VALUE (tokens masked)."""
        raise typer.Exit(run_list(ConfigOptions(all_profiles=all_profiles, json=json_), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config get api", "cobrowse --profile eu config get token"))
    def get(ctx: typer.Context, key: KeyArg) -> None:
        """Print one value (tokens masked); exit 4 when it is not set."""
        raise typer.Exit(run_get(ConfigOptions(key=key), get_context(ctx)))

    @app.command("set", epilog=epilog("cobrowse config set api https://cobrowse.example.com", "mint-token | cobrowse config set token -", "cobrowse config set default_profile eu"))
    def set_(
        ctx: typer.Context,
        key: KeyArg,
        value: Annotated[str, typer.Argument(help="The value; '-' reads it from stdin (for tokens).")],
    ) -> None:
        """Set a value in the profile (created if needed); values are validated first."""
        raise typer.Exit(run_set(ConfigOptions(key=key, value=value), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config unset token"))
    def unset(ctx: typer.Context, key: KeyArg) -> None:
        """Remove a value from the profile (a profile left empty is removed)."""
        raise typer.Exit(run_unset(ConfigOptions(key=key), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config path", "COBROWSE_CONFIG=./ops.toml cobrowse config path"))
    def path(ctx: typer.Context) -> None:
        """Print the config file's path (COBROWSE_CONFIG overrides it)."""
        raise typer.Exit(run_path(ConfigOptions(), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config profiles", "cobrowse config profiles --json"))
    def profiles(
        ctx: typer.Context,
        json_: Annotated[bool, typer.Option("--json", help="A JSON array of {name, current, default}.")] = False,
    ) -> None:
        """List the profiles; `*` marks the one commands use now (--profile, COBROWSE_PROFILE or the default)."""
        raise typer.Exit(run_profiles(ConfigOptions(json=json_), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config use eu"))
    def use(ctx: typer.Context, name: ProfileArg) -> None:
        """Make NAME the default profile (sets default_profile)."""
        raise typer.Exit(run_use(ConfigOptions(name=name), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config rename default us"))
    def rename(ctx: typer.Context, old: ProfileArg, new: Annotated[str, typer.Argument(help="The new name.")]) -> None:
        """Rename a profile (default_profile follows it)."""
        raise typer.Exit(run_rename(ConfigOptions(name=old, new_name=new), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse config delete eu", "cobrowse config delete eu --yes"))
    def delete(
        ctx: typer.Context,
        name: ProfileArg,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Delete a profile and its saved credentials (asks first on a terminal)."""
        raise typer.Exit(run_delete(ConfigOptions(name=name, yes=yes), get_context(ctx)))


def _complete_keys(incomplete: str) -> list[str]:
    from cobrowse_cli.config import keys

    return [key for key in keys.all_keys() if key.startswith(incomplete)]


def _complete_profile_names(incomplete: str) -> list[str]:
    from cobrowse_cli.config import profile_names

    return [name for name in profile_names() if name.startswith(incomplete)]


KeyArg = Annotated[str, typer.Argument(help="A config key, e.g. api.", autocompletion=_complete_keys)]
ProfileArg = Annotated[str, typer.Argument(help="A profile name.", autocompletion=_complete_profile_names)]


def profiles_ops():
    from cobrowse_cli.config import profiles

    return profiles


def _edit(ctx: Context, change, message: str) -> None:
    from cobrowse_cli.config import config_path, store

    path = config_path()
    data = store.load(path)
    change(data)
    store.save(path, data)
    ctx.stderr.write(message + "\n")


def run_profiles(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.config import store

    _, data = _load()
    current = _profile_name(ctx, data, must_exist=False)
    default = data.get("default_profile")
    rows = [{"name": n, "current": n == current, "default": n == default} for n in store.profiles(data)]
    if opts.json or ctx.globals.jq is not None:
        write_json(ctx, rows, indent=2)
        return OK
    ctx.stdout.writelines(f"{'*' if r['current'] else ' '} {r['name']}\n" for r in rows)
    if not rows:
        ctx.stderr.write("no profiles yet: run `cobrowse auth login`\n")
    return OK


def run_use(opts: ConfigOptions, ctx: Context) -> int:
    name = opts.name or ""
    _edit(ctx, lambda data: profiles_ops().use(data, name), f"default profile is now {name!r}")
    return OK


def run_rename(opts: ConfigOptions, ctx: Context) -> int:
    old, new = opts.name or "", opts.new_name or ""
    _edit(ctx, lambda data: profiles_ops().rename(data, old, new), f"profile {old!r} is now {new!r}")
    return OK


def run_delete(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.commands._prompt import confirm
    from cobrowse_cli.config import profiles

    name, yes = opts.name or "", opts.yes
    _, data = _load()
    profiles.delete(dict(data, profiles=dict(data.get("profiles") or {})), name)  # checks the name first
    if not yes:
        if not (ctx.stdin.isatty() and ctx.stderr.isatty()):
            raise UsageError(f"refusing to delete profile {name!r} without confirmation: not a terminal; pass --yes")
        confirm(f"Delete profile {name!r} and its saved credentials?", stderr=ctx.stderr)
    _edit(ctx, lambda d: profiles.delete(d, name), f"deleted profile {name!r}")
    return OK




def _profile_name(ctx: Context, data: dict, *, must_exist: bool) -> str:
    """The profile to show or edit: --profile / COBROWSE_PROFILE, else default_profile, else "default"."""
    from cobrowse_cli.config import keys, select_profile, store

    name, source = select_profile(ctx.globals.profile, data)
    keys.check_profile_name(name)
    profiles = store.profiles(data)
    if must_exist and source in ("flag", "env") and name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(f"unknown profile {name!r}; known profiles: {known}")
    return name


def _load():
    from cobrowse_cli.config import config_path, store

    path = config_path()
    return path, store.load(path)


def run_list(opts: ConfigOptions, ctx: Context) -> int:
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
        name = _profile_name(ctx, data, must_exist=True)
        conf = store.profiles(data).get(name, {})
        flat = {key: keys.display(key, conf[key]) for key in keys.PROFILE_KEYS if key in conf}
        flat.update({key: keys.display(key, v) for key, v in conf.items() if key not in keys.PROFILE_KEYS})
    if opts.json or ctx.globals.jq is not None:
        write_json(ctx, flat, indent=2)
    else:
        ctx.stdout.writelines(f"{key}={value}\n" for key, value in flat.items())
    return OK


def run_get(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.config import keys, store

    key = keys.check_key(opts.key or "")
    _, data = _load()
    if key in keys.TOP_KEYS:
        value = data.get(key)
        where = "the config file"
    else:
        name = _profile_name(ctx, data, must_exist=True)
        value = store.profiles(data).get(name, {}).get(key)
        where = f"profile {name!r}"
    if value is None:
        raise NotFound(f"{key} is not set in {where}")
    ctx.stdout.write(keys.display(key, value) + "\n")
    return OK


def run_set(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.config import config_path, keys, store

    key = keys.check_key(opts.key or "")
    raw = opts.value or ""
    if raw == "-":
        raw = ctx.stdin.read().strip()
    value = keys.validate(key, raw)
    path = config_path()
    with store.transaction(path) as data:  # a file that does not parse stops us here, untouched
        if key in keys.TOP_KEYS:
            known = store.profiles(data)
            if value not in known:
                raise UsageError(f"no profile named {value!r}; known profiles: {', '.join(sorted(known)) or 'none'}")
            data[key] = value
        else:
            name = _profile_name(ctx, data, must_exist=False)
            profile = data.setdefault("profiles", {}).setdefault(name, {})
            profile[key] = value
            if key == "private_key" and "token" in profile:
                ctx.stderr.write(f"note: profile {name!r} also has a static token, which takes precedence over minting\n")
    return OK


def run_unset(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.config import config_path, keys, store

    key = keys.check_key(opts.key or "")
    path = config_path()
    with store.transaction(path) as data:  # saved only if something changed
        if key in keys.TOP_KEYS:
            target = data
        else:
            name = _profile_name(ctx, data, must_exist=True)
            target = store.profiles(data).get(name, {})
        if key not in target:
            return OK  # already unset: nothing to write
        del target[key]  # cached minted tokens need no purge: their cache key covers every claim
        if target is not data:
            from cobrowse_cli.config.profiles import drop_if_empty

            if drop_if_empty(data, name):
                ctx.stderr.write(f"profile {name!r} is now empty and was removed\n")
    return OK


def run_path(opts: ConfigOptions, ctx: Context) -> int:
    from cobrowse_cli.config import config_path

    ctx.stdout.write(f"{config_path()}\n")
    return OK
