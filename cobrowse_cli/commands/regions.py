"""`cobrowse regions list | closest`: Cobrowse's clouds, and the one the API says is nearest."""

from __future__ import annotations

from typing import Annotated

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._output import OutputFlags, make_writer
from cobrowse_cli.commands._context import Context, get_context

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON output.", rich_help_panel="Output")]


def _columns():
    from cobrowse_cli.output import Column

    return [Column("id", "REGION"), Column("type", "TYPE"), Column("api", "API")]


def run_list(opts: OutputFlags, ctx: Context) -> int:
    from cobrowse_cli.config.keys import REGIONS

    api = ctx.connect().api
    rows = [{"id": k, "type": "cloud", "api": v, "current": v == api} for k, v in REGIONS.items()]
    make_writer(ctx, opts, [*_columns(), _current()]).write_rows(rows)
    return exitcodes.OK


def _current():
    from cobrowse_cli.output import Column

    return Column("current", "IN USE", kind="bool")


def run_closest(opts: OutputFlags, ctx: Context) -> int:
    from cobrowse_cli.config.keys import REGIONS

    answer = ctx.client().closest_region()
    region = answer.get("id")
    row = {"id": region if isinstance(region, str) else None, "type": answer.get("type"),
           "api": REGIONS.get(region) if isinstance(region, str) else None}
    make_writer(ctx, opts, _columns()).write_item(row)
    if row["api"] and not opts.json:
        ctx.stderr.write(f"Use it with --region {region}, COBROWSE_REGION={region} or "
                         f"`cobrowse config set region {region}`.\n")
    return exitcodes.OK


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Cobrowse cloud regions (us, eu): which exist, which is closest.", no_args_is_help=True,
                      epilog=epilog("cobrowse regions closest", "cobrowse --region eu sessions list"))
    root.add_typer(app, name="regions")

    @app.command("list", epilog=epilog("cobrowse regions list", "COBROWSE_REGION=eu cobrowse regions list --json"))
    def list_(ctx: typer.Context, json: JsonFlag = False) -> None:
        """The known regions and their API URLs; IN USE marks the one this profile talks to."""
        raise typer.Exit(run_list(OutputFlags(json=json), get_context(ctx)))

    @app.command(epilog=epilog("cobrowse regions closest", "cobrowse regions closest --json"))
    def closest(ctx: typer.Context, json: JsonFlag = False) -> None:
        """Ask the API which region is closest to this machine."""
        raise typer.Exit(run_closest(OutputFlags(json=json), get_context(ctx)))
