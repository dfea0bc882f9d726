"""Transition shim: kept only so branches written before the split still import. New code imports from
_options (option types, epilog), _output (OutputFlags, make_writer, write_json, scope_hint) or _context
(get_context; get_env is its old name). Delete this file once no module imports it."""

from cobrowse_cli.commands._context import get_context as get_env
from cobrowse_cli.commands._options import (
    OUTPUT_PANEL, ColumnsOpt, CsvOpt, FieldsOpt, FilterOpt, JsonOpt, NdjsonOpt, PlainJsonOpt, QuietOpt, epilog,
)
from cobrowse_cli.commands._output import SMALL_RESULT, OutputFlags, make_writer, scope_hint, write_json

__all__ = [
    "OUTPUT_PANEL", "ColumnsOpt", "CsvOpt", "FieldsOpt", "FilterOpt", "JsonOpt", "NdjsonOpt", "PlainJsonOpt",
    "QuietOpt", "epilog", "get_env", "SMALL_RESULT", "OutputFlags", "make_writer", "scope_hint", "write_json",
]
