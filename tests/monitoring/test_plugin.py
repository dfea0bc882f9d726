"""`count-active --warning/--critical`: the Monitoring Plugins contract, against the sandbox.

One status line on stdout, perfdata per the guidelines, exit 0/1/2/3, and UNKNOWN (3) for every failure,
including the ones the option parser reports before our code runs.
"""

from __future__ import annotations

import re
import socket

import pytest

from cobrowse_cli.commands.count_plugin import parse_range, perf_label, status_for
from cobrowse_cli.exitcodes import UsageError

ACTIVE = 20  # SMALL_SEED
# label=value[UOM];[warn];[crit];[min];[max], labels quoted when they hold spaces
PERF_ITEM = re.compile(r"^(?:'[^'=]+'|[^'= ]+)=\d+;[^; ]*;[^; ]*;0;$")


def check(result, code: int, state: str) -> list[str]:
    """The plugin contract: exit code, one line on stdout, nothing on stderr; returns the perfdata items."""
    assert result.code == code, (result.code, result.out, result.err)
    assert result.err == ""
    lines = result.out.splitlines()
    assert len(lines) == 1, result.out
    assert lines[0].startswith(f"COBROWSE ACTIVE {state} - "), lines[0]
    head, _, perf = lines[0].partition(" | ")
    items = re.findall(r"(?:'[^']*'|[^'\s=]+)=\S*", perf)
    assert " ".join(items) == perf  # nothing in between that a parser would trip on
    for item in items:
        assert PERF_ITEM.match(item), item
    return items


@pytest.mark.parametrize(
    "text, value, alerts",
    [
        ("10", 10, False), ("10", 11, True), ("10", -1, True), ("10", 0, False),
        ("10:", 10, False), ("10:", 9, True), ("10:", 10**9, False),
        ("~:10", -(10**9), False), ("~:10", 10, False), ("~:10", 11, True),
        ("10:20", 9, True), ("10:20", 10, False), ("10:20", 20, False), ("10:20", 21, True),
        ("@10:20", 9, False), ("@10:20", 10, True), ("@10:20", 20, True), ("@10:20", 21, False),
        (":5", 6, True), ("@5", 3, True), ("1.5:2.5", 2, False), ("~:", 5, False),
    ],
)
def test_range_forms_follow_the_guidelines(text, value, alerts):
    assert parse_range(text, "--warning").alerts(value) is alerts


@pytest.mark.parametrize("text", ["", "abc", "10:5", "@", ":", "~", "1:2:3", "10 20", "--5"])
def test_bad_ranges_are_usage_errors_naming_the_option(text):
    with pytest.raises(UsageError, match="--critical"):
        parse_range(text, "--critical")


def test_critical_wins_over_warning_and_either_may_be_alone():
    w, c = parse_range("10", "-w"), parse_range("20", "-c")
    assert [status_for(n, w, c) for n in (5, 15, 25)] == [0, 1, 2]
    assert status_for(25, None, c) == 2 and status_for(15, w, None) == 1 and status_for(5, None, None) == 0


def test_perf_labels_are_sanitised():
    assert perf_label("agent:Sam") == "agent:Sam"
    assert perf_label("agent:Sam Agent") == "'agent:Sam Agent'"
    hostile = perf_label("plan:a'b=c|d\ne\x1b")
    assert not set("'=|\n\x1b") & set(hostile[1:-1] if hostile.startswith("'") else hostile)


