"""`cobrowse config ...` and the offline parts of `auth`, run as the installed CLI in an isolated HOME."""

from __future__ import annotations

import stat
import time

import jwt as pyjwt
import pytest

SECRET = pyjwt.encode({"sub": "a@x", "exp": int(time.time()) + 7200, "pad": "p" * 40}, "k" * 32, algorithm="HS256")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_set_get_list_unset_path(isolated):
    assert isolated.run("config", "path").out.strip() == str(isolated.config)
    assert isolated.run("config", "set", "api", "https://eu.cobrowse.io/").code == 0
    assert isolated.run("config", "set", "token_ttl", "900").code == 0
    assert isolated.run("config", "set", "role", "agent").code == 0
    assert isolated.run("config", "get", "api").out == "https://eu.cobrowse.io\n"  # trailing slash dropped
    listed = isolated.run("config", "list")
    assert listed.code == 0 and listed.out == "api=https://eu.cobrowse.io\nrole=agent\ntoken_ttl=900\n"
    assert isolated.run("config", "unset", "role").code == 0
    missing = isolated.run("config", "get", "role")
    assert missing.code == 4 and "role is not set in profile 'default'" in missing.err
    # the file is real TOML in the documented layout
    assert 'token_ttl = 900' in isolated.config.read_text() and "[profiles.default]" in isolated.config.read_text()


def test_config_and_directory_are_private(home):
    assert home.run("config", "set", "token", SECRET).code == 0
    assert mode(home.config) == 0o600 and mode(home.config.parent) == 0o700


def test_token_is_masked_everywhere_and_stdin_input(home):
    assert home.run("config", "set", "token", "-", input=SECRET + "\n").code == 0
    assert home.run("config", "set", "license_key", "lic-1").code == 0
    assert home.run("config", "set", "api", "http://127.0.0.1:9").code == 0  # closed port: status fails fast
    outputs = [
        home.run("config", "list"),
        home.run("config", "list", "--json"),
        home.run("config", "list", "--all"),
        home.run("config", "get", "token"),
        home.run("auth", "status"),  # no server reachable: must still not print it
    ]
    assert outputs[-1].code == 1 and "cannot reach http://127.0.0.1:9" in outputs[-1].err
    for result in outputs:
        assert SECRET not in result.both
    assert home.run("config", "get", "token").out.strip() == f"{SECRET[:8]}…{SECRET[-4:]}"
    assert f"token={SECRET[:8]}…{SECRET[-4:]}" in outputs[0].out
    assert f"Token:   {SECRET[:8]}…{SECRET[-4:]} (static; profile)" in outputs[-1].out
    # ...but `auth token` exists to print it, and only it
    assert home.run("auth", "token").out == SECRET + "\n"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("api", "ftp://x", "invalid api"),
        ("api", "cobrowse.io", "invalid api"),
        ("token_ttl", "0", "1..86400"),
        ("token_ttl", "86401", "at most one day"),
        ("token_ttl", "1h", "whole seconds"),
        ("role", "root", "expected one of administrator, agent"),
        ("private_key", "/nonexistent/key.pem", "does not exist"),
        ("colour", "blue", "unknown config key 'colour'"),
        ("default_profile", "nope", "no profile named 'nope'"),
    ],
)
def test_invalid_values_are_usage_errors_and_nothing_is_written(isolated, key, value, message):
    result = isolated.run("config", "set", key, value)
    assert result.code == 2 and message in result.err, result.err
    assert result.err.count("\n") == 1  # one line
    assert not isolated.config.exists()


def test_private_key_must_parse(isolated, tmp_path, rsa_key):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("hello")
    bad = isolated.run("config", "set", "private_key", str(bogus))
    assert bad.code == 2 and "not a PEM private key" in bad.err
    good = isolated.run("config", "set", "private_key", str(rsa_key.path))
    assert good.code == 0 and isolated.run("config", "get", "private_key").out.strip() == str(rsa_key.path)


def test_corrupt_config_names_file_and_line_and_is_never_overwritten(home):
    text = '[profiles.default]\napi = "https://x"\ntoken = = "t"\n'
    home.write_config(text)
    for args in (("config", "list"), ("config", "set", "api", "https://y"), ("auth", "token"), ("auth", "logout")):
        result = home.run(*args)
        assert result.code == 2, args
        assert str(home.config) in result.err and "line 3" in result.err
    assert home.config.read_text() == text


