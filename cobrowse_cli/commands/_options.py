"""What a command's Typer declaration uses: the shared option types and the one help-epilog builder."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

OUTPUT_PANEL = "Output"

JsonOpt = Annotated[
    bool, typer.Option("--json", help="JSON array (or object). --json id,state selects fields; --jq EXPR filters.", rich_help_panel=OUTPUT_PANEL)
]
PlainJsonOpt = Annotated[bool, typer.Option("--json", help="JSON output (--jq EXPR filters it).", rich_help_panel=OUTPUT_PANEL)]
FieldsOpt = Annotated[
    Optional[str],
    typer.Option("--fields", help="Fields for --json/--ndjson/--csv, comma-separated (dotted paths ok).", rich_help_panel=OUTPUT_PANEL),
]
NdjsonOpt = Annotated[
    bool, typer.Option("--ndjson", help="One JSON object per line, streamed.", rich_help_panel=OUTPUT_PANEL)
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV with a header row.", rich_help_panel=OUTPUT_PANEL)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only ids, one per line.", rich_help_panel=OUTPUT_PANEL)]
ColumnsOpt = Annotated[
    Optional[str], typer.Option("--columns", help="Table columns, comma-separated.", rich_help_panel=OUTPUT_PANEL)
]
FilterOpt = Annotated[
    Optional[list[str]],
    typer.Option("--filter", "-f", metavar="KEY=VALUE", help="Match custom_data KEY (repeatable)."),
]



def epilog(*examples: str, notes: str = "", exit_codes: bool = True) -> str:
    """A command's help epilog: its examples, then `notes` (a paragraph), then the exit codes (the same
    table everywhere; a command with its own exit paragraph in `notes` passes exit_codes=False)."""
    from cobrowse_cli.exitcodes import EPILOG

    lines = "".join(f"  {example}\n\n" for example in examples)
    tail = (notes + "\n\n" if notes and exit_codes else notes) + (EPILOG if exit_codes else "")
    return f"Examples:\n\n{lines}{tail}"
