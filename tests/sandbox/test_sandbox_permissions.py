"""The documented permission model in the default sandbox: administrators read and end everything, an agent
only its own sessions (the session's agent, else its creator); another agent's session looks missing (404)."""

from __future__ import annotations

import pytest

ALICE = "alice@sandbox.test"


def me(sandbox, token) -> str:
    return sandbox.api("GET", "/api/1/users/me", token=token).body["id"]


def others_session(sandbox, agent_id: str, state: str = "active") -> dict:
    rows = sandbox.api("GET", f"/api/1/sessions?agent=all&limit=1000&state={state}", token=sandbox.admin_token()).body
    return next(r for r in rows if r["agent"] and r["agent"]["id"] != agent_id)


def test_an_agent_reads_and_ends_its_own_session(sandbox):
    token = sandbox.token(ALICE)
    mine = sandbox.api("GET", "/api/1/sessions?state=active&limit=1", token=token).body[0]
    assert mine["agent"]["id"] == me(sandbox, token)
    assert sandbox.api("GET", f"/api/1/sessions/{mine['id']}", token=token).status == 200
    assert sandbox.api("GET", f"/api/1/sessions/{mine['code']}", token=token).status == 200
    res = sandbox.api("PUT", f"/api/1/sessions/{mine['id']}", token=token, json={"id": mine["id"], "state": "ended"})
    assert res.status == 200 and res.body["state"] == "ended"


@pytest.mark.parametrize("how", ["get-id", "get-code", "end", "update", "tokens"])
def test_another_agents_session_answers_like_a_missing_one(sandbox, how):
    token = sandbox.token(ALICE)
    other = others_session(sandbox, me(sandbox, token))
    key = other["code"] if how == "get-code" else other["id"]
    method, path, body = {
        "get-id": ("GET", f"/api/1/sessions/{key}", None),
        "get-code": ("GET", f"/api/1/sessions/{key}", None),
        "end": ("PUT", f"/api/1/sessions/{key}", {"id": key, "state": "ended"}),
        "update": ("PUT", f"/api/1/sessions/{key}", {"id": key, "custom_data": {"x": "y"}}),
        "tokens": ("GET", f"/api/1/sessions/{key}/tokens", None),
    }[how]
    res = sandbox.api(method, path, token=token, json=body)
    missing = sandbox.api(method, path.replace(key, "0" * len(key)), token=token, json=body)
    assert res.status == missing.status == 404
    assert res.body["id"] == missing.body["id"] == "not_found"
    after = sandbox.api("GET", f"/api/1/sessions/{other['id']}", token=sandbox.admin_token()).body
    assert after["state"] == "active" and "x" not in after["custom_data"]
    assert other["id"] not in sandbox.stats()["ends"]["by_session"]


def test_an_administrator_reads_and_ends_anyones_session(sandbox):
    admin = sandbox.admin_token()
    other = others_session(sandbox, me(sandbox, admin))
    assert sandbox.api("GET", f"/api/1/sessions/{other['id']}", token=admin).status == 200
    res = sandbox.api("PUT", f"/api/1/sessions/{other['id']}", token=admin, json={"id": other["id"], "state": "ended"})
    assert res.status == 200 and res.body["state"] == "ended"


def test_a_role_claim_other_than_administrator_is_an_agent(sandbox):
    token = sandbox.token(ALICE, role="supervisor")
    other = others_session(sandbox, me(sandbox, token))
    assert sandbox.api("GET", f"/api/1/sessions/{other['id']}", token=token).status == 404
    assert sandbox.api("GET", "/api/1/sessions?agent=all", token=token).status == 403


def test_agent_all_from_an_agent_is_a_403(sandbox):
    res = sandbox.api("GET", "/api/1/sessions?agent=all", token=sandbox.token(ALICE))
    assert res.status == 403 and res.body == {"id": "forbidden", "message": "agent=all requires a token with role 'administrator'"}


def test_a_session_with_no_agent_belongs_to_its_creator(sandbox):
    token = sandbox.token(ALICE)
    created = sandbox.api("POST", "/api/1/sessions", token=token, json={"custom_data": {"t": "1"}}).body
    assert created["agent"]["id"] == me(sandbox, token)
    assert sandbox.api("GET", f"/api/1/sessions/{created['id']}", token=token).status == 200
    assert sandbox.api("GET", f"/api/1/sessions/{created['id']}", token=sandbox.token("bob@sandbox.test")).status == 404
    # a device-started session no agent has joined: nobody's, so administrators only
    device_made = sandbox.control("POST", "/_sandbox/sessions", {"count": 1})["ids"][0]
    assert sandbox.api("GET", f"/api/1/sessions/{device_made}", token=token).status == 404
    assert sandbox.api("GET", f"/api/1/sessions/{device_made}", token=sandbox.admin_token()).status == 200
