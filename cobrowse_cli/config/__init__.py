"""Connection settings: the config file's profiles merged with environment and flags.

Precedence, highest first (each value resolved on its own):
    command-line flag > environment (COBROWSE_TOKEN, COBROWSE_API, COBROWSE_LICENSE, COBROWSE_PROFILE,
    COBROWSE_REQUEST_TIMEOUT)
    > the profile in the config file > built-in default.
The API base may also be given as a region (--region, COBROWSE_REGION, profile `region`: us or eu);
at the same level an explicit API URL wins.
A static token (flag, env or profile `token`) beats minting from the profile's `private_key`.

Kept light for start-up: tomllib and the store are read only in resolve(); jwt, cryptography and
tomli-w are imported only when a token is minted or the file is written.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from cobrowse_cli.config.paths import config_path

__all__ = ["Settings", "resolve", "select_profile", "config_path", "profile_names", "DEFAULT_API", "DEFAULT_PROFILE"]

DEFAULT_API = "https://cobrowse.io"
DEFAULT_PROFILE = "default"

TokenSource = Callable[[], "str | None"]


@dataclass
class Settings:
    profile: str
    api: str
    license: str | None
    token: TokenSource  # returns a currently valid token: the static one, or a minted one (cached)
    insecure: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # key -> "flag" | "env" | "profile" | "default"
    token_kind: str = "none"  # "static" | "minted" | "none"
    private_key: str | None = None  # the key file minting uses, for `auth status`
    config_file: Path | None = None
    request_timeout: float | None = None  # seconds for one API request, start to last byte (None: default)
    concurrency: int | None = None  # requests at once for a windowed listing (None: the client's default)


def _no_token() -> None:
    return None


def resolve(
    profile: str | None = None,
    *,
    api: str | None = None,
    token: "str | TokenSource | None" = None,
    license: str | None = None,
    request_timeout: float | None = None,
    region: str | None = None,
    env: Mapping[str, str] | None = None,
    warn: Callable[[str], Any] | None = None,
) -> Settings:
    """Merge flags (the keyword arguments), environment and the config file into Settings.

    `profile` is the --profile flag. Naming a profile that does not exist (flag or COBROWSE_PROFILE) is a
    UsageError listing the known ones. `warn` receives the near-expiry warning (default: stderr).
    """
    from cobrowse_cli.config import keys, store
    from cobrowse_cli.config.jwt import StaticToken, minted_token
    from cobrowse_cli.exitcodes import UsageError

    env = os.environ if env is None else env
    warn = warn or sys.stderr.write
    path = config_path(env)
    data = store.load(path)
    profiles = store.profiles(data)
    sources: dict[str, str] = {}

    name, sources["profile"] = select_profile(profile, data, env)
    explicit = sources["profile"] in ("flag", "env")
    if name not in profiles and explicit:
        known = ", ".join(sorted(profiles)) or "none (run `cobrowse auth login`)"
        raise UsageError(f"unknown profile {name!r} ({sources['profile']}); known profiles: {known}")
    conf = profiles.get(name, {})

    api_value, sources["api"] = _pick_api(
        (api, region), (env.get("COBROWSE_API"), env.get("COBROWSE_REGION")), (conf.get("api"), conf.get("region"))
    )
    api_value = keys.normalize_api(str(api_value))
    license_value, sources["license"] = _pick(license, env.get("COBROWSE_LICENSE"), conf.get("license_key"), None)

    timeout_value, _ = _pick(
        request_timeout, env.get("COBROWSE_REQUEST_TIMEOUT"), conf.get("request_timeout"), None
    )
    concurrency_value, _ = _pick(None, env.get("COBROWSE_CONCURRENCY"), conf.get("concurrency"), None)
    settings = Settings(
        profile=name,
        api=api_value,
        license=license_value,
        token=_no_token,
        insecure=bool(conf.get("insecure", False)),
        sources=sources,
        config_file=path,
        request_timeout=None if timeout_value is None else keys.parse_seconds(timeout_value, "request_timeout"),
        concurrency=None if concurrency_value is None else keys.parse_concurrency(concurrency_value),
    )
    static, sources["token"] = _pick(token, env.get("COBROWSE_TOKEN"), conf.get("token"), None)
    if callable(static):
        settings.token, settings.token_kind = static, "static"
    elif static:
        settings.token, settings.token_kind = StaticToken(static, sources["token"], warn), "static"
    elif conf.get("private_key"):
        if not license_value or not conf.get("sub"):
            missing = "license_key" if not license_value else "sub"
            raise UsageError(
                f"profile {name!r} mints tokens but has no {missing}; "
                f"set it with `cobrowse --profile {name} config set {missing} VALUE`"
            )
        settings.token, settings.token_kind = minted_token(name, conf, license=license_value), "minted"
        settings.private_key = str(conf["private_key"])
        sources["token"] = "profile"
    return settings


def select_profile(flag: str | None, data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The profile commands use, and where it came from: --profile > COBROWSE_PROFILE > the file's
    default_profile > "default". The one place this precedence is written."""
    env = os.environ if env is None else env
    return _pick(flag, env.get("COBROWSE_PROFILE"), data.get("default_profile"), DEFAULT_PROFILE)


def _pick(flag: Any, env_value: Any, profile_value: Any, default: Any) -> tuple[Any, str]:
    """The first value set, with where it came from. An empty env var counts as unset (like gh)."""
    if flag is not None and flag != "":
        return flag, "flag"
    if env_value:
        return env_value, "env"
    if profile_value is not None and profile_value != "":
        return profile_value, "profile"
    return default, "default"


def _pick_api(*levels: tuple[Any, Any]) -> tuple[str, str]:
    """The API base: at each level (flag, env, profile) an explicit URL beats a region."""
    from cobrowse_cli.config.keys import region_api

    for source, (url, region) in zip(("flag", "env", "profile"), levels):
        if url:
            return url, source
        if region:
            return region_api(region, source=source), source
    return DEFAULT_API, "default"


def profile_names(env: Mapping[str, str] | None = None) -> list[str]:
    """The config file's profile names, sorted, for shell completion of --profile.

    Runs on every Tab press, so it reads the file with tomllib alone and never raises:
    a missing or broken file simply completes nothing.
    """
    import tomllib

    try:
        data = tomllib.loads(config_path(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return []
    profiles = data.get("profiles")
    return sorted(str(name) for name in profiles) if isinstance(profiles, dict) else []
