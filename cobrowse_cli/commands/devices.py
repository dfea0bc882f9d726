"""`cobrowse devices`: list and get (watch lives in the watch command module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._options import (
    ColumnsOpt,
    CsvOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    NdjsonOpt,
    QuietOpt,
    epilog,
)
from cobrowse_cli.commands._output import OutputFlags, make_writer
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

DEFAULT_LIMIT = 100


@dataclass
class ListOptions:
    filters: list[str] = field(default_factory=list)
    seen_after: str | None = None
    seen_before: str | None = None
    limit: int | None = DEFAULT_LIMIT
    all: bool = False
    output: OutputFlags = field(default_factory=OutputFlags)


def device_query(filters: list[str], seen_after: str | None, seen_before: str | None):
    from cobrowse_cli.client.selection import DeviceQuery

    return DeviceQuery(
        filters=_parse.parse_filters(filters),
        seen_after=_parse.parse_time(seen_after, option="--seen-after") if seen_after else None,
        seen_before=_parse.parse_time(seen_before, option="--seen-before") if seen_before else None,
    )


def run_list(opts: ListOptions, ctx: Context) -> int:
    from cobrowse_cli.client.listing import select_devices
    from cobrowse_cli.commands._columns import DEVICE_FIELDS, device_columns
    from cobrowse_cli.commands.sessions import print_notes

    if opts.all and opts.limit is not None:
        raise UsageError("--all and --limit cannot be used together")
    query = device_query(opts.filters, opts.seen_after, opts.seen_before)
    limit = None if opts.all else _parse.parse_limit(opts.limit)
    writer = make_writer(ctx, opts.output, device_columns(), known=DEVICE_FIELDS)
    if writer.is_machine:  # streamed as pages arrive
        selection = select_devices(ctx.client(), query, limit=limit)
        writer.write_rows(selection)
    else:
        with writer.progress("Fetching devices") as advance:  # a table needs every row: fetch, then draw
            selection = select_devices(ctx.client(), query, limit=limit, on_page=advance)
            rows = list(selection)
        writer.write_rows(rows)
    print_notes(ctx, selection)
    return exitcodes.OK


@dataclass
class GetOptions:
    id: str
    output: OutputFlags = field(default_factory=OutputFlags)


def run_get(opts: GetOptions, ctx: Context) -> int:
    from cobrowse_cli.commands._columns import DEVICE_FIELDS, device_columns

    device_id = _parse.require_id(opts.id, kind="device")
    make_writer(ctx, opts.output, device_columns(), known=DEVICE_FIELDS).write_item(ctx.client().get_device(device_id))
    return exitcodes.OK


@dataclass
class NotifyOptions:
    device_id: str
    session_id: str
    attempts: int = 1
    every: str = "4s"
    json: bool = False


def run_notify(opts: NotifyOptions, ctx: Context, sleep=None) -> int:
    """Push "an agent wants to connect" up to N times; stop early once the session has left `pending`
    (the device joined, or the session ended). One row per attempt."""
    import time

    from cobrowse_cli.output import Column

    device_id = _parse.require_id(opts.device_id, kind="device")
    session_id = _parse.require_id(opts.session_id)
    if not 1 <= opts.attempts <= 100:
        raise UsageError(f"invalid --attempts {opts.attempts}: must be between 1 and 100")
    pause = _parse.parse_duration(opts.every, option="--every").total_seconds()
    sleep = sleep or time.sleep
    client = ctx.client()
    columns = [Column("attempt", "ATTEMPT", kind="number"), Column("device"), Column("session"),
               Column("sent", "SENT", kind="bool"), Column("session_state", "SESSION STATE", kind="state")]
    writer = make_writer(ctx, OutputFlags(ndjson=opts.json), columns, id_key="device")

    def attempts():
        for attempt in range(1, opts.attempts + 1):
            answer = client.notify_device(device_id, session_id, attempt) or {}
            sent = answer.get("sent") if isinstance(answer, dict) else None
            state = None
            if attempt < opts.attempts:
                sleep(pause)
                state = client.get_session(session_id).get("state")
            yield {"attempt": attempt, "device": device_id, "session": session_id,
                   "sent": sent if isinstance(sent, bool) else None, "session_state": state}
            if state is not None and state != "pending":
                writer.info(f"session {session_id} is {state} now; no more pushes")
                return

    writer.write_rows(attempts())
    return exitcodes.OK


def register(root: typer.Typer) -> typer.Typer:
    from cobrowse_cli.commands.watch import add_device_watch

    app = typer.Typer(help="List, inspect and watch customer devices.", no_args_is_help=True,
                      epilog=epilog("cobrowse devices list --filter user_id=42", "cobrowse devices watch --filter user_id=42"))
    root.add_typer(app, name="devices")

    @app.command("list", epilog=epilog("cobrowse devices list --filter user_id=42 --seen-after 1h"))
    def list_(
        ctx: typer.Context,
        filter: FilterOpt = None,
        seen_after: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        seen_before: Annotated[Optional[str], typer.Option(help="ISO-8601 or relative (30m, 2h, 7d).")] = None,
        limit: Annotated[Optional[int], typer.Option("--limit", "-L", help=f"At most N devices (default {DEFAULT_LIMIT}; --all for every one).")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Page through every matching device.")] = False,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """List devices, most recently active first."""
        opts = ListOptions(filter or [], seen_after, seen_before,
                           limit if (limit is not None or all_) else DEFAULT_LIMIT, all_,
                           OutputFlags(json, fields, ndjson, csv, quiet, columns))
        raise typer.Exit(run_list(opts, get_context(ctx)))

    @app.command(epilog=epilog("cobrowse devices get DEVICE_ID --json"))
    def get(
        ctx: typer.Context,
        id: Annotated[str, typer.Argument(metavar="ID", help="Device id.")],
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """Show one device."""
        raise typer.Exit(run_get(GetOptions(id, OutputFlags(json, fields, ndjson, csv, quiet, columns)), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse devices notify DEVICE_ID --session SESSION_ID",
                               "cobrowse devices notify DEVICE_ID --session SESSION_ID --attempts 5 --every 4s"))
    def notify(
        ctx: typer.Context,
        id: Annotated[str, typer.Argument(metavar="DEVICE_ID", help="Device id.")],
        session: Annotated[str, typer.Option("--session", "-s", metavar="SESSION_ID", help="The session to invite the device to.")],
        attempts: Annotated[int, typer.Option(help="Pushes to send at most (the vendor's UI sends 5).")] = 1,
        every: Annotated[str, typer.Option(metavar="DURATION", help="Pause between pushes.")] = "4s",
        json: Annotated[bool, typer.Option("--json", help="One JSON object per attempt (NDJSON).", rich_help_panel="Output")] = False,
    ) -> None:
        """Push an "agent wants to connect" prompt to a device, reporting each attempt.

        Stops early when the session leaves pending (the device joined, or it ended).
        """
        raise typer.Exit(run_notify(NotifyOptions(id, session, attempts, every, json), get_context(ctx)))

    add_device_watch(app)
    return app
