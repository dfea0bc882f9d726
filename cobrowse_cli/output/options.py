"""What the user asked for (format, fields, columns, colour) and how each column renders.

No heavy imports: commands build these at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from cobrowse_cli.exitcodes import UsageError

FORMATS = ("table", "tsv", "json", "ndjson", "csv", "ids")
MACHINE_FORMATS = frozenset({"tsv", "json", "ndjson", "csv", "ids"})
KINDS = ("text", "time", "state", "json", "bool", "number")


@dataclass
class Column:
    """One table/TSV column: a dotted path into the row and how to show it on a terminal."""

    key: str  # "id", "agent.name", "custom_data.user_id", "custom_data"
    header: str | None = None  # default: see default_header()
    kind: str = "text"  # one of KINDS
    styles: dict[str, str] | None = None  # "state" kind: value -> rich style, over the shared palette

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    @property
    def title(self) -> str:
        return self.header if self.header is not None else default_header(self.key)


def default_header(key: str) -> str:
    """"agent.name" -> "AGENT NAME", "custom_data.user_id" -> "USER ID" (the prefix is noise in a header)."""
    if key.startswith("custom_data.") and len(key) > len("custom_data."):
        key = key[len("custom_data.") :]
    return key.replace(".", " ").replace("_", " ").upper()


@dataclass
class OutputOptions:
    format: str | None = None  # None = auto: "table" on a TTY, "tsv" otherwise
    fields: list[str] | None = None  # --fields for json/ndjson/csv; dotted paths; missing -> null
    columns: list[str] | None = None  # --columns for table/tsv/csv: Column keys, headers or dotted paths
    no_color: bool = False
    csv_raw: bool = False  # --csv-raw: exact bytes in CSV (no control escaping, no formula neutralising)
    wide: bool = False  # table: every column at full width, nothing shortened
    jq: str | None = None  # a jq program applied to the JSON output (output/jq.py)

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"unknown output format {self.format!r}; expected one of {', '.join(FORMATS)}")

    @classmethod
    def from_flags(
        cls,
        *,
        json: bool,
        ndjson: bool,
        csv: bool,
        quiet: bool,
        fields: str | None,
        columns: str | None,
        no_color: bool,
        csv_raw: bool = False,
        wide: bool = False,
        jq: str | None = None,
    ) -> "OutputOptions":
        chosen = [name for name, on in (("json", json), ("ndjson", ndjson), ("csv", csv), ("ids", quiet)) if on]
        if len(chosen) > 1:
            flags = {"json": "--json", "ndjson": "--ndjson", "csv": "--csv", "ids": "--quiet"}
            raise UsageError(f"choose one output format, not {' and '.join(flags[c] for c in chosen)}")
        fmt = chosen[0] if chosen else None
        if jq is not None:
            if fmt not in (None, "json", "ndjson"):
                raise UsageError("--jq filters JSON: use it alone, with --json or with --ndjson")
            fmt = fmt or "json"
        field_list = parse_path_list(fields, option="--fields") if fields is not None else None
        column_list = parse_path_list(columns, option="--columns") if columns is not None else None
        if field_list is not None and fmt not in ("json", "ndjson", "csv"):
            raise UsageError("--fields needs --json, --ndjson or --csv (use --columns to pick table columns)")
        if column_list is not None and fmt in ("json", "ndjson", "ids"):
            raise UsageError("--columns applies to the table, TSV and CSV output (use --fields with --json/--ndjson)")
        return cls(format=fmt, fields=field_list, columns=column_list, no_color=no_color, csv_raw=csv_raw,
                   wide=wide, jq=jq)


def parse_path_list(raw: str, *, option: str) -> list[str]:
    """"id, state,custom_data.user_id" -> ["id", "state", "custom_data.user_id"]; duplicates dropped."""
    paths: list[str] = []
    for part in raw.split(","):
        path = part.strip()
        if not path:
            continue
        if any(not segment for segment in path.split(".")):
            raise UsageError(f"invalid {option} entry {path!r}: expected a field name or dotted path like custom_data.user_id")
        if path not in paths:
            paths.append(path)
    if not paths:
        raise UsageError(f"{option} needs at least one field, e.g. {option} id,state")
    return paths
