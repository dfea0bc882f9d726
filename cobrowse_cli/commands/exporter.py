"""`cobrowse exporter`: Prometheus metrics about the open sessions, served on /metrics.

Collection runs in a background thread every --interval; a scrape only serialises the last snapshot,
so a fast (or many) scraper(s) never add API traffic and a scrape costs the same at any account size.
A failed collection keeps the last values and sets cobrowse_up 0. prometheus_client loads only here.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli.commands._options import FilterOpt, epilog
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

STATES = ("active", "pending", "authorizing")
OTHER = "other"
MIN_INTERVAL_S = 1.0


@dataclass
class ExporterOptions:
    listen: str = "127.0.0.1:9464"
    interval: str = "30s"
    by: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    max_series: int = 50
    once: bool = False
    textfile: str | None = None


@dataclass
class Snapshot:
    """What a scrape serves: the last successful collection plus the health of the latest one."""

    states: dict[str, int] | None = None
    by: dict[str, dict[str, int]] = field(default_factory=dict)  # --by key -> value -> active count
    oldest_pending_s: float = 0.0
    up: bool = False
    last_success: float | None = None
    duration_s: float | None = None
    requests: Counter = field(default_factory=Counter)  # HTTP status -> responses, retries included


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"invalid --listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "0.0.0.0", int(port)


def cap_series(counts: Counter, limit: int) -> dict[str, int]:
    """The `limit` largest values; the rest summed under value="other" (bounded label cardinality)."""
    ranked = counts.most_common()
    kept = dict(ranked[:limit])
    rest = sum(n for _, n in ranked[limit:])
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + rest
    return kept


def collect(client, query, by: list[str], max_series: int, now: float) -> Snapshot:
    """One pass over the open sessions (listed, paged and de-duplicated as for `sessions watch`) -> a snapshot."""
    from cobrowse_cli.commands.count import NONE_KEY, _label_agents, group_key
    from cobrowse_cli.timeutil import parse_iso_or_none
    from cobrowse_cli.watch.source import Source

    states = Counter({state: 0 for state in STATES})
    groups = {key: Counter() for key in by}
    agent_names: dict[str, str | None] = {}
    oldest = 0.0
    for session in Source("session", client, query).list():
        state = session.get("state")
        if state not in states:  # the API filtered already; a session may change state between pages
            continue
        states[state] += 1
        if state == "pending":
            created = parse_iso_or_none(str(session.get("created") or ""))
            if created is not None:
                oldest = max(oldest, now - created.timestamp())
        if state == "active":
            for key in by:
                value = group_key(session, key)
                groups[key][value] += 1
                if key == "agent" and value != NONE_KEY:
                    agent_names[value] = (session.get("agent") or {}).get("name")
    if "agent" in groups:
        groups["agent"] = _label_agents(groups["agent"], agent_names)
    return Snapshot(
        states=dict(states),
        by={key: cap_series(counts, max_series) for key, counts in groups.items()},
        oldest_pending_s=oldest,
    )


class Collector:
    """prometheus_client custom collector over the current snapshot (the scrape path: no I/O)."""

    def __init__(self, client, query, by: list[str], max_series: int):
        self.client, self.query, self.by, self.max_series = client, query, by, max_series
        self.snapshot = Snapshot()
        self.requests: Counter = Counter()
        self.lock = threading.Lock()
        client.on_response(self._count_response)

    def _count_response(self, response) -> None:
        with self.lock:
            self.requests[str(response.status_code)] += 1

    def refresh(self) -> Exception | None:
        """Collect now; on failure keep the last values, mark down, and return the error."""
        started = time.monotonic()
        try:
            fresh = collect(self.client, self.query, self.by, self.max_series, time.time())
        except Exception as e:  # noqa: BLE001 - any failure is "down"; the loop must survive it
            error: Exception | None = e
            fresh = None
        else:
            error = None
        with self.lock:
            if fresh is not None:
                fresh.up, fresh.last_success = True, time.time()
                self.snapshot = fresh
            else:
                self.snapshot.up = False
            self.snapshot.duration_s = time.monotonic() - started
        return error

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self.lock:
            snap, requests = self.snapshot, dict(self.requests)
        if snap.states is not None:
            sessions = GaugeMetricFamily("cobrowse_sessions", "Open sessions by state.", labels=["state"])
            for state, n in snap.states.items():
                sessions.add_metric([state], n)
            yield sessions
            by = GaugeMetricFamily("cobrowse_active_sessions_by", "Active sessions per --by key and value "
                                   "(values past --max-series summed as other).", labels=["key", "value"])
            for key, counts in snap.by.items():
                for value, n in counts.items():
                    by.add_metric([key, value], n)
            yield by
            yield GaugeMetricFamily("cobrowse_oldest_pending_seconds", "Age of the oldest pending session "
                                    "(0 when none).", value=snap.oldest_pending_s)
        yield GaugeMetricFamily("cobrowse_up", "1 if the last collection succeeded.", value=1 if snap.up else 0)
        if snap.last_success is not None:
            yield GaugeMetricFamily("cobrowse_last_success_timestamp_seconds", "Unix time of the last "
                                    "successful collection.", value=snap.last_success)
        if snap.duration_s is not None:
            yield GaugeMetricFamily("cobrowse_collect_duration_seconds", "How long the last collection took.",
                                    value=snap.duration_s)
        api = CounterMetricFamily("cobrowse_api_requests", "API responses received, by HTTP status.", labels=["code"])
        for code, n in sorted(requests.items()):
            api.add_metric([code], n)
        yield api


def _validate(opts: ExporterOptions):
    from cobrowse_cli.commands.watch import WatchOptions, build_query, parse_interval

    for key in opts.by:
        if key != "agent" and not (key.startswith("custom_data.") and len(key) > len("custom_data.")):
            raise UsageError(f"invalid --by {key!r}: expected 'agent' or 'custom_data.KEY'")
    if opts.max_series < 1:
        raise UsageError("invalid --max-series: must be at least 1")
    if opts.textfile and not opts.once:
        raise UsageError("--textfile needs --once (run it from cron; the server mode serves /metrics instead)")
    interval = parse_interval(opts.interval)
    if interval < MIN_INTERVAL_S:
        raise UsageError(f"invalid --interval {opts.interval!r}: must be at least {MIN_INTERVAL_S:g}s")
    query = build_query(WatchOptions(kind="session", filters=opts.filters, states=list(STATES), agent="all"))
    return query, interval


def run(opts: ExporterOptions, ctx: Context) -> int:
    from prometheus_client import CollectorRegistry

    query, interval = _validate(opts)
    host, port = parse_listen(opts.listen)
    collector = Collector(ctx.client(), query, list(dict.fromkeys(opts.by)), opts.max_series)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if opts.once:
        return _once(opts, ctx, collector, registry)
    return _serve(ctx, collector, registry, host, port, interval)


def _once(opts: ExporterOptions, ctx: Context, collector: Collector, registry) -> int:
    from prometheus_client import generate_latest, write_to_textfile

    error = collector.refresh()
    if opts.textfile:
        try:
            write_to_textfile(opts.textfile, registry)  # a temporary file renamed over PATH: atomic
        except OSError as e:
            raise UsageError(f"cannot write --textfile {opts.textfile!r}: {e.strerror or e}") from None
    else:
        ctx.stdout.write(generate_latest(registry).decode("utf-8"))
        ctx.stdout.flush()
    if error is not None:
        raise error  # the metrics (cobrowse_up 0) are written; app.py maps the error to its exit code
    return 0


def _serve(ctx: Context, collector: Collector, registry, host: str, port: int, interval: float) -> int:
    from prometheus_client import start_http_server

    stop = threading.Event()
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    shown = f"[{host}]" if ":" in host else host
    ctx.stderr.write(f"cobrowse exporter: serving http://{shown}:{server.server_port}/metrics, "
                     f"collecting every {interval:g}s (SIGTERM or Ctrl-C stops)\n")
    ctx.stderr.flush()
    worker = threading.Thread(target=_collect_loop, args=(ctx, collector, interval, stop), daemon=True)
    worker.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
        worker.join(timeout=2.0)  # a collection stuck in a slow request is abandoned, not waited for
    ctx.stderr.write("cobrowse exporter: stopped\n")
    return 0


def _collect_loop(ctx: Context, collector: Collector, interval: float, stop: threading.Event) -> None:
    """Fixed rate: a slow collection shortens the next wait instead of drifting or bunching up."""
    from cobrowse_cli.client.redact import redact

    last_error = None
    next_run = time.monotonic()
    while not stop.is_set():
        error = collector.refresh()
        message = None if error is None else redact(str(error).splitlines()[0] if str(error) else type(error).__name__)
        if message != last_error:  # one line per change of health, not one per interval
            ctx.stderr.write(f"cobrowse exporter: collection failed: {message}\n" if message else
                             "cobrowse exporter: collection ok\n" if last_error else "")
            ctx.stderr.flush()
            last_error = message
        next_run = max(next_run + interval, time.monotonic())
        stop.wait(max(0.0, next_run - time.monotonic()))


def register(root: typer.Typer) -> None:
    @root.command(
        "exporter",
        epilog=epilog(
            "cobrowse exporter --by agent --by custom_data.plan",
            "cobrowse exporter --listen 0.0.0.0:9464 --interval 1m",
            "cobrowse exporter --once --textfile /var/lib/node_exporter/textfile/cobrowse.prom",
        ),
    )
    def exporter(
        ctx: typer.Context,
        listen: Annotated[str, typer.Option(metavar="HOST:PORT", help="Where /metrics is served.")] = "127.0.0.1:9464",
        interval: Annotated[str, typer.Option(help="Collect every INTERVAL (e.g. 30s, 1m); scrapes never call the API.")] = "30s",
        by: Annotated[Optional[list[str]], typer.Option("--by", help="cobrowse_active_sessions_by for 'agent' or 'custom_data.KEY' (repeatable).")] = None,
        filter: FilterOpt = None,
        max_series: Annotated[int, typer.Option("--max-series", metavar="N", help="At most N values per --by key; the rest are summed as value=\"other\".")] = 50,
        once: Annotated[bool, typer.Option("--once", help="Collect once, print the metrics (or write --textfile) and exit.")] = False,
        textfile: Annotated[Optional[str], typer.Option(metavar="PATH", help="With --once: write the metrics atomically for node_exporter's textfile collector.")] = None,
    ) -> None:
        """Serve Prometheus metrics about open sessions (or write them once for node_exporter)."""
        opts = ExporterOptions(listen, interval, by or [], filter or [], max_series, once, textfile)
        raise typer.Exit(run(opts, get_context(ctx)))
