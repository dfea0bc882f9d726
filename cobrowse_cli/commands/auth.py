"""`cobrowse auth login | status | token | logout`: who the CLI talks to the API as.

login validates the new credentials with GET /api/1/users/me BEFORE saving anything, so a typo never
replaces working settings. Prompts only on a TTY; scripts use flags (a missing credential is exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._output import write_json
from cobrowse_cli.commands._context import Context, explain, explained, get_context
from cobrowse_cli.exitcodes import OK, AuthError, CLIError, UsageError

SANDBOX_API = "http://127.0.0.1:8030"


@dataclass
class LoginOptions:
    api: str | None = None
    token: str | None = None
    token_stdin: bool = False
    private_key: str | None = None
    license: str | None = None
    sub: str | None = None
    name: str | None = None
    role: str | None = None
    token_ttl: int | None = None
    sandbox: bool = False
    state_dir: str | None = None


@dataclass
class StatusOptions:
    json: bool = False


@dataclass
class TokenOptions:
    """`auth token` has no options yet; the dataclass keeps its run() like every other."""


@dataclass
class LogoutOptions:
    """`auth logout` has no options yet (the profile is the root --profile)."""


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Log in, check who you are, print a token, log out.", no_args_is_help=True,
                      epilog=epilog("cobrowse auth login --private-key key.pem --license KEY --sub me@example.com", "cobrowse auth status"))
    root.add_typer(app, name="auth")

    @app.command(epilog=epilog("cobrowse auth login", "mint-token | cobrowse auth login --api https://eu.cobrowse.io --token-stdin", "cobrowse --profile sandbox auth login --sandbox --state-dir ./sb"))
    def login(
        ctx: typer.Context,
        api: Annotated[Optional[str], typer.Option("--api", metavar="URL", help="API base URL (default https://cobrowse.io).")] = None,
        token: Annotated[Optional[str], typer.Option("--token", metavar="JWT", help="A static agent JWT (visible in ps; prefer --token-stdin).")] = None,
        token_stdin: Annotated[bool, typer.Option("--token-stdin", help="Read the JWT from stdin.")] = False,
        private_key: Annotated[
            Optional[str], typer.Option("--private-key", metavar="PATH", help="RS256 private key (PEM) to mint tokens with.")
        ] = None,
        license: Annotated[Optional[str], typer.Option("--license", metavar="KEY", help="License key (iss of minted tokens).")] = None,
        sub: Annotated[Optional[str], typer.Option("--sub", metavar="ID", help="Agent id for minted tokens (e.g. an email).")] = None,
        name: Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="Agent display name for minted tokens.")] = None,
        role: Annotated[Optional[str], typer.Option("--role", metavar="ROLE", help="Role for minted tokens: administrator or agent.")] = None,
        token_ttl: Annotated[
            Optional[int], typer.Option("--token-ttl", metavar="SECONDS", help="Minted token lifetime (max 86400).")
        ] = None,
        sandbox: Annotated[
            bool, typer.Option("--sandbox", help=f"Point the profile at a local sandbox (--api defaults to {SANDBOX_API}).")
        ] = False,
        state_dir: Annotated[
            Optional[str],
            typer.Option(
                "--state-dir",
                metavar="DIR",
                envvar="COBROWSE_SANDBOX_STATE_DIR",
                help="With --sandbox: mint tokens with the key of the sandbox serving from DIR.",
            ),
        ] = None,
    ) -> None:
        """Save credentials for a profile after checking them against the API."""
        opts = LoginOptions(api, token, token_stdin, private_key, license, sub, name, role, token_ttl, sandbox, state_dir)
        raise typer.Exit(run_login(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse auth status", "cobrowse --profile eu auth status --json"))
    def status(
        ctx: typer.Context, json_: Annotated[bool, typer.Option("--json", help="A JSON object.")] = False
    ) -> None:
        """Show the profile, API, agent, role and token expiry (exit 3 when not logged in)."""
        raise typer.Exit(run_status(StatusOptions(json=json_), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse auth token", "cobrowse --profile eu auth token"))
    def token(ctx: typer.Context) -> None:
        """Print a valid token (minted if needed) on stdout, for scripts."""
        raise typer.Exit(run_token(TokenOptions(), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse auth logout", "cobrowse --profile staging auth logout"))
    def logout(ctx: typer.Context) -> None:
        """Remove the profile's credentials (token, private_key) and its cached minted tokens."""
        raise typer.Exit(run_logout(LogoutOptions(), get_context(ctx)))


