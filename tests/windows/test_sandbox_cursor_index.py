"""The sandbox's sorted cursor index (store.py) answers every bounded listing exactly as a full scan does,
through state changes, strict and inclusive bounds, owners and filters (in-process: no server needed)."""

from __future__ import annotations

import random

import pytest

from cobrowse_cli.sandbox.model import STATES, matches_filters
from cobrowse_cli.sandbox.seed import SeedParams, seed_store
from cobrowse_cli.sandbox.store import Store


def scanned(store, *, states, owner_ids, filters, before_us, after_us, limit, before_inclusive, after_inclusive):
    def keep(s):
        t = s.key_ms * 1000
        return ((not states or s.state in states) and (owner_ids is None or s.owner_id in owner_ids)
                and (before_us is None or (t <= before_us if before_inclusive else t < before_us))
                and (after_us is None or (t >= after_us if after_inclusive else t > after_us))
                and (not filters or matches_filters(s.data["custom_data"], filters)))
    return [s.data["id"] for s in sorted(filter(keep, store.sessions.values()), key=lambda s: s.sort_key)[:limit]]


@pytest.mark.parametrize("seed", [1, 5])
def test_index_matches_a_full_scan_through_churn(seed):
    clock = [1_700_000_000_000]
    store = Store(clock=lambda: clock[0])
    seed_store(store, SeedParams(sessions=800, active=500, devices=20, seed=seed, anchor_ms=clock[0]))
    rng = random.Random(seed)
    agent = store.agent_for("admin@sandbox.test")
    keys = sorted({s.key_ms for s in store.sessions.values()})
    for step in range(200):
        if step % 3 == 0:  # churn: new sessions (some sharing a millisecond), activations and ends
            clock[0] += rng.choice([0, 0, 1, 7])
            s = store.create_session(agent=agent, custom_data={"team": rng.choice("ab")})
            store.set_state(s, rng.choice(["active", "authorizing", "ended"]))
            victim = store.sessions[rng.choice(list(store.by_state["active"]))]
            store.end_session(victim, "agent_ended")
            keys.append(clock[0])
        lo, hi = sorted(rng.choice(keys) * 1000 + rng.choice([-1000, -1, 0, 1, 999]) for _ in range(2))
        query = dict(
            states=rng.choice([None, ("active",), ("active", "ended"), STATES]),
            owner_ids=rng.choice([None, None, [agent.id]]),
            filters=rng.choice([{}, {}, {"team": ["a"]}]),
            before_us=rng.choice([None, hi]), after_us=rng.choice([None, lo]),
            limit=rng.choice([1, 10, 1000]),
            before_inclusive=rng.random() < 0.5, after_inclusive=rng.random() < 0.5,
        )
        assert [r["id"] for r in store.list_sessions(**query)] == scanned(store, **query), query
    for state, order in store.order_by_state.items():
        assert order == sorted(s.sort_key for s in store.by_state[state].values())
