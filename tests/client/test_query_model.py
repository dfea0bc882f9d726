"""The query model: what a selection sends (to_params) and what it accepts (matches), on the client."""

from datetime import datetime, timedelta, timezone

import pytest

from cobrowse_cli.client.query import encode_query
from cobrowse_cli.client.selection import AgentEmailMissing, DeviceQuery, SessionQuery, js_number, js_string

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
ALICE = {"id": "ag_alice", "name": "Alice", "email": "alice@example.com"}


def session(**kw):
    base = {"id": "s1", "state": "active", "custom_data": {}, "agent": ALICE,
            "created": "2026-11-25T10:00:00.000Z", "activated": "2026-11-25T10:05:00.000Z",
            "updated": "2026-11-25T11:00:00.000Z"}
    return {**base, **kw}


@pytest.mark.parametrize("value,text", [
    (42, "42"), (42.0, "42"), (True, "true"), (False, "false"), ("x", "x"), (1.5, "1.5"), (1e21, "1e+21"),
    (1e-7, "1e-7"), (0.00001, "0.00001"), (-0.0, "0"), (123e-20, "1.23e-18"), (2**60, "1152921504606847000"),
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (100.0, "100"), (0.1, "0.1"), (-2.5e25, "-2.5e+25"),
])
def test_js_string_renders_like_javascript(value, text):
    assert js_string(value) == text


@pytest.mark.parametrize("value", [None, {"a": 1}, [1], []])
def test_objects_arrays_and_null_never_match(value):
    assert js_string(value) is None
    assert not SessionQuery(filters={"k": str(value)}).matches(session(custom_data={"k": value}))
    assert not SessionQuery(filters={"k": ""}).matches(session(custom_data={"k": value}))


def test_filters_compare_as_string_and_keys_are_literal():
    q = SessionQuery(filters={"user_id": "42", "vip": "true"})
    assert q.matches(session(custom_data={"user_id": 42, "vip": True}))
    assert q.matches(session(custom_data={"user_id": "42", "vip": "true"}))
    assert not q.matches(session(custom_data={"user_id": 42}))  # every filter must hold
    assert not q.matches(session(custom_data={"user_id": "042", "vip": True}))
    assert not q.matches(session(custom_data=None))
    nested = SessionQuery(filters={"a.b": "1"})
    assert not nested.matches(session(custom_data={"a": {"b": 1}}))
    assert nested.matches(session(custom_data={"a.b": 1}))


def test_states():
    q = SessionQuery(states=("pending", "active"))
    assert q.matches(session(state="active")) and q.matches(session(state="pending"))
    assert q.mismatch(session(state="ended")) == "state"
    assert q.mismatch(session(state=None)) == "state"
    assert SessionQuery().matches(session(state="ended"))
    assert not q.matches("not a session")
    with pytest.raises(ValueError):
        SessionQuery(states=("activ",))


def test_agent_by_id_or_email():
    assert SessionQuery(agent="ag_alice").matches(session())
    assert SessionQuery(agent="ALICE@example.com").matches(session())
    assert SessionQuery(agent="bob@example.com").mismatch(session()) == "agent"
    assert SessionQuery(agent="ag_bob").mismatch(session()) == "agent"
    assert SessionQuery(agent="ag_alice").mismatch(session(agent=None)) == "agent"  # nobody joined
    assert SessionQuery(agent="all").matches(session(agent=None))
    assert SessionQuery(agent="me").matches(session(agent=None))


def test_agent_email_missing_is_loud():
    with pytest.raises(AgentEmailMissing, match="has no email"):
        SessionQuery(agent="alice@example.com").matches(session(agent={"id": "ag_alice", "name": "Alice"}))
    # by id it still works
    assert SessionQuery(agent="ag_alice").matches(session(agent={"id": "ag_alice"}))


def test_time_bounds_are_strict_and_fall_back_to_created():
    at = datetime(2026, 11, 25, 10, 5, tzinfo=timezone.utc)
    assert not SessionQuery(activated_after=at).matches(session())
    assert not SessionQuery(activated_before=at).matches(session())
    assert SessionQuery(activated_before=at + timedelta(milliseconds=1)).matches(session())
    pending = session(state="pending", activated=None)
    assert SessionQuery(activated_before=at).matches(pending)  # created 10:00
    assert SessionQuery(activated_after=at).mismatch(pending) == "time"
    assert SessionQuery(activated_after=at).mismatch(session(activated=None, created="garbage")) == "time"


def test_ages_read_created_and_updated_against_now():
    assert SessionQuery(older_than=timedelta(hours=1)).matches(session(), now=NOW)
    assert SessionQuery(older_than=timedelta(hours=3)).mismatch(session(), now=NOW) == "age"
    assert SessionQuery(inactive_for=timedelta(minutes=59)).matches(session(), now=NOW)
    assert not SessionQuery(inactive_for=timedelta(minutes=61)).matches(session(), now=NOW)
    assert not SessionQuery(inactive_for=timedelta(minutes=1)).matches(session(updated=None), now=NOW)


