"""write_end_metrics: what `sessions end --metrics-textfile PATH` leaves for node_exporter's textfile collector."""

from __future__ import annotations

import os
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cobrowse_cli.commands.end_metrics import write_end_metrics
from cobrowse_cli.exitcodes import UsageError


def read(path) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(path.read_text()) for s in f.samples}


def test_a_clean_run(tmp_path):
    path = tmp_path / "cobrowse_end.prom"
    write_end_metrics(str(path), {"ended": 7, "already_ended": 2}, duration_s=1.5, now=1_800_000_000.0)
    m = read(path)
    assert m[("cobrowse_sessions_end_last_run_timestamp_seconds", ())] == 1_800_000_000.0
    assert m[("cobrowse_sessions_end_success", ())] == 1
    assert m[("cobrowse_sessions_end_sessions", (("outcome", "ended"),))] == 7
    assert m[("cobrowse_sessions_end_sessions", (("outcome", "already_ended"),))] == 2
    assert m[("cobrowse_sessions_end_sessions", (("outcome", "failed"),))] == 0  # present at 0: alerts see a series
    assert m[("cobrowse_sessions_end_duration_seconds", ())] == 1.5
    assert len([k for k in m if k[0] == "cobrowse_sessions_end_sessions"]) == 7
    assert os.listdir(tmp_path) == ["cobrowse_end.prom"]


@pytest.mark.parametrize("summary, success", [({"ended": 3, "failed": 1}, 0), ({"not_found": 1}, 0), ({}, 1),
                                              ({"ended": 2, "changed": 1}, 1), ({"ended": 1, "unknown": 1}, 0),
                                              ({"ended": 1, "interrupted": 4}, 0)])
def test_success_follows_the_failures(tmp_path, summary, success):
    path = tmp_path / "m.prom"
    write_end_metrics(str(path), summary)
    assert read(path)[("cobrowse_sessions_end_success", ())] == success


def test_explicit_success_wins(tmp_path):
    path = tmp_path / "m.prom"
    write_end_metrics(str(path), {"ended": 3}, success=False)  # e.g. the run stopped on an auth error
    assert read(path)[("cobrowse_sessions_end_success", ())] == 0


def test_replaced_atomically_readers_never_see_a_partial_file(tmp_path):
    path = tmp_path / "m.prom"
    write_end_metrics(str(path), {"ended": 1})
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(path.read_text())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(200):
            write_end_metrics(str(path), {"ended": n, "failed": n % 2})
    finally:
        stop.set()
        thread.join()
    assert seen and all(text.endswith("\n") and "cobrowse_sessions_end_success" in text for text in seen)
    assert os.listdir(tmp_path) == ["m.prom"]


def test_unwritable_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write --metrics-textfile"):
        write_end_metrics(str(tmp_path / "missing" / "m.prom"), {"ended": 1})