def _profile_name(ctx: Context, data: dict) -> str:
    from cobrowse_cli.config import keys, select_profile

    return keys.check_profile_name(select_profile(ctx.globals.profile, data)[0])


# --- login ---------------------------------------------------------------------------------------


def run_login(opts: LoginOptions, ctx: Context) -> int:
    from cobrowse_cli.config import DEFAULT_API, config_path, keys, store

    path = config_path()
    data = store.load(path)  # stop before any network call if the file cannot be saved later
    profile_name = _profile_name(ctx, data)
    current = dict(store.profiles(data).get(profile_name, {}))

    if opts.sandbox:
        _apply_sandbox_defaults(opts)
    if opts.token_stdin:
        if opts.token:
            raise UsageError("use either --token or --token-stdin, not both")
        opts.token = ctx.stdin.read().strip()
        if not opts.token:
            raise UsageError("--token-stdin: stdin was empty")
    if opts.token and opts.private_key:
        raise UsageError("use either a static token (--token) or minting (--private-key), not both")
    if not opts.token and not opts.private_key:
        if not ctx.stdin.isatty():
            raise UsageError(
                "no credentials: pass --token, --token-stdin or --private-key with --license and --sub "
                "(prompts only on a terminal)"
            )
        _prompt(opts, current, ctx)

    profile = dict(current)
    profile["api"] = keys.normalize_api(opts.api or current.get("api") or DEFAULT_API)
    if opts.license:
        profile["license_key"] = keys.validate("license_key", opts.license)
    if opts.token:
        profile["token"] = keys.validate("token", opts.token)
        profile.pop("private_key", None)  # a static token replaces minting
    else:
        profile.update(_mint_settings(opts, profile))
        profile.pop("token", None)

    me = _validate(ctx, profile)
    with store.transaction(path) as data:  # read again under the lock: others may have saved meanwhile
        data.setdefault("profiles", {})[profile_name] = profile
        data.setdefault("default_profile", profile_name)
    _prime_cache(profile_name, profile)
    if os.environ.get("COBROWSE_TOKEN"):
        ctx.stderr.write("note: COBROWSE_TOKEN is set and takes precedence over the saved credentials\n")
    ctx.stderr.write(
        f"Logged in to {profile['api']} as {me.get('name') or '?'} ({me.get('id') or '?'}), "
        f"role {me.get('role') or 'agent'}; profile {profile_name}\n"
    )
    return OK


def _apply_sandbox_defaults(opts: LoginOptions) -> None:
    opts.api = opts.api or SANDBOX_API
    if opts.state_dir and not opts.token and not opts.private_key:
        from cobrowse_cli.config.sandbox_state import sandbox_credentials

        creds = sandbox_credentials(Path(opts.state_dir))
        opts.private_key = creds.private_key
        opts.license = opts.license or creds.license
        opts.sub = opts.sub or creds.sub
        opts.name = opts.name or creds.name
        opts.role = opts.role or creds.role
    elif not opts.token and not opts.private_key and not opts.token_stdin:
        raise UsageError("--sandbox needs --state-dir DIR (the sandbox's state directory) or --token")


def _mint_settings(opts: LoginOptions, profile: dict[str, Any]) -> dict[str, Any]:
    from cobrowse_cli.config import keys

    out: dict[str, Any] = {"private_key": keys.validate("private_key", opts.private_key or "")}
    for key, value in (("sub", opts.sub), ("name", opts.name), ("role", opts.role)):
        if value:
            out[key] = keys.validate(key, value)
    if opts.token_ttl is not None:
        out["token_ttl"] = keys.parse_ttl(opts.token_ttl)
    merged = {**profile, **out}
    missing = [flag for key, flag in (("license_key", "--license"), ("sub", "--sub")) if not merged.get(key)]
    if missing:
        raise UsageError(f"minting with --private-key needs {' and '.join(missing)}")
    return out