def test_to_params_encodes_everything_in_one_place():
    at = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    q = SessionQuery(states=("active",), filters={"user_id": "42"}, agent="all", activated_after=at,
                     older_than=timedelta(hours=1))
    assert q.to_params(admin=True) == {"state": ["active"], "filter_user_id": "42", "agent": "all",
                                       "activated_after": "2026-11-25T10:00:00.000Z"}
    assert encode_query(q.to_params(admin=True)) == (
        "state%5B%5D=active&filter_user_id=42&agent=all&activated_after=2026-11-25T10%3A00%3A00.000Z")


def test_a_named_agent_is_never_sent():
    q = SessionQuery(agent="ag_alice")
    assert q.to_params(admin=True) == {"agent": "all"}  # matched on the client
    assert q.to_params(admin=False) == {}  # a non-administrator's own sessions
    assert SessionQuery(agent="me").to_params(admin=True) == {}


def test_device_query():
    at = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    q = DeviceQuery(filters={"user_id": "7"}, seen_after=at)
    assert q.to_params() == {"filter_user_id": "7", "seen_after": "2026-11-25T10:00:00.000Z"}
    assert q.matches({"id": "d", "custom_data": {"user_id": 7}, "last_active": "2026-11-25T10:00:00.001Z"})
    assert q.mismatch({"id": "d", "custom_data": {"user_id": 7}, "last_active": "2026-11-25T10:00:00.000Z"}) == "time"
    assert q.mismatch({"id": "d", "custom_data": {"user_id": 8}, "last_active": "2026-11-25T11:00:00Z"}) == "filter"


def test_js_number_round_trips_shortest():
    assert js_number(0.1 + 0.2) == "0.30000000000000004"
    assert js_number(5e-324) == "5e-324"


# ---- role before reach and verified listings, against the sandbox ----------------------------------

from cobrowse_cli.client import Client  # noqa: E402
from cobrowse_cli.client.errors import RoleError  # noqa: E402
from cobrowse_cli.client.listing import scope_params, select_sessions, token_role  # noqa: E402


def _requests(sandbox) -> int:
    return sum(r["count"] for r in sandbox.stats()["requests"]["by_route"] if r["path"] == "/api/1/sessions")


def test_role_comes_from_the_token_claim(sandbox):
    assert token_role(sandbox.admin_token()) == "administrator"
    assert token_role(sandbox.token()) is None
    assert token_role("not-a-jwt") is None


def test_a_non_administrator_is_refused_before_any_request(sandbox):
    with Client(sandbox.url, token=sandbox.token()) as c:
        before = _requests(sandbox)
        with pytest.raises(RoleError, match="--agent me"):
            scope_params(c, SessionQuery(agent="all"))
        with pytest.raises(RoleError, match="another agent"):
            select_sessions(c, SessionQuery(agent="bob@sandbox.test"))
        assert _requests(sandbox) == before
        # naming itself (by the token's sub, or by id via users/me) is its own sessions: no agent parameter
        assert scope_params(c, SessionQuery(agent="agent@sandbox.test", states=("active",))) == {"state": ["active"]}
        me = c.me()["id"]
        assert scope_params(c, SessionQuery(agent=me)) == {}


def test_an_administrator_naming_an_agent_sends_agent_all_and_matches_on_the_client(sandbox):
    with Client(sandbox.url, token=sandbox.admin_token()) as c:
        query = SessionQuery(agent="alice@sandbox.test")
        assert scope_params(c, query) == {"agent": "all"}
        selection = select_sessions(c, query)
        got = list(selection)
        every = list(c.iter_sessions({"agent": "all"}))
    assert got and all(s["agent"]["email"] == "alice@sandbox.test" for s in got)
    assert len(got) == sum((s.get("agent") or {}).get("email") == "alice@sandbox.test" for s in every)
    assert selection.outside == [] and selection.notes() == []  # other agents' sessions were expected


def test_an_agent_nobody_has_is_a_note_listing_the_agents_seen(sandbox):
    with Client(sandbox.url, token=sandbox.admin_token()) as c:
        selection = select_sessions(c, SessionQuery(agent="alcie@sandbox.test", states=("active",)))
        assert list(selection) == []
    [note] = selection.notes()
    assert "no sessions of agent 'alcie@sandbox.test'" in note and "alice@sandbox.test (ag_" in note


def test_a_limit_counts_matching_sessions_not_returned_ones(sandbox):
    with Client(sandbox.url, token=sandbox.admin_token()) as c:
        got = list(select_sessions(c, SessionQuery(agent="bob@sandbox.test"), limit=5))
    assert len(got) == 5 and all(s["agent"]["email"] == "bob@sandbox.test" for s in got)


def test_sessions_the_server_should_not_have_sent_are_counted_not_listed(sandbox):
    """A server that ignores filters: the client drops what does not match and says how many."""
    class IgnoringFilters:
        token = sandbox.admin_token()

        def iter_sessions(self, params, **kw):
            with Client(sandbox.url, token=self.token) as c:
                yield from c.iter_sessions({k: v for k, v in params.items() if not k.startswith("filter_")}, **kw)

    selection = select_sessions(IgnoringFilters(), SessionQuery(states=("active",), filters={"plan": "pro"}, agent="all"))
    got = list(selection)
    assert got and all(s["custom_data"]["plan"] == "pro" for s in got)
    assert len(selection.outside) == selection.seen - len(got) > 0
    notes = selection.notes(debug=True)
    assert notes[0].startswith(f"the server returned {len(selection.outside)} sessions outside the selection")
    assert selection.outside[0] in notes[1]
