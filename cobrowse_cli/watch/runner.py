"""Pick a transport and run a watch to its end; the one place a watch's outcome becomes an exit code."""

from __future__ import annotations

from typing import Callable

from cobrowse_cli import exitcodes
from cobrowse_cli.watch.conditions import Conditions
from cobrowse_cli.watch.feed import ConditionMet, Feed
from cobrowse_cli.watch.source import Source

TRANSPORTS = ("auto", "socket", "poll")


def run(
    source: Source,
    conditions: Conditions,
    write: Callable[[dict], None],
    notice: Callable[[str], None],
    *,
    transport: str = "auto",
    interval: float = 2.0,
    socket_settings=None,
) -> int:
    """0 when --until/--count is met; raises WatchTimeout (exit 7) or CLIError (exit 1, after giving
    up on the server) otherwise. Never returns 0 for any other reason: a watch has no natural end.
    KeyboardInterrupt and BrokenPipeError propagate (app.run makes them 130 and a quiet exit)."""
    if transport not in TRANSPORTS:
        raise exitcodes.UsageError(f"invalid --transport {transport!r}: expected auto, socket or poll")
    feed = Feed(source, conditions, write)
    try:
        if transport == "poll":
            from cobrowse_cli.watch.poll import run_poll

            run_poll(feed, interval, notice)
        else:
            _run_socket(feed, transport, interval, notice, socket_settings)
    except ConditionMet:
        return exitcodes.OK
    raise AssertionError("a watch only ends by raising")  # pragma: no cover


def _run_socket(feed: Feed, transport: str, interval: float, notice, settings) -> None:
    from cobrowse_cli.watch.poll import run_poll

    feed.sync(feed.source.list(), initial=True)
    from cobrowse_cli.watch.socket import SocketSettings, SocketUnavailable, SocketWatch

    watch = SocketWatch(feed, settings or SocketSettings(interval=interval), notice)
    try:
        watch.open()
    except SocketUnavailable as e:
        if transport == "socket":
            raise
        notice(f"{e}; polling every {interval:g}s instead")
        run_poll(feed, interval, notice, listed=True)
        return
    watch.run()
