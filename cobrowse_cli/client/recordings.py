"""Download recordings for many sessions, one outcome per session id, never two (deleting: recording_deleter.py).

Library code (no CLI imports). Downloads: `<id>.<ext>` (the video) then `<id>.events.json` (the
`actions` log merged with `events`, sorted by timestamp), each written to a hidden temp file in the
target directory and renamed into place, so a file with its final name is always complete; the events
file is written last and marks the session done, so a re-run skips it. Temp files a killed run left
behind are removed by the next run that handles the same id (partfiles.py).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cobrowse_cli.client import errors, partfiles
from cobrowse_cli.client.media import MediaError, MediaExpired, MediaFetcher
from cobrowse_cli.timeutil import parse_iso_or_none

DOWNLOADED = "downloaded"
ALREADY_DOWNLOADED = "already_downloaded"
NOT_FOUND = "not_found"
FAILED = "failed"
SKIPPED = "skipped"
DONE = {DOWNLOADED, ALREADY_DOWNLOADED}
EXTENSIONS = {"video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov", "application/json": "json"}
EVENTS_SUFFIX = ".events.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")
MEDIA_ATTEMPTS = 3  # tries per file after a drop or a 5xx; an expired URL is re-fetched on top of these


@dataclass
class Outcome:
    id: str
    outcome: str
    bytes: int | None = None
    files: list[str] = field(default_factory=list)
    error: str | None = None
    status: int | None = None

    def as_row(self) -> dict:
        return asdict(self)


# ---- the download runner ---------------------------------------------------------


def run_each(work: Callable[[str], Outcome], ids: Iterable[str], *, concurrency: int = 4, queued: int = 0,
             stop_on: tuple[type[Exception], ...] = (errors.AuthenticationError,),
             stopped: list[Exception] | None = None, abort: threading.Event | None = None,
             settled: Callable[[str], Outcome | None] | None = None) -> Iterator[Outcome]:
    """Yield work(id) once per distinct id, at most `concurrency` in flight, ties in selection order.
    Up to `queued` more ids wait in the pool's queue, so a worker that finishes starts the next one at
    once instead of waiting for this thread to hand it over (a wake-up that costs 10-100 ms on a busy
    machine). `settled(id)`, when given, is asked first on this thread: an Outcome it returns is the
    id's (an id with nothing to do costs no thread hand-off).

    If the caller stops consuming (Ctrl-C, a closed pipe), `abort` is set so work in flight can give up
    quickly (and clean up) instead of the interpreter waiting for it to finish.

    An exception in `stop_on` (a bad token: every other item would fail the same way) fails that item,
    is appended to `stopped`, and every id not yet started is reported as `skipped`: the run still
    accounts for each one.
    """
    seen: set[str] = set()
    stopped = stopped if stopped is not None else []

    def guarded(item: str) -> Outcome:
        if stopped:
            return Outcome(item, SKIPPED, error=f"not attempted: {stopped[0]}")
        try:
            return work(item)
        except stop_on as e:
            stopped.append(e)
            return Outcome(item, FAILED, error=str(e), status=getattr(e, "status", None))

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="recordings") as pool:
        pending: dict[Future, int] = {}

        def finished() -> Iterator[Outcome]:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):
                del pending[future]
                yield future.result()

        try:
            for number, item in enumerate(ids):
                if item in seen:
                    continue
                seen.add(item)
                outcome = settled(item) if settled is not None and not stopped else None
                if outcome is not None:
                    yield outcome
                    continue
                pending[pool.submit(guarded, item)] = number
                if len(pending) >= concurrency + queued:
                    yield from finished()
            while pending:
                yield from finished()
        finally:
            for future in pending:
                future.cancel()
            if pending and abort is not None:
                abort.set()


# ---- sizes for a listing --------------------------------------------------------------------------------

SIZE_CONCURRENCY = 8  # recording reads in flight while a listing is streamed


class RecordingSizes:
    """`added(sessions)` yields each session with `size` (bytes, from GET .../recording; None where the
    API gives none), in the listing's order, with at most `concurrency` reads in flight. A session list
    carries no size, so this costs one request per row. A failed read leaves that size None (counted in
    `unknown`, the first error kept); a 401 or an insecure transport stops the listing (raised)."""

    def __init__(self, client, *, concurrency: int = SIZE_CONCURRENCY):
        self.client = client
        self.concurrency = max(1, concurrency)
        self.unknown = 0
        self.first_error: str | None = None

    def added(self, sessions: Iterable[dict]) -> Iterator[dict]:
        from collections import deque

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sizes") as pool:
            window: deque[tuple[dict, Future]] = deque()
            try:
                for session in sessions:
                    window.append((session, pool.submit(self._size, session.get("id"))))
                    if len(window) >= 2 * self.concurrency:
                        yield self._row(*window.popleft())
                while window:
                    yield self._row(*window.popleft())
            finally:
                for _, future in window:
                    future.cancel()

    def _row(self, session: dict, future: Future) -> dict:
        try:
            size = future.result()
        except (errors.AuthenticationError, errors.InsecureTransportError):
            raise
        except errors.CobrowseError as e:
            self.unknown += 1
            self.first_error = self.first_error or str(e)
            size = None
        return {**session, "size": size}

    def _size(self, session_id) -> int | None:
        if not isinstance(session_id, str):
            return None
        size = self.client.get_recording(session_id).get("size")
        # what a hostile or different server sends is shown only when it is a plain count of bytes
        return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


# ---- download -----------------------------------------------------------------------------------------


@dataclass
class Downloader:
    client: object
    fetcher: MediaFetcher
    directory: Path
    on_bytes: Callable[[int], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    refreshes: int = 2  # fresh URLs from the API after an expired one
    abort: threading.Event = field(default_factory=threading.Event)  # set: downloads in flight give up
    fsync: bool = False  # flush to disk before each rename: survives power loss, not just a killed process
    stale: partfiles.Stale | None = None  # temp files found when the run started (download_recordings sets it)

    def __post_init__(self):
        self._lookups: dict[str, Future] = {}  # id -> look_up(id) started ahead (prefetch)

    def look_up(self, session_id: str) -> tuple[dict, list] | Outcome:
        """Everything before the video: an Outcome when there is nothing to fetch, else the recording
        (GET .../recording) and its actions log (small; its own URL). Run ahead of the transfers by
        `prefetch`, so a worker finishing a video starts the next one at once instead of leaving its
        stream idle for two round trips."""
        if not _SAFE_NAME.match(session_id) or session_id in (".", ".."):
            return Outcome(session_id, FAILED, error="session id is not safe as a file name; not downloaded")
        if self.stale is not None:
            self.stale.remove(session_id)  # what a killed run left for this id
        if self.is_complete(session_id):
            return Outcome(session_id, ALREADY_DOWNLOADED, files=self._existing(session_id))
        recording = self.client.get_recording(session_id)
        if not recording.get("actions"):
            return recording, []
        actions, recording = self._fetch_actions(session_id, recording)
        return recording, actions

    def settled(self, session_id: str) -> Outcome | None:
        """ALREADY_DOWNLOADED for a complete id that no lookup was started for (on the caller's thread,
        after removing what a killed run left for it), else None: the id goes to a worker."""
        if session_id in self._lookups or not self._complete(session_id):
            return None
        if self.stale is not None:
            self.stale.remove(session_id)
        return Outcome(session_id, ALREADY_DOWNLOADED, files=self._existing(session_id))

    def _complete(self, session_id: str) -> bool:
        return bool(_SAFE_NAME.match(session_id)) and self.is_complete(session_id)

    def prefetch(self, ids: Iterable[str], pool: ThreadPoolExecutor, ahead: int,
                 stopped: list[Exception]) -> Iterator[str]:
        """`ids` as they are, each one's look_up() started `ahead` ids before it is handed out (so at most
        `ahead` more than the transfers in flight; none after a stop)."""
        from collections import deque

        window: deque[str] = deque()
        seen: set[str] = set()
        for session_id in ids:
            if session_id not in seen and not stopped and not self.abort.is_set() and not self._complete(session_id):
                seen.add(session_id)
                self._lookups[session_id] = pool.submit(self.look_up, session_id)
            window.append(session_id)
            if len(window) > ahead:
                yield window.popleft()
        yield from window

    def is_complete(self, session_id: str) -> bool:
        return (self.directory / (session_id + EVENTS_SUFFIX)).is_file()

    def __call__(self, session_id: str) -> Outcome:
        looked_up = self._lookups.pop(session_id, None)
        try:
            found = looked_up.result() if looked_up is not None else self.look_up(session_id)
            if isinstance(found, Outcome):
                return found
            return self._download(session_id, *found)
        except errors.NotFoundError as e:
            return Outcome(session_id, NOT_FOUND, error=str(e), status=404)
        except (errors.AuthenticationError, errors.InsecureTransportError):
            raise
        except (MediaError, errors.CobrowseError) as e:
            return Outcome(session_id, FAILED, error=str(e), status=getattr(e, "status", None))
        except OSError as e:  # disk full, permissions: this item fails, the report goes on
            return Outcome(session_id, FAILED, error=f"cannot write to {self.directory}: {e.strerror or e}")

    def _download(self, session_id: str, recording: dict, actions: list) -> Outcome:
        files: list[str] = []
        total = 0
        video = recording.get("video")
        if video:
            path, size, recording = self._fetch_video(session_id, recording)
            files.append(path.name)
            total += size
        events = merge_events(actions, recording.get("events"))
        data = json.dumps(events, ensure_ascii=False, indent=1).encode("utf-8")
        final = self.directory / (session_id + EVENTS_SUFFIX)
        with _atomic(final, session_id, fsync=self.fsync) as out:  # written last: marks the session complete
            out.write(data)
        files.append(final.name)
        return Outcome(session_id, DOWNLOADED, bytes=total + len(data), files=files)

    def _with_fresh_urls(self, session_id: str, recording: dict, key: str, attempt: Callable[[str], object]):
        """Run attempt(url) with retries for drops/5xx and fresh URLs (from the API) after an expired one."""
        refreshes = tries = 0
        while True:
            try:
                return attempt(recording.get(key)), recording
            except MediaExpired:
                if refreshes >= self.refreshes:
                    raise
                refreshes += 1
                recording = self.client.get_recording(session_id)
            except MediaError as e:
                tries += 1
                if not e.transient or tries >= MEDIA_ATTEMPTS:
                    raise
                self.sleep(min(2.0, 0.25 * 2 ** tries))

    def _fetch_video(self, session_id: str, recording: dict):
        def attempt(url: str):
            out, tmp = partfiles.create(self.directory, session_id, "video")
            try:
                with out:  # closed (unlocked) only after the rename
                    size, content_type = self.fetcher.download(url, out, self._progress)
                    if self.fsync:
                        out.flush()
                        os.fsync(out.fileno())
                    out.flush()
                    ext = EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "video")
                    final = self.directory / f"{session_id}.{ext}"
                    os.replace(tmp, final)
                return final, size
            except BaseException:
                _unlink(tmp)
                raise

        (path, size), recording = self._with_fresh_urls(session_id, recording, "video", attempt)
        return path, size, recording

    def _fetch_actions(self, session_id: str, recording: dict):
        def attempt(url: str) -> list:
            with tempfile.TemporaryFile(dir=self.directory) as out:  # spooled on disk, never whole in memory twice
                self.fetcher.download(url, out)
                out.seek(0)
                try:
                    data = json.load(out)
                except ValueError:
                    raise MediaError("the recording's actions are not JSON") from None
            if not isinstance(data, list):
                raise MediaError(f"the recording's actions are {type(data).__name__}, expected a list")
            return data

        return self._with_fresh_urls(session_id, recording, "actions", attempt)

    def _progress(self, n: int) -> None:
        if self.abort.is_set():
            raise MediaError("interrupted")  # the temp file is removed on the way out
        if self.on_bytes is not None:
            self.on_bytes(n)

    def _existing(self, session_id: str) -> list[str]:
        """Our files for the id: a few stats, not a listing of the directory per id."""
        names = {f"{session_id}.{ext}" for ext in (*EXTENSIONS.values(), "video")} | {session_id + EVENTS_SUFFIX}
        return sorted(name for name in names if (self.directory / name).is_file())


def merge_events(actions: list, events) -> list:
    """The SDK's events(): actions + events sorted by timestamp; items without a readable one keep
    their order at the end (a hostile server cannot make the merge fail)."""
    items = [e for e in list(actions or []) + list(events if isinstance(events, list) else []) if isinstance(e, dict)]

    def key(pair):
        number, item = pair
        ts = item.get("timestamp")
        when = parse_iso_or_none(ts) if isinstance(ts, str) else None
        return (when is None, when.timestamp() if when else 0.0, number)

    return [item for _, item in sorted(enumerate(items), key=key)]


def download_recordings(downloader: Downloader, ids: Iterable[str], *, concurrency: int = 4,
                        stopped: list[Exception] | None = None) -> Iterator[Outcome]:
    """A 403 fails one item only (a policy may allow reading some sessions' recordings); a 401 stops."""
    downloader.directory.mkdir(parents=True, exist_ok=True)
    downloader.stale = partfiles.Stale(downloader.directory)
    stopped = stopped if stopped is not None else []
    lookups = ThreadPoolExecutor(max_workers=min(concurrency, 4), thread_name_prefix="lookups")
    try:
        # an id's lookup starts as it joins the pool's queue, a transfer's time before a worker takes it
        yield from run_each(downloader, downloader.prefetch(ids, lookups, 0, stopped), concurrency=concurrency,
                            queued=concurrency, stopped=stopped, abort=downloader.abort, settled=downloader.settled,
                            stop_on=(errors.AuthenticationError, errors.InsecureTransportError))
    finally:  # lookups nobody will use (Ctrl-C, a closed pipe, a stop) are dropped, not waited for
        for future in downloader._lookups.values():
            future.cancel()
        downloader._lookups.clear()
        lookups.shutdown(wait=False, cancel_futures=True)


class _atomic:
    """`with _atomic(path, id) as f:` writes a hidden temp file (partfiles.py) and renames it to `path` only
    on success, before closing (and so unlocking) it."""

    def __init__(self, path: Path, session_id: str, *, fsync: bool = False):
        self.path = path
        self.session_id = session_id
        self.fsync = fsync

    def __enter__(self):
        self.file, self.tmp = partfiles.create(self.path.parent, self.session_id, "events")
        return self.file

    def __exit__(self, exc_type, *rest) -> None:
        try:
            if exc_type is None:
                self.file.flush()
                if self.fsync:
                    os.fsync(self.file.fileno())
                os.replace(self.tmp, self.path)
        except BaseException:
            _unlink(self.tmp)
            raise
        finally:
            self.file.close()
            if exc_type is not None:
                _unlink(self.tmp)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