def _prompt(opts: LoginOptions, current: dict[str, Any], ctx: Context) -> None:
    """Each answer is checked as it is typed (a missing key file is said at its own prompt) and re-asked."""
    from cobrowse_cli.commands._prompt import ask, choice
    from cobrowse_cli.config import DEFAULT_API, keys

    def key_check(name: str):
        return lambda answer: keys.validate(name, answer)

    err = ctx.stderr
    opts.api = ask("API base URL", check=keys.normalize_api, default=opts.api or current.get("api") or DEFAULT_API, stderr=err)
    method = choice("Authenticate with a static token (t) or a private key that mints tokens (k)?",
                    {"t": "token", "k": "key"}, default="k" if current.get("private_key") else "t", stderr=err)
    if method == "t":
        opts.token = ask("Agent JWT", check=key_check("token"), hide=True, stderr=err)
        return
    opts.private_key = ask("Private key file (PEM)", check=key_check("private_key"), default=current.get("private_key"), stderr=err)
    opts.license = opts.license or ask("License key", check=key_check("license_key"), default=current.get("license_key"), stderr=err)
    opts.sub = opts.sub or ask("Agent id (sub, e.g. your email)", check=key_check("sub"), default=current.get("sub"), stderr=err)
    opts.name = opts.name or ask("Display name", default=current.get("name") or "", stderr=err).strip() or None
    opts.role = opts.role or ask("Role (administrator or agent)", check=key_check("role"),
                                 default=current.get("role") or "agent", stderr=err)


def _validate(ctx: Context, profile: dict[str, Any]) -> dict[str, Any]:
    """GET /api/1/users/me with the candidate settings; any failure leaves the config untouched."""
    from cobrowse_cli.config import Settings
    from cobrowse_cli.config.jwt import minted_token

    token = (lambda: profile["token"]) if profile.get("token") else minted_token("login", profile, cached=False)
    candidate = Settings(profile="login", api=profile["api"], license=profile.get("license_key"), token=token,
                         insecure=bool(profile.get("insecure")))
    with explained(f"cannot verify the credentials at {profile['api']}: ", "; nothing saved"):
        with _check_client(ctx, candidate) as client:
            return client.me()


def _check_client(ctx: Context, settings):
    # A person is waiting for this check: fail in seconds, not after a long backoff.
    return ctx.make_client(settings, retries=1)


def _prime_cache(profile_name: str, profile: dict[str, Any]) -> None:
    # Mint once into the cache now, so the next command (often a cron job) starts with a token.
    from cobrowse_cli.config.jwt import minted_token

    if profile.get("private_key"):
        try:
            minted_token(profile_name, profile)()
        except (CLIError, OSError):
            pass


# --- status / token / logout ---------------------------------------------------------------------


