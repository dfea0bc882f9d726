"""Minting, the on-disk token cache, and reading claims without verifying."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt as pyjwt
import pytest

from cobrowse_cli.config import jwt as cjwt
from cobrowse_cli.config.keys import mask
from cobrowse_cli.exitcodes import AuthError


def spec(key, **kw) -> cjwt.MintSpec:
    base = dict(private_key=key.path, license="lic-123", sub="agent@example.com", name="Agent A", role="administrator", ttl=600)
    return cjwt.MintSpec(**{**base, **kw})


def test_minted_token_has_the_claims_cobrowse_requires(rsa_key):
    token = cjwt.mint(spec(rsa_key))
    claims = pyjwt.decode(token, rsa_key.public_pem, algorithms=["RS256"], audience="https://cobrowse.io", issuer="lic-123")
    assert pyjwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims["sub"] == "agent@example.com"
    assert claims["name"] == claims["displayName"] == "Agent A"
    assert claims["role"] == "administrator"
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - time.time()) < 5


def test_role_and_name_left_out_when_unset(rsa_key):
    claims = cjwt.inspect(cjwt.mint(spec(rsa_key, name=None, role=None)))
    assert "role" not in claims and "name" not in claims and "displayName" not in claims


def test_cache_is_reused_across_processes_and_private(rsa_key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = count_mints(monkeypatch)
    first = cjwt.CachedMinter("work", spec(rsa_key), cache_dir=tmp_path / "tokens")()
    # a new minter stands for the next cron run: a new process with an empty memory
    second = cjwt.CachedMinter("work", spec(rsa_key), cache_dir=tmp_path / "tokens")()
    assert first == second and len(calls) == 1
    cache = tmp_path / "tokens" / "work.jwt"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("field", "value", "claim"),
    [("sub", "other@example.com", "sub"), ("role", "agent", "role"), ("license", "lic-9", "iss"), ("name", "B", "name")],
)
def test_changed_settings_never_reuse_an_old_token(rsa_key, tmp_path: Path, field, value, claim):
    old = cjwt.CachedMinter("p", spec(rsa_key), cache_dir=tmp_path)()
    new = cjwt.CachedMinter("p", spec(rsa_key, **{field: value}), cache_dir=tmp_path)()
    assert cjwt.inspect(new)[claim] == value != cjwt.inspect(old)[claim]


def test_replaced_key_file_is_not_reused(rsa_key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    key = tmp_path / "k.pem"
    key.write_bytes(rsa_key.path.read_bytes())
    calls = count_mints(monkeypatch)
    s = spec(rsa_key, private_key=key)
    cjwt.CachedMinter("p", s, cache_dir=tmp_path / "t")()
    key.write_bytes(rsa_key.path.read_bytes() + b"\n")  # a new key file (size and mtime change)
    cjwt.CachedMinter("p", s, cache_dir=tmp_path / "t")()
    assert len(calls) == 2


def test_token_near_expiry_is_refreshed(rsa_key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = count_mints(monkeypatch)
    short = spec(rsa_key, ttl=cjwt.REUSE_MARGIN - 10)  # born with less life than the reuse margin
    minter = cjwt.CachedMinter("p", short, cache_dir=tmp_path)
    minter()
    minter()
    cjwt.CachedMinter("p", short, cache_dir=tmp_path)()
    assert len(calls) == 3
    long = spec(rsa_key, ttl=cjwt.REUSE_MARGIN + 30)
    minter = cjwt.CachedMinter("p", long, cache_dir=tmp_path)
    minter()
    minter()
    assert len(calls) == 4


def test_corrupt_cache_is_ignored(rsa_key, tmp_path: Path):
    (tmp_path / "p.jwt").write_text("garbage")
    token = cjwt.CachedMinter("p", spec(rsa_key), cache_dir=tmp_path)()
    assert cjwt.inspect(token)["sub"] == "agent@example.com"


def test_remove_cached(rsa_key, tmp_path: Path):
    cjwt.CachedMinter("p", spec(rsa_key), cache_dir=tmp_path)()
    assert cjwt.remove_cached("p", tmp_path) is True
    assert cjwt.remove_cached("p", tmp_path) is False


def test_inspect_and_describe():
    token = pyjwt.encode({"sub": "x", "exp": int(time.time()) + 3300}, "k" * 32, algorithm="HS256")
    assert cjwt.inspect(token)["sub"] == "x"
    assert cjwt.inspect("not-a-jwt") is None and cjwt.inspect("a.!!!.c") is None
    assert cjwt.describe_left(cjwt.seconds_left(token)) in ("in 54m", "in 55m")
    assert cjwt.describe_left(-180) == "3m ago"
    assert cjwt.describe_left(7500) == "in 2h 5m"


def test_static_token_expired_raises_with_explanation():
    token = pyjwt.encode({"exp": int(time.time()) - 120}, "k" * 32, algorithm="HS256")
    with pytest.raises(AuthError, match=r"expired 2m ago.*auth login"):
        cjwt.StaticToken(token, "env")()


def test_static_token_near_expiry_warns_once():
    token = pyjwt.encode({"exp": int(time.time()) + 120}, "k" * 32, algorithm="HS256")
    warnings: list[str] = []
    source = cjwt.StaticToken(token, "profile", warnings.append)
    assert source() == token and source() == token
    assert len(warnings) == 1 and "expires in" in warnings[0]


def test_mask_never_reveals_a_usable_token():
    token = "eyJhbGciOiJSUzI1NiJ9." + "x" * 100 + ".sig1234abcd"
    shown = mask(token)
    assert shown == "eyJhbGci…abcd" and len(shown) <= 13
    assert mask("short") == "sh…" and mask("abc") == "…"


def count_mints(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = cjwt.mint

    def counting(s, **kw):
        calls.append(1)
        return real(s, **kw)

    monkeypatch.setattr(cjwt, "mint", counting)
    return calls
