"""Each machine format parsed back; field selection; options validation; single items and values."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cobrowse_cli.exitcodes import UsageError
from cobrowse_cli.output import Column, OutputOptions, Writer

from .conftest import NOW, SESSION_COLUMNS, PipeStream, TTYStream, make_session


def run(fmt=None, rows=(), *, fields=None, columns=None, stdout=None, cols=SESSION_COLUMNS, csv_raw=False):
    out, err = stdout or PipeStream(), PipeStream()
    writer = Writer(
        OutputOptions(format=fmt, fields=fields, columns=columns, csv_raw=csv_raw),
        stdout=out, stderr=err, columns=cols, now=NOW,
    )
    count = writer.write_rows(iter(rows))
    return count, out.getvalue(), err.getvalue()


ROWS = [make_session(i) for i in range(5)]


def test_json_is_one_array_with_server_key_order_and_untouched_values():
    count, out, err = run("json", ROWS)
    parsed = json.loads(out)
    assert count == 5 and parsed == ROWS and err == ""
    assert [list(r) for r in parsed] == [list(r) for r in ROWS]  # key order kept
    assert parsed[0]["activated"] == "2026-03-01T11:57:00.000Z"  # dates untouched
    assert "Zoë" in out  # ensure_ascii=False
    assert out.startswith("[\n") and out.endswith("\n]\n")


def test_json_empty_is_an_empty_array():
    assert run("json", []) == (0, "[]\n", "")


def test_ndjson_one_object_per_line():
    count, out, _ = run("ndjson", ROWS)
    lines = out.splitlines()
    assert count == 5 and [json.loads(line) for line in lines] == ROWS
    assert out.endswith("\n")


@pytest.mark.parametrize("fmt", ["ndjson", "tsv", "ids"])
def test_empty_result_writes_nothing(fmt):
    assert run(fmt, []) == (0, "", "")


def test_field_selection_with_dotted_paths_keeps_nesting_and_order():
    fields = ["state", "id", "custom_data.user_id", "agent.name", "custom_data.missing", "nope"]
    _, out, _ = run("json", ROWS[:2], fields=fields)
    first, second = json.loads(out)
    assert list(first) == ["state", "id", "custom_data", "agent", "nope"]
    assert first == {
        "state": "pending",
        "id": "s0000",
        "custom_data": {"user_id": "0", "missing": None},
        "agent": {"name": None},  # agent is null in this row: the path is missing -> null
        "nope": None,
    }
    assert second["agent"] == {"name": "Zoë Agent"}


def test_field_selection_whole_object_wins_over_its_own_key():
    _, out, _ = run("ndjson", ROWS[:1], fields=["custom_data.user_id", "custom_data"])
    assert json.loads(out) == {"custom_data": {"user_id": "0", "plan": "pro"}}


def test_field_selection_finds_keys_that_contain_dots():
    row = {"id": "x", "custom_data": {"user.id": "u1", "user": {"name": "n"}}}
    _, out, _ = run("ndjson", [row], fields=["custom_data.user.id", "custom_data.user.name"])
    assert json.loads(out) == {"custom_data": {"user.id": "u1", "user": {"name": "n"}}}


def test_csv_has_header_and_parses_back():
    _, out, _ = run("csv", ROWS, fields=["id", "state", "custom_data.user_id", "custom_data", "recorded", "agent"])
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["id", "state", "custom_data.user_id", "custom_data", "recorded", "agent"]
    assert len(table) == 6
    assert table[1][:3] == ["s0000", "pending", "0"]
    assert json.loads(table[1][3]) == {"user_id": "0", "plan": "pro"}  # nested -> JSON string
    assert table[1][4:] == ["false", ""]  # bool as JSON spells it, null as empty
    assert json.loads(table[2][5]) == {"id": "ag1", "name": "Zoë Agent"}


def test_csv_without_fields_uses_the_table_columns_and_keeps_a_header_when_empty():
    _, out, _ = run("csv", [])
    assert list(csv.reader(io.StringIO(out))) == [["id", "state", "agent.name", "custom_data", "activated"]]


def test_csv_quotes_awkward_values():
    row = {"id": 'a,"b"\nc', "state": "\r"}  # a lone CR must be quoted too
    _, out, _ = run("csv", [row], fields=["id", "state"], csv_raw=True)
    assert list(csv.reader(io.StringIO(out, newline=""))) == [["id", "state"], ['a,"b"\nc', "\r"]]
    _, out, _ = run("csv", [row], fields=["id", "state"])  # by default: controls escaped, CR neutralised
    assert list(csv.reader(io.StringIO(out, newline=""))) == [["id", "state"], ['a,"b"\\nc', "'\\r"]]


def test_ids_one_per_line_skipping_rows_without_id():
    count, out, _ = run("ids", ROWS + [{"state": "active"}])
    assert count == 6 and out.splitlines() == [r["id"] for r in ROWS]


def test_ids_uses_the_id_key():
    out = PipeStream()
    w = Writer(OutputOptions(format="ids"), stdout=out, stderr=PipeStream(), columns=[], id_key="device.id")
    w.write_rows([{"device": {"id": "d1"}}, {"device": {"id": "d2"}}])
    assert out.getvalue() == "d1\nd2\n"


def test_piped_default_is_tsv_without_header_colour_or_relative_times():
    count, out, _ = run(None, ROWS[:2])
    lines = out.splitlines()
    assert count == 2 and len(lines) == 2
    assert lines[1].split("\t") == ["s0001", "active", "Zoë Agent", "user_id=1 plan=pro", "2026-03-01T11:57:00.000Z"]
    assert lines[0].split("\t")[2] == ""  # null agent -> empty cell, columns still aligned
    assert "\x1b" not in out


def test_tsv_escapes_tabs_newlines_and_backslashes():
    row = {"id": "a\tb", "state": "x\ny", "agent": {"name": "c:\\d"}, "custom_data": {"note": "two words"}}
    _, out, _ = run("tsv", [row])
    assert out.count("\n") == 1
    assert out.rstrip("\n").split("\t") == ["a\\tb", "x\\ny", "c:\\\\d", 'note="two words"', ""]


def test_columns_pick_by_key_header_or_dotted_path():
    _, out, _ = run("tsv", ROWS[1:2], columns=["AGENT", "id", "custom_data.plan", "code"])
    assert out == "Zoë Agent\ts0001\tpro\t100001\n"


def test_write_item_json_is_an_object_and_fields_select():
    out = PipeStream()
    w = Writer(OutputOptions(format="json", fields=["id", "custom_data.plan"]), stdout=out, stderr=PipeStream(), columns=SESSION_COLUMNS)
    w.write_item(ROWS[1])
    assert json.loads(out.getvalue()) == {"id": "s0001", "custom_data": {"plan": "pro"}}


def test_write_item_piped_is_flattened_key_tab_value():
    out = PipeStream()
    Writer(OutputOptions(), stdout=out, stderr=PipeStream(), columns=SESSION_COLUMNS).write_item(ROWS[1])
    pairs = dict(line.split("\t") for line in out.getvalue().splitlines())
    assert pairs["custom_data.user_id"] == "1" and pairs["agent.name"] == "Zoë Agent"
    assert pairs["activated"] == "2026-03-01T11:57:00.000Z" and pairs["recorded"] == "true"


@pytest.mark.parametrize(
    "fmt, expected",
    [(None, "42\n"), ("json", '{"active":42}\n'), ("ndjson", '{"active":42}\n'), ("csv", "active\r\n42\r\n"), ("ids", "42\n")],
)
def test_write_value(fmt, expected):
    out = PipeStream()
    Writer(OutputOptions(format=fmt), stdout=out, stderr=PipeStream(), columns=[]).write_value(42, json_key="active")
    assert out.getvalue() == expected


def test_write_value_on_a_tty_is_the_bare_number():
    out = TTYStream()
    Writer(OutputOptions(), stdout=out, stderr=PipeStream(), columns=[]).write_value(42, json_key="active")
    assert out.getvalue().strip() == "42"


def test_info_goes_to_stderr_only():
    out, err = PipeStream(), PipeStream()
    Writer(OutputOptions(format="json"), stdout=out, stderr=err, columns=[]).info("Ended 3 sessions")
    assert out.getvalue() == "" and err.getvalue() == "Ended 3 sessions\n"


def test_is_machine():
    def writer(fmt, stdout):
        return Writer(OutputOptions(format=fmt), stdout=stdout, stderr=PipeStream(), columns=[])

    assert not writer(None, TTYStream()).is_machine
    assert writer(None, PipeStream()).is_machine  # piped default: tsv
    assert all(writer(f, TTYStream()).is_machine for f in ("json", "ndjson", "csv", "ids", "tsv"))


# -- OutputOptions.from_flags ----------------------------------------------------------------------

FLAGS = dict(json=False, ndjson=False, csv=False, quiet=False, fields=None, columns=None, no_color=False)


def flags(**kw):
    return OutputOptions.from_flags(**{**FLAGS, **kw})


def test_from_flags_maps_each_flag():
    assert flags().format is None
    assert flags(json=True).format == "json"
    assert flags(ndjson=True).format == "ndjson"
    assert flags(csv=True).format == "csv"
    assert flags(quiet=True).format == "ids"
    opts = flags(json=True, fields=" id, state,custom_data.user_id,id ", no_color=True)
    assert opts.fields == ["id", "state", "custom_data.user_id"] and opts.no_color
    assert flags(columns="id,AGENT").columns == ["id", "AGENT"]


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(json=True, csv=True), "--json and --csv"),
        (dict(ndjson=True, quiet=True), "--ndjson and --quiet"),
        (dict(fields="id"), "--fields needs"),
        (dict(quiet=True, fields="id"), "--fields needs"),
        (dict(json=True, fields=" , "), "at least one field"),
        (dict(json=True, fields="custom_data..x"), "invalid --fields entry"),
        (dict(ndjson=True, columns="id"), "--columns applies"),
    ],
)
def test_from_flags_rejects_bad_combinations(kw, message):
    with pytest.raises(UsageError, match=message):
        flags(**kw)


def test_unknown_column_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        Column("id", kind="colour")
