"""Agent JWTs: minting (RS256, pyjwt imported lazily), an on-disk cache, and reading claims unverified.

Cobrowse requires iss = license key, sub, aud = https://cobrowse.io, iat, exp <= iat + 1 day.
A cron job runs a fresh process every minute, so minted tokens are cached on disk (0600) per profile
and reused while they have more than REUSE_MARGIN seconds to live. The cache entry is keyed by a hash
of the key file (path, mtime, size) and the claims, so changing any setting never reuses an old token.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from cobrowse_cli.exitcodes import AuthError, UsageError
from cobrowse_cli.messages import signed

AUDIENCE = "https://cobrowse.io"
REUSE_MARGIN = 60  # seconds of life a cached token must still have to be reused
WARN_MARGIN = 300  # warn when a static token has less than this left


@dataclass(frozen=True)
class MintSpec:
    """Everything a minted token depends on."""

    private_key: Path
    license: str
    sub: str
    name: str | None = None
    role: str | None = None
    ttl: int = 3600

    def claims(self, now: int) -> dict[str, Any]:
        claims: dict[str, Any] = {"iss": self.license, "sub": self.sub, "aud": AUDIENCE, "iat": now, "exp": now + self.ttl}
        if self.name:
            claims["name"] = self.name
            claims["displayName"] = self.name
        if self.role:
            claims["role"] = self.role
        return claims

    def fingerprint(self) -> str:
        try:
            st = self.private_key.stat()
            key_state = [str(self.private_key), st.st_mtime_ns, st.st_size]
        except OSError:
            key_state = [str(self.private_key), None, None]
        fixed = [key_state, self.license, self.sub, self.name, self.role, self.ttl, AUDIENCE]
        return hashlib.sha256(json.dumps(fixed).encode()).hexdigest()


def mint(spec: MintSpec, *, now: float | None = None) -> str:
    import jwt  # pyjwt; cryptography behind it is slow to import

    from cobrowse_cli.config.keys import load_private_key

    key = load_private_key(spec.private_key)
    issued = int(time.time() if now is None else now)
    return jwt.encode(spec.claims(issued), key, algorithm="RS256")


def minted_token(profile: str, conf: Mapping[str, Any], *, license: str | None = None, cached: bool = True):
    """The token source of a profile that mints (`private_key`, `sub`, ...): the one place a MintSpec is
    built. `license` overrides the profile's license_key (flag or env); `cached=False` mints fresh each call
    (login checks candidate credentials without touching the cache)."""
    from cobrowse_cli.config.keys import DEFAULT_TOKEN_TTL, parse_ttl

    spec = MintSpec(
        private_key=Path(conf["private_key"]),
        license=str(license or conf["license_key"]),
        sub=str(conf["sub"]),
        name=conf.get("name"),
        role=conf.get("role"),
        ttl=parse_ttl(conf.get("token_ttl", DEFAULT_TOKEN_TTL)),
    )
    return CachedMinter(profile, spec) if cached else (lambda: mint(spec))


def inspect(token: str) -> dict[str, Any] | None:
    """The token's claims, decoded without verifying the signature; None when it is not a JWT.

    Config owns credentials, so it owns the decoder (stdlib only: `auth status` and expiry checks run it
    on every command). The client keeps its own two-line reader for its error hints: it imports no config.
    """
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):  # binascii.Error, JSONDecodeError, UnicodeDecodeError; non-str input
        return None
    return claims if isinstance(claims, dict) else None


def seconds_left(token: str, *, now: float | None = None) -> float | None:
    claims = inspect(token)
    exp = claims.get("exp") if claims else None
    if not isinstance(exp, (int, float)):
        return None
    return exp - (time.time() if now is None else now)


def describe_left(seconds: float) -> str:
    """`in 54m`, `in 2h 5m`, `3m ago`: compact and human."""
    past = seconds < 0
    s = int(abs(seconds))
    if s < 60:
        text = f"{s}s"
    elif s < 3600:
        text = f"{s // 60}m"
    elif s < 86400:
        text = f"{s // 3600}h {s % 3600 // 60}m"
    else:
        text = f"{s // 86400}d {s % 86400 // 3600}h"
    return f"{text} ago" if past else f"in {text}"


class CachedMinter:
    """A token provider: returns a valid minted token, minting only when the cache cannot serve one."""

    def __init__(self, profile: str, spec: MintSpec, cache_dir: Path | None = None):
        self.profile = profile
        self.spec = spec
        self._cache_dir = cache_dir
        self._token: str | None = None

    @property
    def cache_file(self) -> Path:
        from cobrowse_cli.config.paths import token_cache_dir

        return (self._cache_dir or token_cache_dir()) / f"{self.profile}.jwt"

    def __call__(self) -> str:
        if self._token and _fresh(self._token):
            return self._token
        fingerprint = self.spec.fingerprint()
        cached = self._read_cache(fingerprint)
        if cached:
            self._token = cached
            return cached
        token = mint(self.spec)
        self._write_cache(fingerprint, token)
        self._token = token
        return token

    def _read_cache(self, fingerprint: str) -> str | None:
        try:
            stored_fp, token = self.cache_file.read_text(encoding="utf-8").split("\n")[:2]
        except (OSError, ValueError):
            return None
        return token if stored_fp == fingerprint and _fresh(token) else None

    def _write_cache(self, fingerprint: str, token: str) -> None:
        from cobrowse_cli.config.store import write_private_file

        try:
            write_private_file(self.cache_file, f"{fingerprint}\n{token}\n")
        except (OSError, UsageError):
            pass  # a cache we cannot write only costs a mint per run


def _fresh(token: str) -> bool:
    left = seconds_left(token)
    return left is not None and left > REUSE_MARGIN


class StaticToken:
    """A configured token: checked for expiry before use, so the user hears why rather than a bare 401."""

    def __init__(self, token: str, source: str, warn=None):
        self.token = token
        self.source = source
        self._warn = warn
        self._warned = False

    def __call__(self) -> str:
        left = seconds_left(self.token)
        if left is not None and left <= 0:
            raise AuthError(
                f"the {self.source} token expired {describe_left(left)}; "
                "run `cobrowse auth login` (or configure private_key to mint tokens)"
            )
        if left is not None and left < WARN_MARGIN and not self._warned and self._warn:
            self._warned = True
            self._warn(signed(f"warning: the {self.source} token expires {describe_left(left)}") + "\n")
        return self.token


def remove_cached(profile: str, cache_dir: Path | None = None) -> bool:
    from cobrowse_cli.config.paths import token_cache_dir

    try:
        os.unlink((cache_dir or token_cache_dir()) / f"{profile}.jwt")
        return True
    except FileNotFoundError:
        return False
