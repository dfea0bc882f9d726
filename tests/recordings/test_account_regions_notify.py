"""`cobrowse account`, regions (--region / COBROWSE_REGION / profile), `devices notify`."""

from __future__ import annotations

import json

import pytest

from cobrowse_cli import config
from cobrowse_cli.exitcodes import UsageError


def test_account_masks_the_license_key(cli, sandbox):
    license = (sandbox.state_dir / "sandbox-license").read_text().strip()
    result = cli("account", "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert license not in result.out and info["license_key"].endswith(license[-4:])
    assert "recording" in info["features"] and info["role"] == "administrator"
    assert info["permissions"]["recordings:delete"] == "all"
    table = cli("account")
    assert table.code == 0 and license not in table.out and "license_key" in table.out


def test_regions_closest_and_list(cli, sandbox):
    closest = cli("regions", "closest", "--json")
    assert closest.code == 0, closest.err
    assert json.loads(closest.out) == {"id": "us", "type": "region", "api": "https://cobrowse.io"}
    listed = cli("regions", "list", "--json", env={"COBROWSE_API": "", "COBROWSE_REGION": "eu"})
    assert listed.code == 0, listed.err
    assert {r["id"]: r["current"] for r in json.loads(listed.out)} == {"us": False, "eu": True}


def test_unknown_region_is_a_usage_error(cli, sandbox, one_line_error):
    one_line_error(cli("--region", "mars", "regions", "list", env={"COBROWSE_API": ""}), 2, "unknown region 'mars'")


@pytest.mark.parametrize("kwargs, env, profile, expected", [
    ({"region": "eu"}, {}, {}, "https://eu.cobrowse.io"),
    ({}, {"COBROWSE_REGION": "EU"}, {}, "https://eu.cobrowse.io"),
    ({}, {}, {"region": "eu"}, "https://eu.cobrowse.io"),
    ({"region": "us"}, {"COBROWSE_API": "https://self.example"}, {}, "https://cobrowse.io"),  # a flag beats env
    ({}, {"COBROWSE_API": "https://self.example", "COBROWSE_REGION": "eu"}, {}, "https://self.example"),  # URL wins
    ({}, {"COBROWSE_REGION": "eu"}, {"api": "https://self.example"}, "https://eu.cobrowse.io"),  # env beats profile
    ({}, {}, {}, "https://cobrowse.io"),
])
def test_region_precedence(tmp_path, kwargs, env, profile, expected):
    path = tmp_path / "config.toml"
    body = "".join(f'{k} = "{v}"\n' for k, v in profile.items())
    path.write_text(f"[profiles.default]\n{body}")
    settings = config.resolve(env={"COBROWSE_CONFIG": str(path), **env}, **kwargs)
    assert settings.api == expected


def test_profile_region_can_be_set_and_is_checked(tmp_path):
    from cobrowse_cli.config import keys

    assert keys.validate("region", " EU ") == "eu"
    with pytest.raises(UsageError):
        keys.validate("region", "mars")


def test_notify_reports_each_attempt_and_the_sandbox_saw_them(cli, sandbox):
    device = sandbox.api("GET", "/api/1/devices?limit=1").body[0]["id"]
    session = sandbox.api("POST", "/api/1/sessions", json={}).body["id"]
    result = cli("devices", "notify", device, "--session", session, "--attempts", "3", "--every", "10ms", "--json")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.lines]
    assert [r["attempt"] for r in rows] == [1, 2, 3] and all(r["device"] == device for r in rows)
    seen = sandbox.control("GET", "/_sandbox/notifications")
    assert seen == [{"device": device, "session": session, "attempt": n} for n in (1, 2, 3)]


def test_notify_stops_once_the_device_joined(cli, sandbox):
    device = sandbox.api("GET", "/api/1/devices?limit=1").body[0]["id"]
    session = sandbox.api("POST", "/api/1/sessions", json={}).body["id"]
    sandbox.control("POST", f"/_sandbox/sessions/{session}/activate")
    result = cli("devices", "notify", device, "--session", session, "--attempts", "5", "--every", "10ms", "--json")
    assert result.code == 0 and len(result.lines) == 1
    assert "active now" in result.err
    assert len(sandbox.control("GET", "/_sandbox/notifications")) == 1


def test_notify_unknown_session_is_not_found(cli, sandbox, one_line_error):
    device = sandbox.api("GET", "/api/1/devices?limit=1").body[0]["id"]
    one_line_error(cli("devices", "notify", device, "--session", "nope"), 4, "no session")
