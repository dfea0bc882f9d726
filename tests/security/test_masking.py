"""Issue 13 item 2: secrets are shortened for people, left out of pipes unless asked for, exact in JSON."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

from cobrowse_cli.output import Column, OutputOptions, Writer
from cobrowse_cli.output.events import format_line

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqbyJ9.c2lnbmF0dXJl"
ROW = {"id": "s1", "control_token": "ILxDYsecretsecretsecret", "custom_data": {"note": JWT}}
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def show(row, *, fmt=None, tty=False, columns=None, item=True):
    out = Tty() if tty else io.StringIO()
    w = Writer(OutputOptions(format=fmt, columns=columns, no_color=True), stdout=out, stderr=io.StringIO(),
               columns=[Column("id"), Column("control_token")], now=NOW)
    w.write_item(row) if item else w.write_rows([row])
    return out.getvalue()


def test_terminal_views_shorten_token_fields_and_jwts():
    for text in (show(ROW, tty=True), show(ROW, tty=True, item=False),
                 show(ROW, tty=True, columns=["id", "control_token", "custom_data.note"])):
        assert "ILxDYsecret" not in text and JWT not in text, text
        assert "ILxDY…(redacted)" in text
    assert "eyJhb…(redacted)" in show(ROW, tty=True)


def test_pipes_omit_token_fields_unless_named_and_json_keeps_them():
    piped = show(ROW)
    assert "control_token" not in piped and "custom_data.note" in piped
    assert "ILxDYsecretsecretsecret" in show(ROW, columns=["id", "control_token"])
    assert json.loads(show(ROW, fmt="json")) == ROW


def test_a_watch_line_names_a_changed_token_but_not_its_value():
    event = {"type": "updated", "at": "2026-11-25T00:00:00Z", "kind": "session", "resource": ROW,
             "changed": [{"field": "control_token", "old": "ILxDYsecretsecretsecret", "new": "AbCdEnewnewnewnew"}]}
    line = format_line(event)
    assert "control_token ILxDY…(redacted) → AbCdE…(redacted)" in line and "secret" not in line
