"""The keys `cobrowse config` knows: what each means, how a value is checked, how it is shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cobrowse_cli.exitcodes import UsageError

MAX_TOKEN_TTL = 86400  # the API rejects JWTs living longer than a day
DEFAULT_TOKEN_TTL = 3600
ROLES = ("administrator", "agent")
MIN_REQUEST_TIMEOUT, MAX_REQUEST_TIMEOUT = 0.1, 3600.0
# Cobrowse's clouds: a region picks the API base URL (an explicit `api` at the same level wins).
REGIONS = {"us": "https://cobrowse.io", "eu": "https://eu.cobrowse.io"}
MAX_CONCURRENCY = 16
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# key -> one-line description (shown in errors and `config list --help`).
PROFILE_KEYS = {
    "api": "API base URL (default https://cobrowse.io; e.g. https://eu.cobrowse.io or a self-hosted URL)",
    "region": "cloud region picking the API base URL: " + ", ".join(f"{k} ({v})" for k, v in REGIONS.items()),
    "license_key": "account license key (the minted token's iss claim; sent as X-CobrowseLicense)",
    "token": "a static agent JWT (used instead of minting)",
    "private_key": "path to the RS256 private key (PEM) used to mint tokens",
    "sub": "minted token's agent id (sub claim, e.g. an email)",
    "name": "minted token's display name",
    "role": "minted token's role: " + " or ".join(ROLES),
    "token_ttl": f"minted token lifetime in seconds (1..{MAX_TOKEN_TTL}, default {DEFAULT_TOKEN_TTL})",
    "insecure": "true to allow a token over plain http to a non-loopback host",
    "request_timeout": f"seconds one API request may take, connect to last byte ({MIN_REQUEST_TIMEOUT:g}..{MAX_REQUEST_TIMEOUT:g}, default 60)",
    "concurrency": f"requests at once when a count or selection lists over time windows (1..{MAX_CONCURRENCY}, default 4; 1 = one page after another)",
}
TOP_KEYS = {"default_profile": "profile used when neither --profile nor COBROWSE_PROFILE names one"}
SECRET_KEYS = {"token"}


def all_keys() -> list[str]:
    return [*TOP_KEYS, *PROFILE_KEYS]


def check_key(key: str) -> str:
    if key not in PROFILE_KEYS and key not in TOP_KEYS:
        raise UsageError(f"unknown config key {key!r}: expected one of {', '.join(all_keys())}")
    return key


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.match(name):
        raise UsageError(f"invalid profile name {name!r}: use letters, digits, '_', '-' or '.' (max 64)")
    return name


def validate(key: str, raw: str) -> Any:
    """Turn the text a user typed into the value stored in TOML, or raise UsageError saying why not."""
    try:
        raw.encode("utf-8")  # argv bytes that are not UTF-8 arrive as lone surrogates; TOML cannot hold them
    except UnicodeEncodeError:
        raise UsageError(f"invalid {key} value: it is not valid UTF-8 text") from None
    value = raw.strip()
    if key == "api":
        return normalize_api(value)
    if key == "token_ttl":
        return parse_ttl(value)
    if key == "region":
        region_api(value)
        return value.lower()
    if key == "role":
        if value not in ROLES:
            raise UsageError(f"invalid role {value!r}: expected one of {', '.join(ROLES)}")
        return value
    if key == "private_key":
        path = Path(value).expanduser().resolve()
        load_private_key(path)
        return str(path)
    if key == "insecure":
        lowered = value.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise UsageError(f"invalid insecure {raw!r}: expected true or false")
    if key == "request_timeout":
        return parse_seconds(value, key)
    if key == "concurrency":
        return parse_concurrency(value)
    if key == "default_profile":
        return check_profile_name(value)
    if not value:
        raise UsageError(f"{key} cannot be empty (use `cobrowse config unset {key}`)")
    if key in ("token", "license_key", "sub") and re.search(r"\s", value):
        raise UsageError(f"invalid {key}: must not contain whitespace")
    return value


def parse_concurrency(raw: Any) -> int:
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise UsageError(f"invalid concurrency {text!r}: expected a whole number from 1 to {MAX_CONCURRENCY}")
    return int(text)


def normalize_api(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as e:
        raise UsageError(f"invalid api {value!r}: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid api {value!r}: expected an http(s) URL such as https://cobrowse.io")
    if parts.query or parts.fragment:
        raise UsageError(f"invalid api {value!r}: a base URL has no query or fragment")
    return value.rstrip("/")


def parse_seconds(value: Any, name: str) -> float:
    """A request timeout in the one duration grammar (`30`, `30s`, `2m`; TOML numbers are seconds),
    within bounds; NaN, inf and 0 never parse."""
    from cobrowse_cli import durations

    text = repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    seconds = durations.parse_seconds(text if isinstance(text, str) else "", option=name, bare_seconds=True)
    if not (MIN_REQUEST_TIMEOUT <= seconds <= MAX_REQUEST_TIMEOUT):
        raise UsageError(f"invalid {name} {value!r}: expected between {MIN_REQUEST_TIMEOUT:g}s and {MAX_REQUEST_TIMEOUT:g}s")
    return seconds


def region_api(region: str, *, source: str = "region") -> str:
    """`eu` -> https://eu.cobrowse.io; an unknown region is a UsageError naming the known ones."""
    api = REGIONS.get(str(region).strip().lower())
    if api is None:
        known = ", ".join(REGIONS)
        raise UsageError(f"unknown region {region!r} ({source}): expected one of {known}, or set api to a URL")
    return api


def parse_ttl(value: Any) -> int:
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"invalid token_ttl {value!r}: expected whole seconds, 1..{MAX_TOKEN_TTL}") from None
    if not 1 <= ttl <= MAX_TOKEN_TTL:
        raise UsageError(f"invalid token_ttl {ttl}: must be 1..{MAX_TOKEN_TTL} seconds (at most one day)")
    return ttl


MAX_KEY_BYTES = 1 << 20


def load_private_key(path: Path):
    """Load an RSA private key PEM (cryptography imported here only): proves the path is usable."""
    try:
        if not path.is_file():  # a FIFO or /dev/zero would block or never end
            raise UsageError(f"private key file {path} does not exist or is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_KEY_BYTES + 1)
        if len(data) > MAX_KEY_BYTES:
            raise UsageError(f"{path} is too large to be a PEM private key")
    except FileNotFoundError:
        raise UsageError(f"private key file {path} does not exist") from None
    except OSError as e:
        raise UsageError(f"cannot read private key file {path}: {e.strerror or e}") from None
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(f"private key {path} is encrypted; provide an unencrypted PEM") from None
    except ValueError:
        raise UsageError(f"{path} is not a PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise UsageError(f"private key {path} is not an RSA key (RS256 needs RSA)")
    return key


def mask(value: str) -> str:
    """`eyJhbGci…abcd`: enough to tell tokens apart, never enough to use one."""
    if len(value) <= 16:
        return "…" if len(value) <= 4 else value[:2] + "…"
    return f"{value[:8]}…{value[-4:]}"


def display(key: str, value: Any) -> str:
    if key in SECRET_KEYS and isinstance(value, str):
        return mask(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