def run_status(opts: StatusOptions, ctx: Context) -> int:
    from cobrowse_cli.client import errors
    from cobrowse_cli.config import keys
    from cobrowse_cli.config.jwt import WARN_MARGIN, describe_left, inspect, seconds_left

    settings = ctx.connect()
    info: dict[str, Any] = {
        "profile": settings.profile,
        "api": settings.api,
        "license": settings.license,
        "token_kind": settings.token_kind,
        "private_key": settings.private_key,
        "sources": dict(settings.sources),
        "logged_in": False,
    }
    problem: str | None = None
    token: str | None = None
    try:
        token = settings.token()
    except AuthError as e:  # e.g. a static token already past its exp: still show what it is
        problem = str(e)
        token = getattr(settings.token, "token", None)
    if token:
        claims = inspect(token) or {}
        left = seconds_left(token)
        info["token"] = keys.mask(token)
        info["token_sub"] = claims.get("sub")
        info["token_role"] = claims.get("role")
        if isinstance(claims.get("exp"), (int, float)):
            info["expires_at"] = _iso(claims["exp"])
            info["expires_in_seconds"] = int(left)
        if left is not None and left <= 0:
            problem = f"the token expired {describe_left(left)}; run `cobrowse auth login` (or configure private_key to mint tokens)"
        elif left is not None and left < WARN_MARGIN:
            ctx.warn(f"the token expires {describe_left(left)}")
    elif problem is None:
        problem = f"not logged in (profile {settings.profile}); run `cobrowse auth login`"
    if token and problem is None:
        try:
            with _check_client(ctx, settings) as client:
                me = client.me()
            info["agent"] = {k: me.get(k) for k in ("id", "name", "email", "role") if me.get(k) is not None}
            info["logged_in"] = True
        except (errors.AuthenticationError, errors.ForbiddenError) as e:
            problem = f"the API rejected the token: {e}"  # shown as the status, still exit 3 below
        except errors.InsecureTransportError:
            raise
        except errors.CobrowseError as e:  # still show what is known, then fail as app.py maps it
            _write_status(ctx, opts, info, problem=f"cannot reach the API: {e}")
            raise explain(e, f"cannot reach {settings.api}: ")
    _write_status(ctx, opts, info, problem=problem)
    if problem:
        raise AuthError(problem)
    return OK


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_status(ctx: Context, opts: StatusOptions, info: dict[str, Any], *, problem: str | None) -> None:
    from cobrowse_cli.config.jwt import describe_left

    if problem:
        info["problem"] = problem
    if opts.json or ctx.globals.jq is not None:
        write_json(ctx, info, indent=2)
        return
    src = info["sources"]
    agent = info.get("agent") or {}
    lines = [
        ("Profile", f"{info['profile']} ({src.get('profile')})"),
        ("API", f"{info['api']} ({src.get('api')})"),
    ]
    if agent:
        who = f"{agent.get('name') or '?'} ({agent.get('id') or '?'})"
        lines.append(("Agent", who + (f" <{agent['email']}>" if agent.get("email") else "")))
        lines.append(("Role", agent.get("role") or info.get("token_role") or "agent"))
    if info.get("license"):
        lines.append(("License", f"{info['license']} ({src.get('license')})"))
    if info.get("token"):
        how = f"minted from {info['private_key']}" if info["token_kind"] == "minted" else "static"
        lines.append(("Token", f"{info['token']} ({how}; {src.get('token')})"))
    if "expires_in_seconds" in info:
        left = info["expires_in_seconds"]
        verb = "expired" if left <= 0 else "expires"
        lines.append(("Expiry", f"{verb} {describe_left(left)} ({info['expires_at']})"))
    if problem:
        lines.append(("Status", problem))
    width = max(len(k) for k, _ in lines) + 1
    ctx.stdout.writelines(f"{(k + ':').ljust(width)} {v}\n" for k, v in lines)


def run_token(opts: TokenOptions, ctx: Context) -> int:
    settings = ctx.connect()
    token = settings.token()
    if not token:
        raise AuthError(f"not logged in (profile {settings.profile}); run `cobrowse auth login`")
    ctx.stdout.write(token + "\n")
    return OK


def run_logout(opts: LogoutOptions, ctx: Context) -> int:
    from cobrowse_cli.config import config_path, store
    from cobrowse_cli.config.jwt import remove_cached

    path = config_path()
    data = store.load(path)
    name = _profile_name(ctx, data)
    profile = store.profiles(data).get(name)
    if profile is None and (ctx.globals.profile or os.environ.get("COBROWSE_PROFILE")):
        known = ", ".join(sorted(store.profiles(data))) or "none"
        raise UsageError(f"unknown profile {name!r}; known profiles: {known}")
    removed = [key for key in ("token", "private_key") if profile and profile.pop(key, None) is not None]
    if removed:
        store.save(path, data)
    cache_removed = remove_cached(name)
    if removed or cache_removed:
        what = ", ".join(removed + (["cached tokens"] if cache_removed else []))
        ctx.stderr.write(f"Logged out of profile {name} (removed {what})\n")
    else:
        ctx.stderr.write(f"Profile {name} had no credentials; nothing to do\n")
    return OK
