"""`sessions end --metrics-textfile PATH`: node_exporter textfile metrics of the run, written whatever
stopped it, so an alert can fire on a cron job that fails or stops running."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .support import END, create, ended_on_server


def _samples(path) -> dict:
    samples = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            samples[(s.name, s.labels.get("outcome"))] = s.value
    return samples


def test_a_complete_run_writes_its_counts_and_success(sandbox, cli, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    ids = set(create(sandbox, 12))
    path = tmp_path / "end.prom"
    result = cli(*END, "--metrics-textfile", str(path))
    assert result.code == 0, result.err
    metrics = _samples(path)
    assert metrics[("cobrowse_sessions_end_sessions", "ended")] == len(ended_on_server(sandbox, ids)) == 12
    assert metrics[("cobrowse_sessions_end_success", None)] == 1
    assert metrics[("cobrowse_sessions_end_last_run_timestamp_seconds", None)] > 1.7e9


def test_a_run_stopped_by_an_expired_token_is_not_a_success(sandbox, cli, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 5)
    token = sandbox.admin_token()
    assert sandbox.api("GET", "/api/1/users/me", token=token).status == 200  # seen, so it counts as issued
    sandbox.control("POST", "/_sandbox/tokens/expire", {})
    path = tmp_path / "end.prom"
    result = cli(*END, "--metrics-textfile", str(path), token=token)
    assert result.code == 3, result.err
    assert _samples(path)[("cobrowse_sessions_end_success", None)] == 0
    assert sandbox.stats()["ends"]["total"] == 0


def test_an_unwritable_metrics_path_ends_nothing(sandbox, cli, one_line_error, tmp_path):
    sandbox.reset(sessions=20, active=5, devices=0)
    create(sandbox, 5)
    one_line_error(cli(*END, "--metrics-textfile", str(tmp_path / "missing" / "end.prom")), 2, "--metrics-textfile")
    assert sandbox.stats()["ends"]["total"] == 0
