"""A token that expires mid-run (the sandbox's expire control, not a real wait): the run stops at the first
401, reports every id (what was ended as `ended`, the rest `skipped` with `auth_expired`), prints the summary
and exits 3. A 403 on one session would only fail that session (tests/bulk_end/test_bulk_units.py)."""

from __future__ import annotations

from .support import (
    END,
    Accounting,
    create,
    ended_on_server,
    env_for,
    popen,
    record,
    rest_of,
)


def test_a_token_expiring_mid_run_is_exit_3_with_every_id_reported(sandbox, home, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    selected = set(create(sandbox, 300))
    sandbox.faults(latency_ms=20)
    report = tmp_path / "end.ndjson"
    proc = popen(env_for(sandbox, home), *END, "--concurrency", "5", "--report", str(report))
    first = [proc.stdout.readline() for _ in range(20)]
    assert all(first)
    sandbox.control("POST", "/_sandbox/tokens/expire")
    out, err = rest_of(proc)
    run = Accounting.of(proc.returncode, "".join(first) + out, err, report)

    assert run.code == 3, err[-2000:]
    run.assert_every_id_once(selected)
    ended = ended_on_server(sandbox, selected)
    assert run.by_outcome("ended") == ended
    skipped = [o for o in run.stdout if o["outcome"] == "skipped"]
    assert skipped and {o["reason"] for o in skipped} == {"auth_expired"}
    assert "stopped: 401 jwt expired" in err
    record("token expiry", len(selected), len(run.named), len(ended), skipped=len(skipped), exit=run.code)
