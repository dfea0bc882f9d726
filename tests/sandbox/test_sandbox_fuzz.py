"""Bad input never makes the sandbox answer 500: random query strings and bodies against the real server."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARAMS = ["limit", "state", "state[]", "agent", "activated_before", "activated_after", "seen_before", "seen_after",
          "filter_user_id", "filter_", "demo_id"]
VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1000", "1001", "active", "all", "me", "2024-01-01T00:00:00Z", "9999-99-99", "null"]),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
BODY_KEYS = ["id", "state", "custom_data", "remote_control", "full_device", "calling", "session", "attempt", "agent"]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_error_shape(res):
    assert res.status < 500, (res.status, res.body)
    if res.status >= 400:
        assert isinstance(res.body, dict) and set(res.body) == {"id", "message"}, res.body


@FUZZ
@given(path=st.sampled_from(["/api/1/sessions", "/api/1/devices", "/api/1/demo/token"]),
       query=st.lists(st.tuples(st.sampled_from(PARAMS), VALUES), max_size=5))
def test_random_queries(sandbox_server, path, query):
    qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    assert_error_shape(sandbox_server.api("GET", f"{path}?{qs}", token=sandbox_server.admin_token()))


@FUZZ
@given(body=st.one_of(st.dictionaries(st.sampled_from(BODY_KEYS), JSON_VALUES, max_size=4), JSON_VALUES),
       raw=st.one_of(st.none(), st.binary(max_size=20)))
def test_random_bodies(sandbox_server, body, raw):
    token = sandbox_server.token()
    sid = sandbox_server.api("POST", "/api/1/sessions", token=token).body["id"]
    data = raw if raw is not None else json.dumps(body).encode()
    for method, path in [("PUT", f"/api/1/sessions/{sid}"), ("POST", "/api/1/sessions"),
                         ("POST", "/_sandbox/faults"), ("POST", "/_sandbox/sessions"), ("POST", "/_sandbox/devices")]:
        if path == "/_sandbox/faults" and isinstance(body, dict) and not body:
            continue
        res = sandbox_server.api(method, path, token=token, body=data)
        assert_error_shape(res)
    sandbox_server.control("POST", "/_sandbox/faults", {"reset": True})
    assert sandbox_server.stats()["requests"]["by_status"].get("500") is None
