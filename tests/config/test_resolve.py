"""Precedence: command-line flag > environment > profile > default, for api, token, license and profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from cobrowse_cli import config
from cobrowse_cli.exitcodes import UsageError

CONFIG = """
default_profile = "work"
[profiles.work]
api = "https://work.example"
license_key = "lic-work"
token = "tok-work"
[profiles.eu]
api = "https://eu.cobrowse.io"
license_key = "lic-eu"
token = "tok-eu"
"""


@pytest.fixture
def cfg(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return {"COBROWSE_CONFIG": str(path)}


def test_defaults_without_any_config(tmp_path: Path):
    s = config.resolve(env={"COBROWSE_CONFIG": str(tmp_path / "missing.toml")})
    assert (s.profile, s.api, s.license, s.token(), s.token_kind) == ("default", "https://cobrowse.io", None, None, "none")
    assert s.sources == {"profile": "default", "api": "default", "license": "default", "token": "default"}


@pytest.mark.parametrize(
    ("flag", "env", "expected", "source"),
    [
        ("https://flag.example", "https://env.example", "https://flag.example", "flag"),
        (None, "https://env.example", "https://env.example", "env"),
        (None, "", "https://work.example", "profile"),  # an empty variable counts as unset
        (None, None, "https://work.example", "profile"),
    ],
)
def test_api_precedence(cfg, flag, env, expected, source):
    if env is not None:
        cfg["COBROWSE_API"] = env
    s = config.resolve(api=flag, env=cfg)
    assert (s.api, s.sources["api"]) == (expected, source)


def test_api_default_when_profile_has_none(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[profiles.default]\ntoken = "t"\n')
    s = config.resolve(env={"COBROWSE_CONFIG": str(path)})
    assert (s.api, s.sources["api"]) == ("https://cobrowse.io", "default")


@pytest.mark.parametrize(
    ("flag", "env", "expected", "source"),
    [("tok-flag", "tok-env", "tok-flag", "flag"), (None, "tok-env", "tok-env", "env"), (None, None, "tok-work", "profile")],
)
def test_token_precedence(cfg, flag, env, expected, source):
    if env:
        cfg["COBROWSE_TOKEN"] = env
    s = config.resolve(token=flag, env=cfg)
    assert (s.token(), s.sources["token"], s.token_kind) == (expected, source, "static")


def test_token_flag_may_be_a_callable(cfg):
    s = config.resolve(token=lambda: "from-callable", env=cfg)
    assert s.token() == "from-callable" and s.sources["token"] == "flag"


@pytest.mark.parametrize(
    ("flag", "env", "expected", "source"),
    [("lic-flag", "lic-env", "lic-flag", "flag"), (None, "lic-env", "lic-env", "env"), (None, None, "lic-work", "profile")],
)
def test_license_precedence(cfg, flag, env, expected, source):
    if env:
        cfg["COBROWSE_LICENSE"] = env
    s = config.resolve(license=flag, env=cfg)
    assert (s.license, s.sources["license"]) == (expected, source)


@pytest.mark.parametrize(
    ("flag", "env", "expected", "source"),
    [("eu", "work", "eu", "flag"), (None, "eu", "eu", "env"), (None, None, "work", "profile")],
)
def test_profile_precedence(cfg, flag, env, expected, source):
    if env:
        cfg["COBROWSE_PROFILE"] = env
    s = config.resolve(profile=flag, env=cfg)
    assert (s.profile, s.sources["profile"]) == (expected, source)
    assert s.token() == f"tok-{expected}"  # the chosen profile's values follow it


def test_profile_default_name_when_no_default_profile(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[profiles.default]\napi = "https://d.example"\n[profiles.other]\napi = "https://o.example"\n')
    s = config.resolve(env={"COBROWSE_CONFIG": str(path)})
    assert (s.profile, s.api, s.sources["profile"]) == ("default", "https://d.example", "default")


@pytest.mark.parametrize("via", ["flag", "env"])
def test_unknown_explicit_profile_lists_known_ones(cfg, via):
    kwargs = {"profile": "nope"} if via == "flag" else {}
    if via == "env":
        cfg["COBROWSE_PROFILE"] = "nope"
    with pytest.raises(UsageError, match=r"unknown profile 'nope'.*known profiles: eu, work"):
        config.resolve(env=cfg, **kwargs)


def test_env_overrides_each_value_independently(cfg):
    # env API with the profile's token: values resolve one by one, not all-or-nothing
    s = config.resolve(env={**cfg, "COBROWSE_API": "http://127.0.0.1:9/"})
    assert (s.api, s.token(), s.license) == ("http://127.0.0.1:9", "tok-work", "lic-work")


def test_invalid_api_from_env_is_a_usage_error(cfg):
    with pytest.raises(UsageError, match="invalid api"):
        config.resolve(env={**cfg, "COBROWSE_API": "ftp://x"})


def test_static_token_beats_private_key_and_minting_needs_sub(tmp_path: Path, rsa_key):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.default]\nprivate_key = "{rsa_key.path}"\nlicense_key = "lic"\ntoken = "static"\nsub = "a"\n')
    assert config.resolve(env={"COBROWSE_CONFIG": str(path)}).token_kind == "static"
    path.write_text(f'[profiles.default]\nprivate_key = "{rsa_key.path}"\nlicense_key = "lic"\n')
    with pytest.raises(UsageError, match="no sub"):
        config.resolve(env={"COBROWSE_CONFIG": str(path)})


def test_env_token_beats_minting_profile(tmp_path: Path, rsa_key):
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.default]\nprivate_key = "{rsa_key.path}"\nlicense_key = "lic"\nsub = "a"\n')
    s = config.resolve(env={"COBROWSE_CONFIG": str(path), "COBROWSE_TOKEN": "envtok"})
    assert (s.token(), s.token_kind, s.sources["token"]) == ("envtok", "static", "env")


def test_config_path_override_and_default(tmp_path: Path):
    assert config.config_path({"COBROWSE_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    default = config.config_path({})
    assert default.name == "config.toml" and default.parent.name == "cobrowse-cli"


def test_package_import_stays_light():
    import subprocess
    import sys

    code = "import sys, cobrowse_cli.config; print(sorted(m for m in ('jwt','cryptography','tomli_w','httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
