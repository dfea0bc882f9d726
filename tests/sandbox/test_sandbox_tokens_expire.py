"""`POST /_sandbox/tokens/expire`: tokens issued so far answer 401 `jwt expired` at once; later ones work."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ControlError

ME = "/api/1/users/me"


def status(sandbox, token) -> int:
    return sandbox.api("GET", ME, token=token).status


def test_every_token_issued_so_far_expires_and_later_ones_work(sandbox):
    used = sandbox.token()
    never_shown = sandbox.token("admin@sandbox.test", role="administrator", iat=int(time.time()) - 2)  # minted before the call, first used after
    assert status(sandbox, used) == 200
    assert sandbox.control("POST", "/_sandbox/tokens/expire") == {"expired": "all tokens issued so far"}
    for token in (used, never_shown):
        res = sandbox.api("GET", ME, token=token)
        assert res.status == 401 and res.body == {"id": "token_expired", "message": "jwt expired"}
    assert sandbox.api("GET", "/api/1/sessions", token=used).status == 401  # every endpoint, not just one
    fresh = sandbox.token()  # same sub and claims, minted after the call (possibly in the same second)
    assert status(sandbox, fresh) == 200
    assert status(sandbox, sandbox.admin_token()) == 200


def test_by_sub_expires_only_that_subjects_tokens(sandbox):
    alice, bob = sandbox.token("alice@sandbox.test"), sandbox.token("bob@sandbox.test")
    assert status(sandbox, alice) == status(sandbox, bob) == 200
    assert sandbox.control("POST", "/_sandbox/tokens/expire", {"sub": "alice@sandbox.test"})["expired"].endswith("alice@sandbox.test")
    assert status(sandbox, alice) == 401
    assert status(sandbox, bob) == 200
    assert status(sandbox, sandbox.token("alice@sandbox.test")) == 200


def test_reset_forgets_expiries(sandbox):
    token = sandbox.token()
    assert status(sandbox, token) == 200
    sandbox.control("POST", "/_sandbox/tokens/expire")
    assert status(sandbox, token) == 401
    sandbox.reset()
    assert status(sandbox, token) == 200


@pytest.mark.parametrize("body", [{"sub": ""}, {"sub": 3}])
def test_bad_sub_is_a_400(sandbox, body):
    with pytest.raises(ControlError) as e:
        sandbox.control("POST", "/_sandbox/tokens/expire", body)
    assert e.value.status == 400


def test_cli_reports_an_expired_token_as_exit_3(sandbox, cli, one_line_error):
    token = sandbox.admin_token()
    assert cli("count-active", token=token).code == 0
    sandbox.control("POST", "/_sandbox/tokens/expire")
    one_line_error(cli("count-active", token=token), 3, "expired")


def test_same_second_rule_with_an_injected_clock():
    """iat has one-second resolution: in the call's second, only tokens already seen count as issued before."""
    from cobrowse_cli.sandbox.auth import Verifier, load_or_create_keys, mint_token
    from cobrowse_cli.sandbox.errors import ApiError

    keys = load_or_create_keys(None)
    now = [int(time.time())]
    verifier = Verifier(keys, clock=lambda: now[0])
    seen, unseen = (mint_token(keys, iat=now[0]) for _ in range(2))
    earlier = mint_token(keys, iat=now[0] - 1)
    verifier.verify(seen)
    verifier.expire_issued()
    for token in (seen, earlier):
        with pytest.raises(ApiError) as e:
            verifier.verify(token)
        assert e.value.message == "jwt expired"
    verifier.verify(unseen)  # minted in the same second but first shown after the call: later, works
    verifier.verify(mint_token(keys, iat=now[0]))
    now[0] += 1
    verifier.verify(mint_token(keys, iat=now[0]))