def test_profiles_and_default_profile(isolated):
    assert isolated.run("--profile", "eu", "config", "set", "api", "https://eu.cobrowse.io").code == 0
    assert isolated.run("--profile", "work", "config", "set", "api", "https://work.example").code == 0
    assert isolated.run("config", "get", "default_profile").code == 4
    assert isolated.run("config", "set", "default_profile", "work").code == 0
    assert isolated.run("config", "get", "api").out.strip() == "https://work.example"
    assert isolated.run("config", "get", "api", env={"COBROWSE_PROFILE": "eu"}).out.strip() == "https://eu.cobrowse.io"
    assert isolated.run("--profile", "eu", "config", "get", "api", env={"COBROWSE_PROFILE": "work"}).out.strip() == (
        "https://eu.cobrowse.io"
    )
    unknown = isolated.run("--profile", "nope", "config", "list")
    assert unknown.code == 2 and "known profiles: eu, work" in unknown.err
    everything = isolated.run("config", "list", "--all").out.splitlines()
    assert everything == [
        "default_profile=work",
        "profiles.eu.api=https://eu.cobrowse.io",
        "profiles.work.api=https://work.example",
    ]


def test_auth_token_precedence_flag_env_profile(isolated):
    isolated.write_config('default_profile = "a"\n[profiles.a]\ntoken = "tok-a"\n[profiles.b]\ntoken = "tok-b"\n')
    assert isolated.run("auth", "token").out == "tok-a\n"
    assert isolated.run("auth", "token", env={"COBROWSE_PROFILE": "b"}).out == "tok-b\n"
    assert isolated.run("--profile", "a", "auth", "token", env={"COBROWSE_PROFILE": "b"}).out == "tok-a\n"
    assert isolated.run("auth", "token", env={"COBROWSE_TOKEN": "tok-env"}).out == "tok-env\n"


def test_auth_token_mints_and_caches(home, rsa_key):
    home.write_config(
        f'[profiles.default]\nprivate_key = "{rsa_key.path}"\nlicense_key = "lic-1"\nsub = "a@x"\nrole = "agent"\ntoken_ttl = 900\n'
    )
    first = home.run("auth", "token")
    assert first.code == 0 and first.err == ""
    token = first.out.strip()
    claims = pyjwt.decode(token, rsa_key.public_pem, algorithms=["RS256"], audience="https://cobrowse.io")
    assert (claims["iss"], claims["sub"], claims["role"], claims["exp"] - claims["iat"]) == ("lic-1", "a@x", "agent", 900)
    cache = home.cache / "default.jwt"
    assert mode(cache) == 0o600
    time.sleep(1.1)  # a fresh mint would differ in iat: equality proves the cache was used
    assert home.run("auth", "token").out.strip() == token


def test_auth_token_not_logged_in_and_expired(home):
    none = home.run("auth", "token")
    assert none.code == 3 and none.out == "" and "not logged in" in none.err
    expired = pyjwt.encode({"exp": int(time.time()) - 600}, "k" * 32, algorithm="HS256")
    result = home.run("auth", "token", env={"COBROWSE_TOKEN": expired})
    assert result.code == 3 and "env token expired 10m ago" in result.err and expired not in result.both


def test_logout_removes_credentials_and_cache(home, rsa_key):
    home.write_config(
        f'[profiles.default]\napi = "https://x.example"\nprivate_key = "{rsa_key.path}"\nlicense_key = "l"\nsub = "a"\n'
    )
    assert home.run("auth", "token").code == 0 and (home.cache / "default.jwt").exists()
    out = home.run("auth", "logout")
    assert out.code == 0 and "removed private_key, cached tokens" in out.err
    assert not (home.cache / "default.jwt").exists()
    assert "private_key" not in home.config.read_text() and 'api = "https://x.example"' in home.config.read_text()
    assert home.run("auth", "token").code == 3
    again = home.run("auth", "logout")
    assert again.code == 0 and "nothing to do" in again.err


def test_login_without_tty_or_credentials_is_a_usage_error(home):
    result = home.run("auth", "login")
    assert result.code == 2 and "prompts only on a terminal" in result.err
    both = home.run("auth", "login", "--token", "x", "--private-key", "/k")
    assert both.code == 2 and "not both" in both.err
    no_sub = home.run("auth", "login", "--private-key", "/nonexistent.pem", "--license", "l")
    assert no_sub.code == 2
    assert not home.config.exists()


def test_auth_status_not_logged_in_exits_3(home):
    result = home.run("auth", "status")
    assert result.code == 3 and "not logged in" in result.both
    as_json = home.run("auth", "status", "--json")
    assert as_json.code == 3 and '"logged_in": false' in as_json.out
