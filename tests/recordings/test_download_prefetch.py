"""The per-recording API call runs ahead of the transfers, bounded; an id is looked up once; a stop (401)
starts no further lookups yet reports every id; a re-run with every file complete calls no API at all."""

from __future__ import annotations

import threading

from cobrowse_cli.client import errors
from cobrowse_cli.client.media import MediaFetcher
from cobrowse_cli.client.recordings import Downloader, download_recordings


class _Counting:
    """The real client, counting lookups and how far they run ahead of the outcomes consumed."""

    def __init__(self, client, consumed: list):
        self.client, self.consumed = client, consumed
        self.looked_up: list[str] = []
        self.max_ahead = 0
        self.lock = threading.Lock()

    def get_recording(self, session_id):
        with self.lock:
            self.looked_up.append(session_id)
            self.max_ahead = max(self.max_ahead, len(self.looked_up) - len(self.consumed))
        return self.client.get_recording(session_id)


def _recorded(sandbox, n):
    sessions = sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=sandbox.admin_token()).body
    return [s["id"] for s in sessions if s["recorded"]][:n]


def test_lookups_run_ahead_bounded_once_per_id_and_files_are_whole(sandbox, tmp_path):
    from cobrowse_cli.client import Client

    ids = _recorded(sandbox, 8)
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 64 * 1024})
    consumed: list = []
    with Client(api=sandbox.url, token=sandbox.admin_token()) as client:
        counting = _Counting(client, consumed)
        fetcher = MediaFetcher(sandbox.url, max_connections=2)
        try:
            for outcome in download_recordings(Downloader(counting, fetcher, tmp_path), ids + ids[:2], concurrency=2):
                consumed.append(outcome)
        finally:
            fetcher.close()
    assert sorted(o.id for o in consumed) == sorted(ids) and {o.outcome for o in consumed} == {"downloaded"}
    assert sorted(counting.looked_up) == sorted(ids)  # duplicates are neither looked up nor reported twice
    # in flight (2) + looked up ahead (2), plus the one whose outcome is being handed over
    assert counting.max_ahead <= 5
    assert all((tmp_path / f"{i}.mp4").stat().st_size == 64 * 1024 for i in ids)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


class _Refusing:
    def __init__(self):
        self.calls = 0

    def get_recording(self, session_id):
        self.calls += 1
        raise errors.AuthenticationError(401, "token expired")


def test_a_401_starts_no_further_lookups_and_every_id_is_reported(tmp_path):
    client, stopped = _Refusing(), []
    ids = [f"id{n}" for n in range(20)]
    outcomes = list(download_recordings(Downloader(client, MediaFetcher("https://api.example"), tmp_path), ids,
                                        concurrency=2, stopped=stopped))
    by_id = {o.id: o.outcome for o in outcomes}  # in the order they finish
    assert len(outcomes) == len(ids) and set(by_id) == set(ids)
    assert stopped and by_id["id0"] == "failed"
    assert {by_id[i] for i in ids[5:]} == {"skipped"}
    assert client.calls <= 5  # what was already in flight or looked up ahead when the 401 came


class _NoClient:
    def __getattr__(self, name):
        raise AssertionError(f"the API client was used ({name}) although every file is complete")


def test_complete_ids_cost_a_stat_and_no_api_call(tmp_path):
    ids = ["a1", "b2", "c3"]
    for i in ids:
        (tmp_path / f"{i}.mp4").write_bytes(b"v")
        (tmp_path / f"{i}.events.json").write_bytes(b"[]")
    (tmp_path / "a1.notes").write_bytes(b"the user's, not ours")
    (tmp_path / ".b2~video.abcdefgh.part").write_bytes(b"left by a killed run")
    downloader = Downloader(_NoClient(), MediaFetcher("https://api.example"), tmp_path)
    outcomes = list(download_recordings(downloader, ids))
    assert sorted((o.id, o.outcome, o.files) for o in outcomes) == [(i, "already_downloaded", [f"{i}.events.json", f"{i}.mp4"]) for i in ids]
    assert downloader.stale.removed == 1 and not (tmp_path / ".b2~video.abcdefgh.part").exists()


def test_a_rerun_of_complete_files_needs_no_login(cli, sandbox, tmp_path):
    ids = _recorded(sandbox, 2)
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 1000})
    first = cli("recordings", "download", *ids, "--dir", str(tmp_path), "--ndjson")
    assert first.code == 0, first.err
    again = cli("recordings", "download", *ids, "--dir", str(tmp_path), "--ndjson", token=None)
    assert again.code == 0, again.err
    assert [r["outcome"] for r in map(__import__("json").loads, again.lines)] == ["already_downloaded"] * 2
    missing = cli("recordings", "download", ids[0], "--dir", str(tmp_path / "new"), token=None)
    assert missing.code != 0 and "not logged in" in missing.err and not missing.out


def test_actions_come_with_the_lookup_and_queued_ids_start_while_the_consumer_waits(sandbox, tmp_path):
    """A worker that finishes a video starts the next id at once: its actions log was fetched by the lookup,
    and `--concurrency` more ids wait in the pool's queue. Bounded: while the consumer holds the first
    outcome, no more than concurrency + queued videos are ever started."""
    import time

    from cobrowse_cli.client import Client

    ids = _recorded(sandbox, 10)
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 64 * 1024})
    fetches: list[tuple[str, str]] = []
    with Client(api=sandbox.url, token=sandbox.admin_token()) as client:
        fetcher = MediaFetcher(sandbox.url, max_connections=2)
        download = fetcher.download

        def recording(url, out, on_bytes=None):
            fetches.append(("actions" if "/actions/" in url else "video", threading.current_thread().name))
            return download(url, out, on_bytes)

        fetcher.download = recording
        outcomes = download_recordings(Downloader(client, fetcher, tmp_path), ids, concurrency=2)
        try:
            first = next(outcomes)
            deadline = time.monotonic() + 30
            while sandbox.control("GET", "/_sandbox/media")["counts"].get("served_video", 0) < 4:
                assert time.monotonic() < deadline, "the queued ids did not start while the consumer waited"
                time.sleep(0.05)
            time.sleep(0.3)  # room for a fifth video to start, were the queue unbounded
            assert sandbox.control("GET", "/_sandbox/media")["counts"]["served_video"] == 4
            rest = list(outcomes)
        finally:
            outcomes.close()
            fetcher.close()
    assert sorted(o.id for o in [first, *rest]) == sorted(ids) and {o.outcome for o in [first, *rest]} == {"downloaded"}
    assert sorted(kind for kind, _ in fetches) == ["actions"] * 10 + ["video"] * 10
    assert all(thread.startswith("lookups") for kind, thread in fetches if kind == "actions")
    assert all(thread.startswith("recordings") for kind, thread in fetches if kind == "video")
