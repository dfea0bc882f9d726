"""`cobrowse top`: a full-screen live view of the floor for a supervisor.

The open sessions come from the watch package (the same transports as `sessions watch`): a listing
every --interval finds new sessions, and the realtime socket pushes changes to the ones already
listed; without a socket it polls. That runs in a thread; the main thread owns the terminal: it
draws when the data changes (woken through a pipe) or once a second (clock, wait times), and reads
keys in cbreak mode, restored on the way out whatever ends the run.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._options import FilterOpt, epilog
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

OPEN = ("pending", "authorizing", "active")
WAITING = ("pending", "authorizing")
TICK_S = 1.0  # redraw at least this often: the clock and the wait times move
MIN_FRAME_S = 0.05  # and at most this often: a burst of changes (the first listing) is one frame, not 1,500


@dataclass
class TopOptions:
    filters: list[str] = field(default_factory=list)
    by: str = "agent"
    columns: str | None = None
    interval: str = "5s"
    agent: str = "all"


@dataclass(frozen=True)
class Row:
    """What the screen needs of one session, worked out once per change (not once per frame)."""

    id: str
    state: str
    created: float  # unix time; inf when unreadable (sorts last)
    activated: float
    agent_id: str
    agent_name: str
    group: str  # the --by key's value
    values: tuple[str, ...]  # the --columns values


def digest(session: dict, by: str, columns: list[str]) -> Row:
    from cobrowse_cli.commands.count import group_key
    from cobrowse_cli.output.fields import resolve

    agent = session.get("agent") if isinstance(session.get("agent"), dict) else {}
    created = _timestamp(session.get("created"))
    activated = _timestamp(session.get("activated"))
    return Row(
        id=str(session.get("id")),
        state=str(session.get("state")),
        created=created,
        activated=created if activated == math.inf else activated,
        agent_id=str(agent.get("id") or ""),
        agent_name=str(agent.get("name") or agent.get("id") or ""),
        group=group_key(session, by),
        values=tuple(_value(resolve(session, c)[1]) for c in columns),
    )


def _timestamp(value) -> float:
    from cobrowse_cli.timeutil import parse_iso_or_none

    moment = parse_iso_or_none(value) if isinstance(value, str) and value else None
    return moment.timestamp() if moment else math.inf


class Board:
    """The open sessions as last seen, shared by the watch thread (writer) and the screen (reader)."""

    def __init__(self, wake_fd: int | None, by: str = "agent", columns: list[str] | None = None):
        self.lock = threading.Lock()
        self.rows: dict[str, Row] = {}
        self.status = "loading…"
        self.socket = True
        self.wake_fd = wake_fd
        self.by, self.columns = by, columns or []

    def event(self, payload: dict) -> None:
        resource = payload.get("resource") or {}
        rid = resource.get("id")
        row = digest(resource, self.by, self.columns) if resource.get("state") in OPEN else None
        with self.lock:
            if payload.get("type") in ("added", "updated") and row is not None:
                self.rows[rid] = row
            else:  # ended, removed, or no longer open
                self.rows.pop(rid, None)
            if self.status == "loading…":
                self.status = ""
        self.wake()

    def notice(self, message: str) -> None:
        with self.lock:
            self.status = message
            if "polling every" in message:
                self.socket = False
        self.wake()

    def wake(self) -> None:
        with self.lock:  # never after close(): the number could by then belong to another file
            self.poke()

    def poke(self) -> None:
        """wake() without the lock, for the SIGWINCH handler (it may interrupt a holder of the lock)."""
        fd = self.wake_fd
        if fd is not None:
            try:
                os.write(fd, b".")
            except (BlockingIOError, OSError):
                pass  # the pipe is full: a redraw is already due

    def close(self) -> None:
        with self.lock:
            if self.wake_fd is not None:
                os.close(self.wake_fd)
                self.wake_fd = None


class _Stop:
    """Watch conditions that end the watch when the screen quits (the watch checks them every loop)."""

    def __init__(self, stop: threading.Event):
        self.stop = stop

    def timed_out(self) -> bool:
        return self.stop.is_set()

    def remaining(self):
        return None

    def met_by(self, resource: dict, *, initial: bool) -> bool:
        return False

    timeout = None


def _validate(opts: TopOptions):
    from cobrowse_cli.commands.watch import WatchOptions, build_query, parse_interval

    if opts.by != "agent" and not (opts.by.startswith("custom_data.") and len(opts.by) > len("custom_data.")):
        raise UsageError(f"invalid --by {opts.by!r}: expected 'agent' or 'custom_data.KEY'")
    columns = [c.strip() for c in (opts.columns or "").split(",") if c.strip()]
    for column in columns:
        if not column.startswith("custom_data.") or column == "custom_data.":
            raise UsageError(f"invalid --columns entry {column!r}: expected custom_data.KEY")
    # The same selection `sessions watch` builds (the client's query model lists and re-matches with it).
    query = build_query(WatchOptions(kind="session", filters=opts.filters, states=list(OPEN), agent=opts.agent))
    return query, parse_interval(opts.interval), columns


def run(opts: TopOptions, ctx: Context) -> int:
    if not ctx.stdout.isatty():
        raise UsageError("top draws a full-screen view and needs a terminal; for pipes and logs use "
                         "`cobrowse count-active --watch 5` (add --by agent or --json as needed)")
    query, interval, columns = _validate(opts)
    client = ctx.client()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    board = Board(write_fd, opts.by, columns)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(client, query, interval, board, stop), daemon=True)
    watcher.start()
    try:
        _screen(ctx, opts, board, interval, columns, read_fd)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a full-screen view is left: not an error
    finally:
        stop.set()
        board.close()
        os.close(read_fd)
    return exitcodes.OK


def _watch(client, query, interval: float, board: Board, stop: threading.Event) -> None:
    """Run the watch until the screen quits; after a failure, say so and start again (fresh listing)."""
    from cobrowse_cli.client.redact import redact
    from cobrowse_cli.watch import run as run_watch
    from cobrowse_cli.watch.feed import WatchTimeout
    from cobrowse_cli.watch.source import Source

    source = Source("session", client, query)
    while not stop.is_set():
        try:
            run_watch(source, _Stop(stop), board.event, board.notice, transport="auto", interval=interval)
        except WatchTimeout:
            return  # our _Stop: the screen has quit
        except Exception as e:  # noqa: BLE001 - shown on screen; the view keeps trying
            board.notice(f"{redact(str(e).splitlines()[0] if str(e) else type(e).__name__)}; retrying in {interval:g}s")
        if stop.wait(interval):
            return
        with board.lock:
            board.rows.clear()  # the next listing is the truth; drop what may have ended meanwhile


def _screen(ctx: Context, opts: TopOptions, board: Board, interval: float, columns: list[str], wake_fd: int) -> None:
    import select
    import signal

    from rich.console import Console
    from rich.live import Live

    from cobrowse_cli.output.top_view import render

    console = Console(file=ctx.stdout, no_color=ctx.globals.no_color)
    keys_fd = ctx.stdin.fileno() if ctx.stdin.isatty() else None
    restore = _cbreak(keys_fd)
    previous = signal.signal(signal.SIGWINCH, lambda *_: board.poke()) if hasattr(signal, "SIGWINCH") else None
    try:
        with Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
            last_draw = 0.0
            while True:
                time.sleep(max(0.0, last_draw + MIN_FRAME_S - time.monotonic()))
                console.size = _terminal_size(ctx.stdout, console.size)  # the real size: COLUMNS/LINES go stale
                view = _view(board, opts, interval, columns, console.size.height)
                live.update(render(view, console.size.width, console.size.height), refresh=True)
                last_draw = time.monotonic()
                watched = [wake_fd] + ([keys_fd] if keys_fd is not None else [])
                ready, _, _ = select.select(watched, [], [], max(0.0, last_draw + TICK_S - time.monotonic()))
                if wake_fd in ready:
                    os.read(wake_fd, 4096)
                if keys_fd in ready and _quit_key(os.read(keys_fd, 64)):
                    return
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
        restore()


def _terminal_size(stream, fallback) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return fallback
    return (size.columns, size.lines) if size.columns and size.lines else fallback


def _quit_key(data: bytes) -> bool:
    return not data or b"q" in data.lower() or b"\x03" in data  # EOF on the keyboard ends it too


def _cbreak(fd: int | None):
    """Keys one at a time, no echo; returns the function that restores the terminal."""
    if fd is None:
        return lambda: None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _view(board: Board, opts: TopOptions, interval: float, columns: list[str], lines: int):
    """The screen's content; only the rows that can fit in `lines` are sorted out in full."""
    from cobrowse_cli.commands.count import NONE_KEY, _label_agents
    from cobrowse_cli.output.top_view import TopView

    with board.lock:
        rows = list(board.rows.values())
        status, socket = board.status, board.socket
    now = time.time()
    totals = Counter(r.state for r in rows)
    active = [r for r in rows if r.state == "active"]
    groups = Counter(r.group for r in active)
    if opts.by == "agent":
        groups = _label_agents(groups, {r.group: r.agent_name for r in active if r.group != NONE_KEY})
    waiting = heapq.nsmallest(lines, (r for r in rows if r.state in WAITING), key=lambda r: r.created)
    longest = heapq.nsmallest(lines, active, key=lambda r: r.activated)
    refresh = f"socket + poll every {interval:g}s" if socket else f"poll every {interval:g}s"
    return TopView(
        clock=time.strftime("%H:%M:%S"),
        refresh=refresh,
        totals=dict(totals),
        by_label="AGENT" if opts.by == "agent" else opts.by.split(".", 1)[1].upper(),
        groups=groups.most_common(lines),
        group_count=len(groups),
        queue=[(r.id, r.state, _age(now, r.created), r.agent_name) for r in waiting],
        queue_count=totals["pending"] + totals["authorizing"],
        longest=[(r.id, r.agent_name, _age(now, r.activated), list(r.values)) for r in longest],
        columns=[c.split(".", 1)[1] for c in columns],
        status=status,
        filters=" ".join(f"--filter {f}" for f in opts.filters),
    )


