"""One output layer for every command: table / tsv / json / ndjson / csv / ids.

Light on purpose (no rich, no json-heavy work at import): rich loads only to draw a table or progress.
"""

from __future__ import annotations

from cobrowse_cli.output.options import Column, OutputOptions
from cobrowse_cli.output.writer import Writer

__all__ = ["Column", "OutputOptions", "Writer"]
