"""Issue 18's CPU cuts must not change what anything means: each fast path against the slow path it
skips, on random data (the oracles below are the code as it was before the cuts)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cobrowse_cli.client.selection import AgentEmailMissing, SessionQuery, _older, _time, _within, agent_matches, filters_match
from cobrowse_cli.timeutil import iso_ms, parse_iso

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)


def slow_parse_iso(text):
    """parse_iso without its fast path."""
    if not isinstance(text, str):
        raise ValueError(text)
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(text) from None


def outcome(parse, text):
    try:
        moment = parse(text)
    except ValueError:
        return "error"
    return moment, moment.utcoffset(), moment.tzinfo is timezone.utc


api_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: iso_ms(d.replace(tzinfo=timezone.utc)))
# Strings of the fast path's shape (24 characters ending in Z), valid or nearly: a character replaced by one
# ISO 8601 gives meaning to (a space, a comma, an offset sign, a week or ordinal date...).
mutated = st.tuples(api_times, st.integers(0, 22), st.sampled_from(list(" ,+-:.TtZzW0123456789\u0661"))).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1:])
shaped = st.text(alphabet="0123456789-:.+ TWZ,", min_size=23, max_size=23).map(lambda s: s + "Z")


@settings(max_examples=400, deadline=None)
@given(st.one_of(api_times, mutated, shaped, st.text(max_size=30)))
def test_parse_iso_fast_path_agrees_with_the_general_path(text):
    assert outcome(parse_iso, text) == outcome(slow_parse_iso, text)


def slow_mismatch(q: SessionQuery, session, now):
    """SessionQuery.mismatch before its criteria were worked out once per query."""
    if not isinstance(session, dict):
        return "state"
    if q.states and session.get("state") not in q.states:
        return "state"
    if not filters_match(q.filters, session):
        return "filter"
    named = None if q.agent in (None, "", "me", "all") else q.agent
    if named and not agent_matches(named, session):
        return "agent"
    if (q.activated_after or q.activated_before) and not _within(
            _time(session, SessionQuery.TIME_FIELDS), q.activated_after, q.activated_before):
        return "time"
    if q.older_than or q.inactive_for:
        if q.older_than and not _older(_time(session, ("created",)), now - q.older_than):
            return "age"
        if q.inactive_for and not _older(_time(session, ("updated",)), now - q.inactive_for):
            return "age"
    return None


times = st.one_of(st.none(), st.just(""), st.just("garbage"),
                  st.integers(-5000, 5000).map(lambda m: iso_ms(NOW + timedelta(seconds=m))))
agents = st.one_of(st.none(), st.just("x"), st.fixed_dictionaries(
    {"id": st.sampled_from(["ag_a", "ag_b"])}, optional={"email": st.sampled_from(["a@x.test", "B@x.test", ""])}))
sessions = st.one_of(st.integers(), st.fixed_dictionaries({}, optional={
    "id": st.just("s1"), "state": st.sampled_from(["pending", "authorizing", "active", "ended", None, 3]),
    "custom_data": st.one_of(st.none(), st.dictionaries(st.sampled_from(["plan", "n"]), st.one_of(
        st.sampled_from(["pro", "free", "1"]), st.integers(0, 2), st.booleans(), st.none()), max_size=2)),
    "agent": agents, "activated": times, "created": times, "updated": times}))
bounds = st.one_of(st.none(), st.integers(-3000, 3000).map(lambda m: NOW + timedelta(seconds=m)))
ages = st.one_of(st.none(), st.integers(0, 3000).map(lambda s: timedelta(seconds=s)))
queries = st.builds(
    SessionQuery, states=st.lists(st.sampled_from(["pending", "authorizing", "active", "ended"]), max_size=2),
    filters=st.dictionaries(st.sampled_from(["plan", "n"]), st.sampled_from(["pro", "1", "true"]), max_size=2),
    agent=st.sampled_from([None, "", "me", "all", "ag_a", "a@x.test", "b@X.test"]),
    activated_after=bounds, activated_before=bounds, older_than=ages, inactive_for=ages)


def verdict(mismatch, *args):
    try:
        return mismatch(*args)
    except AgentEmailMissing:
        return "no email"


@settings(max_examples=300, deadline=None)
@given(queries, sessions)
def test_session_mismatch_agrees_with_the_per_item_checks(query, session):
    assert verdict(lambda q, s: q.mismatch(s, now=NOW), query, session) == verdict(
        lambda q, s: slow_mismatch(q, s, NOW), query, session)
