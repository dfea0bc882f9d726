"""`cobrowse exporter`: scraped over HTTP, parsed with prometheus_client's own parser, compared with the
sandbox's truth; failures keep the last values and set cobrowse_up 0; scrapes never reach the API."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import isolated_env
from tests.support.cli import cli_argv

STATES = ("active", "pending", "authorizing")


class Exporter:
    def __init__(self, sandbox, home: Path, *args: str):
        env = isolated_env(home, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
        self.err_path = home / "exporter.err"
        # A real process (it serves, and stops on SIGTERM); retry backoff recorded, not waited (cli_argv).
        self.proc = subprocess.Popen(cli_argv("exporter", "--listen", "127.0.0.1:0", *args, backoff=False), env=env,
                                     stdout=subprocess.PIPE, stderr=self.err_path.open("w"), text=True)
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for word in self.stderr().split():
                if word.startswith("http://") and word.rstrip(",").endswith("/metrics"):
                    return word.rstrip(",")
            assert self.proc.poll() is None, self.stderr()
            time.sleep(0.05)
        raise AssertionError(f"exporter did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.err_path.read_text()

    def scrape(self) -> dict:
        """{(name, frozenset(labels)): value} as prometheus_client's parser reads the exposition."""
        with urllib.request.urlopen(self.url, timeout=10) as res:
            assert res.status == 200
            text = res.read().decode()
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            metrics = self.scrape()
            if predicate(metrics):
                return metrics
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture
def exporter(sandbox, home):
    started = []

    def start(*args: str) -> Exporter:
        started.append(Exporter(sandbox, home, *args))
        return started[-1]

    yield start
    for e in started:
        e.stop()


def value(metrics: dict, name: str, **labels) -> float | None:
    return metrics.get((name, frozenset(labels.items())))


def up(metrics: dict) -> float | None:
    return value(metrics, "cobrowse_up")


def truth_by_state(sandbox) -> dict:
    return {state: sandbox.stats()["sessions"].get(state, 0) for state in STATES}


def test_values_equal_the_sandbox_truth(sandbox, exporter):
    sandbox.control("POST", "/_sandbox/sessions", {"count": 3, "state": "pending"})
    sandbox.control("POST", "/_sandbox/sessions", {"count": 2, "state": "authorizing"})
    e = exporter("--interval", "1s", "--by", "agent", "--by", "custom_data.plan")
    metrics = e.wait_for(lambda m: up(m) == 1)
    truth = truth_by_state(sandbox)
    assert truth["pending"] >= 3 and truth["authorizing"] >= 2
    for state in STATES:
        assert value(metrics, "cobrowse_sessions", state=state) == truth[state]
    plans = {dict(labels)["value"]: v for (name, labels), v in metrics.items()
             if name == "cobrowse_active_sessions_by" and dict(labels)["key"] == "custom_data.plan"}
    assert plans and sum(plans.values()) == truth["active"]
    for plan, n in plans.items():
        assert sandbox.control("GET", f"/_sandbox/truth/active-count?filter_plan={plan}")["count"] == n
    agents = [v for (name, labels), v in metrics.items()
              if name == "cobrowse_active_sessions_by" and dict(labels)["key"] == "agent"]
    assert sum(agents) == truth["active"]
    pending = sandbox.api("GET", "/api/1/sessions?state=pending&agent=all&limit=1000", token=sandbox.admin_token()).json
    oldest = max(time.time() - datetime.fromisoformat(s["created"].replace("Z", "+00:00")).timestamp() for s in pending)
    assert value(metrics, "cobrowse_oldest_pending_seconds") == pytest.approx(oldest, abs=5)
    assert value(metrics, "cobrowse_last_success_timestamp_seconds") == pytest.approx(time.time(), abs=60)
    assert value(metrics, "cobrowse_collect_duration_seconds") > 0
    assert value(metrics, "cobrowse_api_requests_total", code="200") >= 1

    sandbox.control("POST", "/_sandbox/sessions", {"count": 4, "state": "active"})
    metrics = e.wait_for(lambda m: value(m, "cobrowse_sessions", state="active") == truth["active"] + 4)


def test_failed_collection_keeps_the_last_values_and_sets_up_0(sandbox, exporter):
    e = exporter("--interval", "1s")
    before = e.wait_for(lambda m: up(m) == 1)
    sandbox.faults(error_rate=1.0, error_status=503)
    sandbox.control("POST", "/_sandbox/sessions", {"count": 5, "state": "active"})  # unseen while failing
    down = e.wait_for(lambda m: up(m) == 0)
    for state in STATES:
        assert value(down, "cobrowse_sessions", state=state) == value(before, "cobrowse_sessions", state=state)
    assert value(down, "cobrowse_last_success_timestamp_seconds") <= time.time()
    assert value(down, "cobrowse_api_requests_total", code="503") >= 1
    assert "collection failed" in e.stderr()
    sandbox.faults(reset=True)
    back = e.wait_for(lambda m: up(m) == 1)
    assert value(back, "cobrowse_sessions", state="active") == truth_by_state(sandbox)["active"]


