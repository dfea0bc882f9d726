"""`recordings list --size`: each recording's size, read per row a few at a time, in the listing's order;
what a server sends instead of a byte count is never shown as one."""

from __future__ import annotations

import json

import pytest

from cobrowse_cli.client import errors
from cobrowse_cli.client.recordings import RecordingSizes

LIST = ["recordings", "list", "--agent", "all", "--limit", "12"]


def test_size_is_each_recordings_own_in_listing_order(cli_in_process, sandbox):
    plain = json.loads(cli_in_process(*LIST, "--json").out)
    result = cli_in_process(*LIST, "--size", "--json")
    sized = json.loads(result.out)
    assert result.code == 0 and result.err == ""
    assert [r["id"] for r in sized] == [r["id"] for r in plain] and len(sized) == 12
    admin = sandbox.admin_token()
    for row in sized:
        assert row["size"] == sandbox.api("GET", f"/api/1/sessions/{row['id']}/recording", token=admin).body["size"]
    assert "size" not in plain[0]  # no request per row unless asked

    piped = cli_in_process(*LIST, "--size")  # not a terminal: TSV, size last
    assert [line.split("\t")[-1] for line in piped.out.splitlines()] == [str(r["size"]) for r in sized]


class Stub:
    def __init__(self, answers):
        self.answers = answers
        self.asked: list[str] = []

    def get_recording(self, session_id):
        self.asked.append(session_id)
        answer = self.answers[session_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_only_a_plain_byte_count_is_a_size_and_a_failed_read_is_counted():
    down = errors.NetworkError("connection dropped", url="x")
    stub = Stub({"a": {"size": 10}, "b": {"size": True}, "c": {"size": -1}, "d": {"size": "12"},
                 "e": {"size": 1.5}, "f": {}, "g": down, "h": {"size": 0}})
    sizes = RecordingSizes(stub, concurrency=3)
    rows = list(sizes.added({"id": i, "n": n} for n, i in enumerate("abcdefgh")))
    assert [(r["id"], r["n"], r["size"]) for r in rows] == [
        ("a", 0, 10), ("b", 1, None), ("c", 2, None), ("d", 3, None), ("e", 4, None), ("f", 5, None),
        ("g", 6, None), ("h", 7, 0)]
    assert sizes.unknown == 1 and "connection dropped" in sizes.first_error
    assert sorted(stub.asked) == list("abcdefgh")


def test_an_expired_token_stops_the_listing():
    expired = errors.AuthenticationError(401, "token expired", method="GET", path="/x")
    sizes = RecordingSizes(Stub({"a": {"size": 1}, "b": expired, "c": {"size": 3}}), concurrency=1)
    with pytest.raises(errors.AuthenticationError):
        list(sizes.added({"id": i} for i in "abc"))