@pytest.mark.parametrize(
    "args, code, state",
    [
        (["--warning", "30", "--critical", "40"], 0, "OK"),
        (["--warning", "10", "--critical", "40"], 1, "WARNING"),
        (["-w", "10", "-c", "15"], 2, "CRITICAL"),
        (["--critical", "10"], 2, "CRITICAL"),  # 20 is outside 0..10
        (["--critical", "10:"], 0, "OK"),  # alert below 10
        (["--critical", "~:10"], 2, "CRITICAL"),  # alert above 10
        (["--critical", "10:20"], 0, "OK"),
        (["--critical", "@10:20"], 2, "CRITICAL"),  # alert inside
        (["--warning=30:", "--critical=@0:5"], 1, "WARNING"),
    ],
)
def test_status_line_perfdata_and_exit_code_against_the_sandbox(cli, sandbox, args, code, state):
    truth = sandbox.control("GET", "/_sandbox/truth/active-count")["count"]
    assert truth == ACTIVE
    items = check(cli("count-active", *args), code, state)
    warn = next((a.split("=", 1)[1] if "=" in a else args[i + 1] for i, a in enumerate(args) if a.startswith(("--warning", "-w"))), "")
    crit = next((a.split("=", 1)[1] if "=" in a else args[i + 1] for i, a in enumerate(args) if a.startswith(("--critical", "-c"))), "")
    assert items == [f"active={truth};{warn};{crit};0;"]


def test_status_text_names_the_count(cli):
    result = cli("count-active", "-w", "30")
    assert result.out == f"COBROWSE ACTIVE OK - {ACTIVE} active sessions | active={ACTIVE};30;;0;\n"


def test_by_gives_one_sanitised_perfdata_label_per_key(cli, sandbox):
    hostile = "x'y=z|w\nnext \x1b[31m"
    sandbox.control("POST", "/_sandbox/sessions", {"count": 2, "state": "active", "custom_data": {"plan": hostile}})
    items = check(cli("count-active", "-w", "100", "--by", "custom_data.plan"), 0, "OK")
    assert items[0] == f"active={ACTIVE + 2};100;;0;"
    values = {}
    for item in items[1:]:
        label, _, rest = item.rpartition("=")
        values[label] = int(rest.split(";")[0])
    assert sum(values.values()) == ACTIVE + 2
    assert all(label.strip("'").startswith("plan:") for label in values)
    assert values["'plan:x_y_z_w_next _[31m'"] == 2


def test_by_agent_labels_sum_to_the_total(cli, sandbox):
    items = check(cli("count-active", "-c", "1000", "--by", "agent"), 0, "OK")
    assert len(items) > 2 and all(item.strip("'").startswith("agent:") for item in items[1:])
    assert sum(int(i.rpartition("=")[2].split(";")[0]) for i in items[1:]) == ACTIVE


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--warning", "abc"], "invalid --warning 'abc'"),
        (["--warning", "20:10"], "start is greater than the end"),
        (["--warning", "10", "--bogus"], "No such option: --bogus"),
        (["--critical"], "requires an argument"),
        (["-w", "10", "--by", "nope"], "unknown --by key"),
        (["-w", "10", "--max", "5"], "--max does not combine"),
        (["-w", "10", "--json"], "--json does not combine"),
    ],
)
def test_every_usage_error_is_unknown_3_with_a_one_line_reason(cli, args, reason):
    result = cli("count-active", *args)
    check(result, 3, "UNKNOWN")
    assert reason in result.out


def test_bad_token_is_unknown(cli):
    result = cli("count-active", "-w", "10", token="not-a-jwt")
    check(result, 3, "UNKNOWN")
    assert "|" not in result.out


def test_no_token_is_unknown(cli):
    check(cli("count-active", "-w", "10", token=None), 3, "UNKNOWN")


def test_api_down_is_unknown(cli):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = cli("count-active", "-w", "10", env={"COBROWSE_API": f"http://127.0.0.1:{port}"})
    check(result, 3, "UNKNOWN")
    assert "cannot connect" in result.out


def test_api_errors_are_unknown(cli, sandbox):
    sandbox.faults(error_rate=1.0, error_status=500)
    result = cli("count-active", "-w", "10")
    check(result, 3, "UNKNOWN")


def test_help_still_works_in_plugin_mode(cli):
    result = cli("count-active", "--warning", "10", "--help")
    assert result.code == 0 and "--critical" in result.out


def test_max_is_unchanged(cli, one_line_error):
    result = cli("count-active", "--max", "5")
    assert result.code == 6 and result.out == f"{ACTIVE}\n"
    assert "above --max 5" in result.err
