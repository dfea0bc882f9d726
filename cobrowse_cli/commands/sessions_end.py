"""`cobrowse sessions end`: end sessions by id, from stdin, or by query; one outcome per session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands import _parse
from cobrowse_cli.commands._common import (
    ColumnsOpt,
    CsvOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    NdjsonOpt,
    OutputFlags,
    QuietOpt,
    get_env,
    make_writer,
)
from cobrowse_cli.commands._context import Env
from cobrowse_cli.commands.sessions import OPEN_STATES, AgentOpt, Query, StateOpt
from cobrowse_cli.exitcodes import UsageError

EPILOG = exitcodes.EPILOG


# ---- end --------------------------------------------------------------------------------------


@dataclass
class EndOptions:
    ids: list[str] = field(default_factory=list)
    from_stdin: bool = False
    query: Query = field(default_factory=Query)
    older_than: str | None = None
    inactive_for: str | None = None
    dry_run: bool = False
    yes: bool = False
    concurrency: int = 10
    output: OutputFlags = field(default_factory=OutputFlags)

    @property
    def by_query(self) -> bool:
        q = self.query
        return bool(q.filters or q.states or q.agent or q.activated_after or q.activated_before
                    or self.older_than or self.inactive_for)


def _select_by_query(opts: EndOptions, env: Env, now: datetime):
    """Sessions matching the query and the age conditions (checked here: the API has no such filter)."""
    from cobrowse_cli.timeutil import parse_iso_or_none as parse_iso  # unreadable -> None -> not selected

    query = opts.query.to_api(default_states=OPEN_STATES)
    if "ended" in query.get("state", []):
        raise UsageError("--state ended selects sessions that are already ended; nothing to do")
    created_before = now - _parse.parse_duration(opts.older_than, option="--older-than") if opts.older_than else None
    updated_before = now - _parse.parse_duration(opts.inactive_for, option="--inactive-for") if opts.inactive_for else None
    for session in env.client().iter_sessions(query):
        created, updated = parse_iso(session.get("created")), parse_iso(session.get("updated"))
        if created_before and not (created and created < created_before):
            continue
        if updated_before and not (updated and updated < updated_before):
            continue
        yield session


def _read_ids(env: Env) -> list[str]:
    ids = []
    for line in env.stdin:
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(_parse.require_id(line))
    return ids


PREVIEW = 10


def _confirm(env: Env, count: int, preview: list[str]) -> None:
    if count == 0:
        return
    if not (env.stdin.isatty() and env.stderr.isatty()):
        raise UsageError(f"refusing to end {count} session(s) without confirmation: not a terminal; pass --yes")
    # Show what is about to be ended: the person confirming must see it is the right set.
    more = f"\n  … and {count - len(preview)} more (--dry-run lists them all)" if count > len(preview) else ""
    env.stderr.write("".join(f"  {line}\n" for line in preview) + (more.lstrip("\n") + "\n" if more else ""))
    answer = typer.prompt(f"End {count} session(s)? [y/N]", default="n", show_default=False, err=True)
    if answer.strip().lower() not in ("y", "yes"):
        raise exitcodes.CLIError("aborted: nothing was ended", exitcodes.INTERRUPTED)


def _describe(session: dict) -> str:
    custom = " ".join(f"{k}={v}" for k, v in (session.get("custom_data") or {}).items())
    agent = (session.get("agent") or {}).get("name") or "-"
    import shutil

    width = shutil.get_terminal_size().columns - 4
    return f"{session['id']}  {session.get('state', '?')}  {agent}  {custom}"[:width]


def run_end(opts: EndOptions, env: Env) -> int:
    import time

    from cobrowse_cli.client.bulk import DONE, WOULD_END, Outcome, end_sessions
    from cobrowse_cli.commands._columns import outcome_columns

    if opts.concurrency < 1 or opts.concurrency > 64:
        raise UsageError(f"invalid --concurrency {opts.concurrency}: must be between 1 and 64")
    ids = [_parse.require_id(i) for i in opts.ids]
    if opts.from_stdin:
        if not opts.yes and not opts.dry_run:
            raise UsageError("--stdin needs --yes (or --dry-run): stdin carries ids, so there is no way to confirm")
        ids += _read_ids(env)
    if ids and opts.by_query:
        raise UsageError("give either session ids or a selection (--filter/--state/--older-than/...), not both")
    if not ids and not opts.by_query:
        raise UsageError("nothing selected: give session ids, --stdin, or a selection such as --filter or --older-than")

    writer = make_writer(env, opts.output, outcome_columns())
    now = datetime.now(timezone.utc)
    preview: list[str] = []
    if opts.by_query:
        ids = []
        for session in _select_by_query(opts, env, now):
            ids.append(session["id"])
            if len(preview) < PREVIEW:
                preview.append(_describe(session))
    ids = list(dict.fromkeys(ids))  # an id given twice is ended (and reported) once
    preview = preview or ids[:PREVIEW]

    if opts.dry_run:
        writer.write_rows(Outcome(i, WOULD_END).as_row() for i in ids)
        writer.info(f"dry run: would end {len(ids)} session(s); nothing was changed")
        return exitcodes.OK
    if not opts.yes:
        _confirm(env, len(ids), preview)

    counts: dict[str, int] = {}
    started = time.monotonic()

    def rows():
        for outcome in end_sessions(env.client(), ids, concurrency=opts.concurrency):
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
            yield outcome.as_row()

    writer.write_rows(rows())
    failed = sum(n for k, n in counts.items() if k not in DONE)
    summary = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(counts.items())) or "nothing to do"
    writer.info(f"{summary} (of {len(ids)}) in {time.monotonic() - started:.1f}s")
    return exitcodes.PARTIAL if failed else exitcodes.OK


def register_end(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  cobrowse sessions end SESSION_ID --yes\n\n"
                 "  cobrowse sessions end --agent all --state active --inactive-for 30m --yes --ndjson\n\n"
                 "  cobrowse sessions list --filter user_id=42 -q | cobrowse sessions end --stdin --yes\n\n" + EPILOG)
    def end(
        ctx: typer.Context,
        ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Session ids to end.")] = None,
        stdin: Annotated[bool, typer.Option("--stdin", help="Read session ids from stdin, one per line.")] = False,
        filter: FilterOpt = None,
        state: StateOpt = None,
        agent: AgentOpt = None,
        older_than: Annotated[Optional[str], typer.Option(help="Only sessions created longer ago than this (e.g. 2h).")] = None,
        inactive_for: Annotated[Optional[str], typer.Option(help="Only sessions not updated for this long (e.g. 30m).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be ended; change nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        concurrency: Annotated[int, typer.Option(help="Sessions ended in parallel (1-64).")] = 10,
        json: JsonOpt = False, fields: FieldsOpt = None, ndjson: NdjsonOpt = False, csv: CsvOpt = False,
        quiet: QuietOpt = False, columns: ColumnsOpt = None,
    ) -> None:
        """End sessions by id, from stdin, or by query; one outcome line per session, summary on stderr.

        Selecting by query, only open sessions (pending, authorizing, active) are considered unless --state says otherwise. Exit code 5 when any session could not be ended.
        """
        opts = EndOptions(
            ids=ids or [], from_stdin=stdin,
            query=Query(filter or [], state or [], agent),
            older_than=older_than, inactive_for=inactive_for, dry_run=dry_run, yes=yes, concurrency=concurrency,
            output=OutputFlags(json, fields, ndjson, csv, quiet, columns),
        )
        raise typer.Exit(run_end(opts, get_env(ctx)))
