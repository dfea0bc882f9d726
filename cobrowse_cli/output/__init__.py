"""One output layer for every command: table / tsv / json / ndjson / csv / ids.

Light on purpose (no rich, no json-heavy work at import): rich loads only to draw a table or progress.
The names below load on first use, so app.py's error line can use output.safety without orjson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cobrowse_cli.output.options import Column, OutputOptions
    from cobrowse_cli.output.writer import Writer

__all__ = ["Column", "OutputOptions", "Writer"]


def __getattr__(name: str):
    if name in ("Column", "OutputOptions"):
        from cobrowse_cli.output import options

        return getattr(options, name)
    if name == "Writer":
        from cobrowse_cli.output.writer import Writer

        return Writer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