def _age(now: float, since: float) -> float:
    return 0.0 if since == math.inf else now - since


def _value(value) -> str:
    from cobrowse_cli.output.fields import MISSING

    if value is MISSING or value is None:
        return ""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def register(root: typer.Typer) -> None:
    @root.command(
        "top",
        epilog=epilog(
            "cobrowse top",
            "cobrowse top --columns custom_data.plan,custom_data.region --filter region=eu",
            "cobrowse top --by custom_data.plan --interval 10s",
        ),
    )
    def top(
        ctx: typer.Context,
        filter: FilterOpt = None,
        by: Annotated[str, typer.Option(help="Group the active sessions by 'agent' or 'custom_data.KEY'.")] = "agent",
        columns: Annotated[Optional[str], typer.Option("--columns", metavar="custom_data.KEY,…", help="Extra columns for the longest-running sessions.")] = None,
        interval: Annotated[str, typer.Option(help="List every INTERVAL to find new sessions (changes to listed ones arrive over the socket).")] = "5s",
        agent: Annotated[str, typer.Option(help="'all' (default; needs an administrator token), 'me' or an agent id.")] = "all",
    ) -> None:
        """Full-screen live view: totals, active by agent, the waiting queue, the longest-running sessions."""
        opts = TopOptions(filter or [], by, columns, interval, agent)
        raise typer.Exit(run(opts, get_context(ctx)))
