"""From a command's output flags to the output layer: its Writer, its one JSON document, list hints."""

from __future__ import annotations

from dataclasses import dataclass

from cobrowse_cli.commands._context import Context


@dataclass
class OutputFlags:
    json: bool = False
    fields: str | None = None
    ndjson: bool = False
    csv: bool = False
    quiet: bool = False
    columns: str | None = None


def make_writer(ctx: Context, flags: OutputFlags, columns, *, id_key: str = "id", known: tuple[str, ...] | None = None):
    """The command's Writer; with `known` (the resource's top-level fields) an unknown --json field or
    --columns name is a usage error listing the valid ones."""
    from cobrowse_cli.output import OutputOptions, Writer
    from cobrowse_cli.output.fields import check_paths

    opts = OutputOptions.from_flags(
        json=flags.json,
        ndjson=flags.ndjson,
        csv=flags.csv,
        quiet=flags.quiet,
        fields=flags.fields,
        columns=flags.columns,
        no_color=ctx.globals.no_color,
        csv_raw=ctx.globals.csv_raw,
        wide=ctx.globals.wide,
        jq=ctx.globals.jq,
    )
    if known is not None:
        check_paths(opts.fields or [], known, "--json")
        titles = tuple(name for c in columns for name in (c.key, c.title))
        check_paths(opts.columns or [], known, "--columns", aliases=titles)
    return Writer(opts, stdout=ctx.stdout, stderr=ctx.stderr, columns=columns, id_key=id_key)


SMALL_RESULT = 5


def scope_hint(ctx: Context, shown: int) -> None:
    """After a list that ran with the default `--agent me` scope: say so when little came back, as
    count-active's default is every agent's (on a terminal only; scripts get data, not advice)."""
    if shown < SMALL_RESULT and ctx.stderr.isatty():
        ctx.stderr.write(f"({shown} of your own sessions; --agent all lists every agent's, as count-active counts)\n")
        ctx.stderr.flush()


def write_json(ctx: Context, value, *, indent: int | None = None) -> None:
    """A command's one JSON document (status, config): through --jq when it is given."""
    if ctx.globals.jq is not None:
        from cobrowse_cli.output.jq import compile_program, write_results

        write_results(compile_program(ctx.globals.jq), value, ctx.stdout)
        return
    from cobrowse_cli.output.machine import dumps

    ctx.stdout.write(dumps(value, indent=indent) + "\n")
