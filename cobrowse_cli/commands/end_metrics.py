"""`sessions end --metrics-textfile PATH`: the last run of a cron job, for node_exporter's textfile collector.

Alert on `time() - cobrowse_sessions_end_last_run_timestamp_seconds > 3600` (the job stopped running) and on
`cobrowse_sessions_end_success == 0` (it failed). The file is replaced atomically (a temporary file
renamed over PATH), so the collector never reads half of it. prometheus_client loads only here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from cobrowse_cli.exitcodes import UsageError

# The outcomes of client/bulk.py, written even at 0 so alerts always see a series (others are added as met).
OUTCOMES = ("ended", "already_ended", "changed", "not_found", "failed", "unknown", "skipped")
DONE = ("ended", "already_ended", "changed", "would_end")  # anything else makes `sessions end` exit non-zero


def write_end_metrics(path: str, summary: Mapping[str, int], *, success: bool | None = None,
                      duration_s: float | None = None, now: float | None = None) -> None:
    """Write the run's outcome counts (`summary`: outcome -> sessions), its time and success to PATH.

    `success` defaults to "every session is done" (no outcome outside DONE); pass the run's own verdict
    (exit code 0) when there is one: a run stopped before any session (auth, lock) has nothing to count."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    if success is None:
        success = not any(n for outcome, n in summary.items() if outcome not in DONE)
    registry = CollectorRegistry(auto_describe=False)
    Gauge("cobrowse_sessions_end_last_run_timestamp_seconds", "Unix time the last `sessions end` run finished.",
          registry=registry).set(time.time() if now is None else now)
    Gauge("cobrowse_sessions_end_success", "1 if every session of the last `sessions end` run is done.",
          registry=registry).set(1 if success else 0)
    sessions = Gauge("cobrowse_sessions_end_sessions", "Sessions per outcome in the last `sessions end` run.",
                     ["outcome"], registry=registry)
    for outcome in dict.fromkeys([*OUTCOMES, *summary]):
        sessions.labels(outcome).set(summary.get(outcome, 0))
    if duration_s is not None:
        Gauge("cobrowse_sessions_end_duration_seconds", "How long the last `sessions end` run took.",
              registry=registry).set(duration_s)
    try:
        write_to_textfile(path, registry)
    except OSError as e:
        raise UsageError(f"cannot write --metrics-textfile {path!r}: {e.strerror or e}") from None
