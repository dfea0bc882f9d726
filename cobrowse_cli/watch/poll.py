"""The poll transport: re-list every `interval` seconds and diff. Works with any server that has the
REST API (no socket needed); a device's online/offline is not visible this way (REST has no presence)."""

from __future__ import annotations

import time
from typing import Callable

from cobrowse_cli import exitcodes
from cobrowse_cli.watch.feed import Feed

MAX_FAILURES = 3  # consecutive failed re-lists (each already retried by the client) before giving up


def run_poll(feed: Feed, interval: float, notice: Callable[[str], None], *, listed: bool = False) -> None:
    """Runs until a stop condition raises (ConditionMet / WatchTimeout) or re-listing keeps failing.

    `listed`: the first listing was already printed (auto mode falling back from the socket)."""
    from cobrowse_cli.client.errors import NetworkError, RateLimitedError, ServerError

    if not listed:
        feed.sync(feed.source.list(), initial=True)
    failures = 0
    next_tick = time.monotonic() + interval
    while True:
        feed.check_timeout()
        time.sleep(feed.wait_bound(max(0.0, next_tick - time.monotonic())))
        feed.check_timeout()
        next_tick = max(next_tick + interval, time.monotonic())  # fixed rate; never a burst after a slow list
        try:
            listing = feed.source.list()
        except (NetworkError, ServerError, RateLimitedError) as e:
            failures += 1
            if failures >= MAX_FAILURES:
                raise exitcodes.CLIError(f"watch stopped: re-listing failed {failures} times in a row: {e}") from None
            notice(f"re-list failed ({e}); will retry")
            continue
        failures = 0
        feed.sync(listing)
