"""`auth login/status/token/logout` and minting against a real sandbox (no mocked HTTP)."""

from __future__ import annotations

import json



def login_with_key(home, sb, *extra: str):
    return home.run(
        "auth", "login", "--api", sb.url, "--private-key", str(sb.private_key), "--license", sb.license,
        "--sub", "jo@example.com", "--name", "Jo Agent", "--role", "administrator", *extra,
    )  # fmt: skip


def test_minted_token_is_accepted_by_the_sandbox_through_the_client(isolated, local_sandbox):
    from cobrowse_cli import config
    from cobrowse_cli.client import Client

    isolated.write_config(
        f'[profiles.default]\napi = "{local_sandbox.url}"\nlicense_key = "{local_sandbox.license}"\n'
        f'private_key = "{local_sandbox.private_key}"\nsub = "kim@example.com"\nname = "Kim"\nrole = "administrator"\n'
    )
    settings = config.resolve()
    assert settings.token_kind == "minted"
    with Client(api=settings.api, token=settings.token, license=settings.license) as client:
        me = client.me()
        assert (me["name"], me["email"]) == ("Kim", "kim@example.com")
        assert isinstance(client.list_sessions(agent="all", limit=2), list)  # administrator role was minted in


def test_login_with_private_key_validates_saves_and_reports(home, local_sandbox):
    result = login_with_key(home, local_sandbox)
    assert result.code == 0, result.err
    assert result.out == ""
    assert result.err.startswith(f"Logged in to {local_sandbox.url} as Jo Agent (")
    assert result.err.rstrip().endswith("role administrator; profile default")
    saved = home.config.read_text()
    assert f'private_key = "{local_sandbox.private_key}"' in saved and 'default_profile = "default"' in saved
    assert "BEGIN" not in saved  # a path, never the key itself
    assert (home.cache / "default.jwt").exists()  # primed for the next (cron) run

    status = home.run("auth", "status")
    assert status.code == 0, status.err
    lines = dict(line.split(":", 1) for line in status.out.splitlines())
    assert lines["Agent"].strip().startswith("Jo Agent (") and "<jo@example.com>" in lines["Agent"]
    assert lines["Role"].strip() == "administrator"
    assert lines["Expiry"].strip().startswith(("expires in 59m", "expires in 1h 0m"))
    assert "minted from" in lines["Token"] and lines["API"].strip() == f"{local_sandbox.url} (profile)"

    token = home.run("auth", "token").out.strip()
    assert token not in status.out + status.err
    as_json = json.loads(home.run("auth", "status", "--json").out)
    assert as_json["logged_in"] is True and as_json["agent"]["email"] == "jo@example.com"
    assert as_json["sources"] == {"profile": "profile", "api": "profile", "license": "profile", "token": "profile"}
    assert token not in json.dumps(as_json)


def test_login_with_token_stdin_into_a_named_profile(home, local_sandbox):
    token = local_sandbox.token(sub="lee@example.com", name="Lee", role="agent")
    result = home.run("--profile", "staging", "auth", "login", "--api", local_sandbox.url, "--token-stdin", input=token)
    assert result.code == 0, result.err
    assert "as Lee (" in result.err and "role agent; profile staging" in result.err
    assert home.run("--profile", "staging", "auth", "token").out.strip() == token
    assert home.run("config", "get", "default_profile").out.strip() == "staging"  # the first profile


def test_bad_token_exits_3_and_saves_nothing(home, local_sandbox):
    home.write_config('[profiles.default]\napi = "https://keep.example"\n')
    before = home.config.read_text()
    forged = local_sandbox.token(sub="x@example.com")[:-6] + "AAAAAA"
    result = home.run("auth", "login", "--api", local_sandbox.url, "--token", forged)
    assert result.code == 3 and "cannot verify the credentials" in result.err and "nothing saved" in result.err
    assert forged not in result.err
    wrong_license = home.run(
        "auth", "login", "--api", local_sandbox.url, "--private-key", str(local_sandbox.private_key),
        "--license", "not-the-license", "--sub", "a@b",
    )  # fmt: skip
    assert wrong_license.code == 3 and "issuer invalid" in wrong_license.err
    assert home.config.read_text() == before
    assert not home.cache.exists()


def test_login_unreachable_api_exits_1_and_saves_nothing(home, local_sandbox):
    result = login_with_key(home, local_sandbox, "--api", "http://127.0.0.1:9")
    assert result.code == 1 and "cannot verify" in result.err and "nothing saved" in result.err
    assert not home.config.exists()


def test_login_sandbox_state_dir(home, local_sandbox):
    result = home.run("auth", "login", "--sandbox", "--api", local_sandbox.url, "--state-dir", str(local_sandbox.state_dir))
    assert result.code == 0, result.err
    assert "role administrator" in result.err
    assert home.run("config", "get", "sub").out.strip() == "agent@sandbox.test"
    missing = home.run("auth", "login", "--sandbox")
    assert missing.code == 2 and "--state-dir" in missing.err


def test_status_explains_expired_static_token(home, local_sandbox):
    expired = local_sandbox.token(sub="old@example.com", expired=True)
    home.write_config(f'[profiles.default]\napi = "{local_sandbox.url}"\ntoken = "{expired}"\n')
    status = home.run("auth", "status")
    assert status.code == 3
    assert "expired 1h 0m ago" in status.out and "auth login" in status.err
    assert expired not in status.out + status.err


def test_status_warns_when_token_nearly_expired(home, local_sandbox):
    token = local_sandbox.token(sub="soon@example.com", ttl=120)
    status = home.run("auth", "status", env={"COBROWSE_TOKEN": token, "COBROWSE_API": local_sandbox.url})
    assert status.code == 0, status.err
    assert "warning: the token expires in 1m" in status.err or "warning: the token expires in 2m" in status.err
    assert "(env)" in status.out  # where the token and API came from


def test_status_with_rejected_token_exits_3(home, local_sandbox):
    status = home.run("auth", "status", env={"COBROWSE_TOKEN": "a.b.c", "COBROWSE_API": local_sandbox.url})
    assert status.code == 3 and "rejected" in status.both
