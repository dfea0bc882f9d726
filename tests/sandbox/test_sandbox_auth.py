"""JWT verification: every 401 variant, roles, users/me, the demo token endpoint, `cobrowse sandbox token`."""

from __future__ import annotations

import subprocess
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def status_and_message(sandbox, token, path="/api/1/sessions"):
    res = sandbox.api("GET", path, token=token)
    assert set(res.body) == {"id", "message"}, res.body
    return res.status, res.body["message"]


def test_expired_token_says_exactly_jwt_expired(sandbox):
    assert status_and_message(sandbox, sandbox.token(ttl=-60)) == (401, "jwt expired")
    assert status_and_message(sandbox, sandbox.token(ttl=-60), "/api/1/users/me") == (401, "jwt expired")


def test_missing_token(sandbox):
    status, message = status_and_message(sandbox, None)
    assert status == 401 and "no token" in message
    res = sandbox.api("GET", "/api/1/devices", token=None, headers={"Authorization": "Basic abc"})
    assert res.status == 401 and "Bearer" in res.body["message"]


def _claims(sandbox, **over):
    now = int(time.time())
    claims = {"iss": sandbox._keys.license if sandbox._keys else None, "sub": "x@y.z", "aud": "https://cobrowse.io",
              "iat": now, "exp": now + 600}
    claims.update(over)
    return claims


def test_bad_signature(sandbox):
    sandbox.token()  # loads the keys
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = jwt.encode(_claims(sandbox), pem, algorithm="RS256")
    assert status_and_message(sandbox, forged) == (401, "invalid signature")


@pytest.mark.parametrize(
    "over, expected",
    [
        ({"aud": "https://example.com"}, "jwt audience invalid"),
        ({"iss": "someone-else"}, "jwt issuer invalid"),
        ({"iat": None}, "missing required claim: iat"),
        ({"exp": int(time.time()) + 2 * 86_400}, "at most one day"),
    ],
)
def test_wrong_claims(sandbox, over, expected):
    sandbox.token()
    claims = {k: v for k, v in _claims(sandbox, **over).items() if v is not None}
    token = jwt.encode(claims, sandbox._keys.private_pem, algorithm="RS256")
    status, message = status_and_message(sandbox, token)
    assert status == 401 and expected in message


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_malformed_or_unsigned(sandbox, token):
    status, message = status_and_message(sandbox, token)
    assert status == 401 and ("malformed" in message or "algorithm" in message)


def test_hs256_with_public_key_is_refused(sandbox):
    token = jwt.encode(_claims(sandbox), "s" * 32, algorithm="HS256")
    status, message = status_and_message(sandbox, token)
    assert status == 401 and "algorithm" in message


def test_users_me_creates_the_agent_on_first_sight(sandbox):
    me = sandbox.api("GET", "/api/1/users/me", token=sandbox.token(sub="new.person@corp.test", name="New Person",
                                                                 role="administrator")).body
    assert set(me) == {"id", "name", "email", "role", "notification_token", "notification_url"}
    assert me["email"] == "new.person@corp.test" and me["name"] == "New Person" and me["role"] == "administrator"
    assert me["notification_url"] == sandbox.url + "/"
    again = sandbox.api("GET", "/api/1/users/me/", token=sandbox.token(sub="new.person@corp.test")).body
    assert again["id"] == me["id"] and again["notification_token"] == me["notification_token"]


def test_demo_token_is_an_admin_token(sandbox):
    res = sandbox.api("GET", "/api/1/demo/token?demo_id=unittest", token=None)
    assert res.status == 200
    rows = sandbox.api("GET", "/api/1/sessions?agent=all", token=res.body["token"])
    assert rows.status == 200
    assert sandbox.api("GET", "/api/1/demo/token", token=None).status == 400


def _cli(*args):
    """`cobrowse sandbox token ...` through app.run in this process (tests/support/cli.py)."""
    from tests.support.cli import run_in_process

    r = run_in_process(None, "sandbox", "token", *args, timeout=30)
    return subprocess.CompletedProcess(["cobrowse", "sandbox", "token", *args], r.code, r.out, r.err)


def test_cli_token_is_accepted_by_the_sandbox_serving_that_state_dir(sandbox):
    out = _cli("--state-dir", str(sandbox.state_dir), "--role", "administrator", "--sub", "cli@sandbox.test")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    me = sandbox.api("GET", "/api/1/users/me", token=token).body
    assert me["email"] == "cli@sandbox.test" and me["role"] == "administrator"
    expired = _cli("--state-dir", str(sandbox.state_dir), "--expired").stdout.strip()
    assert status_and_message(sandbox, expired) == (401, "jwt expired")


def test_cli_token_without_state_dir_is_a_usage_error():
    out = _cli()
    assert out.returncode == 2 and "--state-dir" in out.stderr
    assert _cli("--state-dir", "/tmp/x", "--ttl", "90000").returncode == 2


def test_state_dir_key_files_are_private(sandbox):
    for name in ("sandbox-private-key.pem", "sandbox-license"):
        assert (sandbox.state_dir / name).stat().st_mode & 0o077 == 0
