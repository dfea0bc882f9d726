"""RS256 JWTs as Cobrowse expects them: the sandbox's key pair, verification with exact error messages, minting.

The sandbox plays both sides: the customer (who mints tokens with its private key) and Cobrowse (which
verifies them with the registered public key). The key pair and the account's license key (the `iss`
claim) live in `--state-dir` (files mode 0600, reused next run) or, without one, in memory only.

State dir layout: `sandbox-private-key.pem`, `sandbox-public-key.pem`, `sandbox-license` (the `iss`,
`sandbox-` + 16 hex digits, generated once).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cobrowse_cli.sandbox.errors import ApiError

AUDIENCE = "https://cobrowse.io"
MAX_LIFETIME_S = 86_400  # the API doc: exp at most one day after iat
DEFAULT_SUB = "agent@sandbox.test"
PRIVATE_KEY_FILE = "sandbox-private-key.pem"
PUBLIC_KEY_FILE = "sandbox-public-key.pem"
LICENSE_FILE = "sandbox-license"


@dataclass
class SandboxKeys:
    """Everything needed to mint (private key, license) and verify (public key) sandbox tokens."""

    private_pem: bytes
    public_pem: bytes
    license: str
    state_dir: Path | None = None


@dataclass
class Claims:
    sub: str
    role: str | None
    name: str | None
    raw: dict


def _new_keys() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (no window where another user could read it), then renamed into place.
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_or_create_keys(state_dir: str | os.PathLike | None) -> SandboxKeys:
    """Keys for a sandbox: from state_dir (created there on first use) or fresh in memory."""
    if state_dir is None:
        private, public = _new_keys()
        return SandboxKeys(private, public, "sandbox-" + secrets.token_hex(8))
    d = Path(state_dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    priv_path, pub_path, lic_path = d / PRIVATE_KEY_FILE, d / PUBLIC_KEY_FILE, d / LICENSE_FILE
    if not priv_path.exists():
        private, public = _new_keys()
        _write_private(pub_path, public)
        _write_private(priv_path, private)
    if not lic_path.exists():
        _write_private(lic_path, ("sandbox-" + secrets.token_hex(8) + "\n").encode())
    return SandboxKeys(priv_path.read_bytes(), pub_path.read_bytes(), lic_path.read_text().strip(), d)


def load_keys(state_dir: str | os.PathLike) -> SandboxKeys:
    """Existing keys only (for `cobrowse sandbox token`); FileNotFoundError when the dir was never served."""
    d = Path(state_dir)
    return SandboxKeys(
        (d / PRIVATE_KEY_FILE).read_bytes(), (d / PUBLIC_KEY_FILE).read_bytes(), (d / LICENSE_FILE).read_text().strip(), d
    )


def mint_token(
    keys: SandboxKeys,
    sub: str = DEFAULT_SUB,
    role: str | None = None,
    ttl: int = 3600,
    name: str | None = None,
    *,
    expired: bool = False,
    **claims,
) -> str:
    """A token this sandbox accepts. `expired=True` gives one that expired an hour ago; extra claims override."""
    now = int(time.time())
    iat = now - 7200 if expired else now
    exp = now - 3600 if expired else now + int(ttl)
    # jti: two tokens minted in the same second differ, so expiring one (tokens/expire) spares the other
    payload: dict = {"iss": keys.license, "sub": sub, "aud": AUDIENCE, "iat": iat, "exp": exp, "jti": secrets.token_hex(8)}
    if name:
        payload["displayName"] = name
    if role:
        payload["role"] = role
    payload.update(claims)
    return jwt.encode(payload, keys.private_pem, algorithm="RS256")


def _unauthorized(message: str, error_id: str = "unauthorized") -> ApiError:
    return ApiError(401, error_id, message)


class Verifier:
    """Checks `Authorization: Bearer <jwt>`; messages follow node's jsonwebtoken, which the real API uses."""

    def __init__(self, keys: SandboxKeys, clock=time.time):
        self.keys = keys
        self._public = serialization.load_pem_public_key(keys.public_pem)
        self._clock = clock
        self.forget_expiries()

    # -- expiry by control call (POST /_sandbox/tokens/expire), so tests need not wait out a TTL.
    # `iat` has one-second resolution, so a token issued in the second of the call counts as issued
    # before it only if this verifier had already seen it; one minted and first used after the call works.
    def forget_expiries(self) -> None:
        self._expired_all: tuple[int, frozenset[str]] | None = None
        self._expired_sub: dict[str, tuple[int, frozenset[str]]] = {}
        self._seen: dict[int, set[str]] = {}  # iat second -> tokens verified, for the last few seconds only

    def expire_issued(self, sub: str | None = None) -> None:
        """From now on, every token issued so far (or only `sub`'s) answers 401 `jwt expired`."""
        second = int(self._clock())
        cutoff = (second, frozenset(self._seen.get(second, ())))
        if sub is None:
            self._expired_all = cutoff
            self._expired_sub.clear()
        else:
            self._expired_sub[sub] = cutoff

    def _expired_by_call(self, token: str, sub: str, iat: float) -> bool:
        for cutoff in (self._expired_all, self._expired_sub.get(sub)):
            if cutoff is not None and (iat < cutoff[0] or (int(iat) == cutoff[0] and token in cutoff[1])):
                return True
        return False

    def _remember(self, token: str, iat: float) -> None:
        second = int(iat)
        if second >= int(self._clock()) - 1:  # only the current second can matter to a later call
            self._seen.setdefault(second, set()).add(token)
            for old in [k for k in self._seen if k < second - 2]:
                del self._seen[old]

    def mint(self, **kw) -> str:
        return mint_token(self.keys, **kw)

    def from_header(self, header: str | None) -> Claims:
        if not header:
            raise _unauthorized("no token provided: send Authorization: Bearer <jwt>")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("authorization header must be 'Bearer <jwt>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("jwt malformed") from None
        if header.get("alg") != "RS256":
            raise _unauthorized(f"invalid algorithm (expected RS256, got {header.get('alg')!r})")
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=self.keys.license,
                options={"require": ["iss", "sub", "aud", "iat", "exp"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            # exactly this text: the SDK turns it into TokenExpiredError
            raise ApiError(401, "token_expired", "jwt expired") from None
        except jwt.InvalidSignatureError:
            raise _unauthorized("invalid signature") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized(f"jwt audience invalid. expected: {AUDIENCE}") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized(f"jwt issuer invalid. expected: {self.keys.license}") from None
        except jwt.MissingRequiredClaimError as e:
            raise _unauthorized(f"jwt missing required claim: {e.claim}") from None
        except jwt.ImmatureSignatureError:
            raise _unauthorized("jwt not active (iat or nbf in the future)") from None
        except jwt.DecodeError:
            raise _unauthorized("jwt malformed") from None
        except jwt.PyJWTError as e:
            raise _unauthorized(f"invalid token: {e}") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise _unauthorized("jwt sub must be a non-empty string")
        if not isinstance(claims.get("exp"), (int, float)) or not isinstance(claims.get("iat"), (int, float)):
            raise _unauthorized("jwt exp and iat must be numbers")
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_S:
            raise _unauthorized("jwt lifetime too long: exp must be at most one day after iat")
        if self._expired_by_call(token, sub, claims["iat"]):
            raise ApiError(401, "token_expired", "jwt expired")
        self._remember(token, claims["iat"])
        role = claims.get("role")
        name = claims.get("displayName") or claims.get("name")
        return Claims(sub=sub, role=role if isinstance(role, str) else None, name=name if isinstance(name, str) else None, raw=claims)
