"""Issue 18's cells of the variant matrix: the same variants as test_server_variants.py, but with an
account large enough (2,600 active) that count-active and sessions end's selection list over concurrent
time windows. Each cell is exact or loud (non-zero exit, one stderr line), never a wrong number.

The truth is the sandbox's own active count and the ids the default server lists page by page.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from cobrowse_cli.client import windows
from tests.matrix.test_server_variants import VARIANTS
from tests.support.cli import isolated_env, no_backoff, run_in_process

SEED = {"sessions": 3000, "active": 2600, "devices": 0, "seed": 11}
# Caps that vary with the query's shape: a full unbounded first page says nothing about the windows' pages.
WINDOW_VARIANTS = VARIANTS + ["page-cap-bounded=300", "page-cap-bounded=999,inclusive-cursor"]


def active_ids(sandbox) -> set[str]:
    """Page the default server by hand: `activated_before` the oldest millisecond + 1 (shared milliseconds
    come back and are merged), until a page adds nothing."""
    token, ids, before = sandbox.admin_token(), set(), ""
    while True:
        page = sandbox.api("GET", f"/api/1/sessions?agent=all&state=active&limit=1000{before}", token=token).body
        if not {s["id"] for s in page} - ids:
            return ids
        ids |= {s["id"] for s in page}
        oldest = datetime.fromisoformat(min(s["activated"] for s in page).replace("Z", "+00:00"))
        before = "&activated_before=" + (oldest + timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    monkeypatch.setattr(windows, "ADAPTIVE", False)  # a loopback round trip quicker than parsing a page must not hide the windows

    def call(sandbox, *argv: str):
        # COBROWSE_CONCURRENCY: the default, stated so a new default cannot hide the windows either
        env = isolated_env(tmp_path, COBROWSE_CONCURRENCY="4", COBROWSE_API=sandbox.url,
                           COBROWSE_TOKEN=sandbox.admin_token())
        with no_backoff():
            return tuple(run_in_process(env, *argv))
    return call


def loud(code, err) -> bool:
    return code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("variant", WINDOW_VARIANTS)
def test_windowed_count_and_selection_are_exact_or_loud(sandbox, invoke, variant):
    now = datetime.now(timezone.utc).isoformat()
    sandbox.reset(now=now, **SEED)
    truth, ids = sandbox.control("GET", "/_sandbox/truth/active-count")["count"], None
    ids = active_ids(sandbox)
    assert len(ids) == truth > 1000  # more than a page: the windows are used
    sandbox.reset(now=now, variants=[] if variant == "default" else variant.split(","), **SEED)

    code, out, err = invoke(sandbox, "count-active", "--json")
    assert (code == 0 and json.loads(out) == {"active": truth}) or loud(code, err), (variant, code, out, err)

    code, out, err = invoke(sandbox, "sessions", "end", "--agent", "all", "--state", "active", "--dry-run", "--json")
    if code == 0:
        rows = json.loads(out)
        got = [row["id"] for row in rows]
        assert len(got) == len(set(got)) and set(got) == ids, variant
        assert sandbox.control("GET", "/_sandbox/truth/active-count")["count"] == truth  # nothing ended
    else:
        assert loud(code, err), (variant, code, err)

    code, out, err = invoke(sandbox, "sessions", "list", "--all", "--unordered", "--agent", "all", "--state",
                            "active", "--ndjson")
    if code == 0:
        got = [json.loads(line)["id"] for line in out.splitlines()]
        assert len(got) == len(set(got)) and set(got) == ids, variant
    else:
        assert loud(code, err), (variant, code, err)