def test_scrapes_never_call_the_api(sandbox, exporter):
    e = exporter("--interval", "1h")
    e.wait_for(lambda m: up(m) == 1)
    before = sandbox.stats()["requests"]["total"]
    for _ in range(25):
        e.scrape()
    assert sandbox.stats()["requests"]["total"] == before


def test_series_are_capped_and_the_rest_summed_as_other(sandbox, exporter):
    for n in range(6):
        sandbox.control("POST", "/_sandbox/sessions", {"count": n + 1, "state": "active", "custom_data": {"team": f"t{n}"}})
    e = exporter("--interval", "1h", "--by", "custom_data.team", "--max-series", "3")
    metrics = e.wait_for(lambda m: up(m) == 1)
    teams = {dict(labels)["value"]: v for (name, labels), v in metrics.items() if name == "cobrowse_active_sessions_by"}
    seeded = truth_by_state(sandbox)["active"] - 21  # the seed's sessions have no team
    assert seeded == 20
    assert teams == {"(none)": seeded, "t5": 6, "t4": 5, "other": 4 + 3 + 2 + 1}


def test_hostile_label_values_survive_the_round_trip(sandbox, exporter):
    hostile = 'a"b\\c\nd} e{f'
    sandbox.control("POST", "/_sandbox/sessions", {"count": 2, "state": "active", "custom_data": {"plan": hostile}})
    e = exporter("--interval", "1h", "--by", "custom_data.plan")
    metrics = e.wait_for(lambda m: up(m) == 1)
    assert value(metrics, "cobrowse_active_sessions_by", key="custom_data.plan", value=hostile) == 2


def test_sigterm_stops_cleanly(sandbox, exporter):
    e = exporter("--interval", "1s")
    e.wait_for(lambda m: up(m) == 1)
    assert e.stop() == 0
    assert e.stderr().rstrip().endswith("stopped")
    assert "Traceback" not in e.stderr()
    assert e.proc.stdout.read() == ""


def test_once_textfile_is_written_atomically(cli, sandbox, tmp_path):
    path = tmp_path / "cobrowse.prom"
    result = cli("exporter", "--once", "--textfile", str(path), "--by", "agent")
    assert (result.code, result.out) == (0, ""), result.err
    metrics = {(s.name, frozenset(s.labels.items())): s.value
               for f in text_string_to_metric_families(path.read_text()) for s in f.samples}
    assert value(metrics, "cobrowse_up") == 1
    assert value(metrics, "cobrowse_sessions", state="active") == truth_by_state(sandbox)["active"]
    assert sorted(os.listdir(tmp_path)) == ["cobrowse.prom", "home"]  # no temporary file left behind


def test_once_textfile_records_a_failure_and_exits_non_zero(cli, sandbox, tmp_path, one_line_error):
    path = tmp_path / "cobrowse.prom"
    sandbox.faults(error_rate=1.0, error_status=500)
    result = cli("exporter", "--once", "--textfile", str(path))
    one_line_error(result, 1)
    text = path.read_text()
    assert "cobrowse_up 0.0" in text and "cobrowse_sessions{" not in text


def test_once_without_textfile_prints_the_exposition(cli, sandbox):
    result = cli("exporter", "--once")
    assert result.code == 0 and result.err == ""
    names = {f.name for f in text_string_to_metric_families(result.out)}
    assert {"cobrowse_sessions", "cobrowse_up", "cobrowse_api_requests"} <= names


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--listen", "nowhere"], "invalid --listen"),
        (["--textfile", "x.prom"], "--textfile needs --once"),
        (["--by", "plan"], "invalid --by"),
        (["--interval", "0.5s"], "invalid --interval"),
        (["--max-series", "0"], "invalid --max-series"),
    ],
)
def test_usage_errors(cli, one_line_error, args, needle):
    one_line_error(cli("exporter", *args), 2, needle)


def test_unwritable_textfile_is_one_line(cli, tmp_path, one_line_error):
    one_line_error(cli("exporter", "--once", "--textfile", str(tmp_path / "missing" / "x.prom")), 2, "cannot write")


@pytest.mark.parametrize("text, expected", [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0)),
                                            (":9464", ("0.0.0.0", 9464)), ("localhost:80", ("localhost", 80))])
def test_parse_listen(text, expected):
    from cobrowse_cli.commands.exporter import parse_listen

    assert parse_listen(text) == expected


def test_cap_series_keeps_the_largest_and_sums_the_rest():
    from collections import Counter

    from cobrowse_cli.commands.exporter import cap_series

    assert cap_series(Counter(a=5, b=3, c=2, d=1), 2) == {"a": 5, "b": 3, "other": 3}
    assert cap_series(Counter(a=5, other=1, c=1), 1) == {"a": 5, "other": 2}  # a real "other" joins the rest
    assert cap_series(Counter(a=1), 5) == {"a": 1}
