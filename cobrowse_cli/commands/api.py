"""`cobrowse api METHOD PATH`: any endpoint with the profile's auth, retries and redaction (like `gh api`).

Everything about HTTP (headers, retries, error mapping, the debug log) comes from Client.request;
this module only turns flags into a query or a body and writes the JSON that comes back.
"""

from __future__ import annotations

import json as jsonlib
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Iterable, Optional
from urllib.parse import parse_qsl, urlsplit

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._context import Context, get_context
from cobrowse_cli.exitcodes import UsageError

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
QUERY_METHODS = ("GET", "HEAD")  # fields go to the query string; for the rest, to the JSON body
MAX_PAGE_SIZE = 1000  # the API's largest page (see client/paging.py)
PAGED_PATHS = {"/api/1/sessions": "iter_sessions", "/api/1/devices": "iter_devices"}  # path -> Client method
# Only canonical integers become numbers: "012345" (a session code) or "1.10" must stay strings.
_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_KEY = re.compile(r"^([^\[\]=]+)((?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")


@dataclass
class ApiOptions:
    method: str
    path: str
    fields: list[str] = field(default_factory=list)  # -F: typed values, @file
    raw_fields: list[str] = field(default_factory=list)  # -f: strings as given
    input: str | None = None  # a file name, or "-" for stdin
    paginate: bool = False
    ndjson: bool = False
    include: bool = False


# ---- flags -> request -------------------------------------------------------------------------


def normalize_method(method: str) -> str:
    upper = (method or "").strip().upper()
    if upper not in METHODS:
        raise UsageError(f"invalid method {method!r}: expected one of {', '.join(METHODS)}")
    return upper


def normalize_path(path: str) -> str:
    """`sessions` and `api/1/sessions` both mean `/api/1/sessions`; a full URL is left to the client,
    which refuses any origin but the configured API."""
    path = (path or "").strip()
    if not path:
        raise UsageError("a PATH is required, e.g. /api/1/users/me")
    if "://" in path or path.startswith("/"):
        return path
    if path.startswith("api/"):
        return "/" + path
    return "/api/1/" + path


def typed_value(text: str, ctx: Context) -> Any:
    """gh's --field typing: true/false/null, integers, and @file (@- for stdin) read as text."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _INTEGER.match(text):
        return int(text)
    if text.startswith("@"):
        return _read_text(text[1:], ctx, what="--field value")
    return text


def parse_fields(
    fields: Iterable[str], raw_fields: Iterable[str], ctx: Context, *, typed: bool, into: dict | None = None
) -> dict:
    """`-f name=x -F count=3 -F 'state[]=active' -F 'custom_data[plan]=pro'` -> a nested dict.

    Raw fields are applied first, then typed ones (gh's order). `typed=False` (a query string)
    keeps every value as text: the wire form is the same, and `null` must not silently vanish.
    `into` extends an existing dict (e.g. the query already in PATH).
    """
    out: dict = {} if into is None else into
    for raw in raw_fields:
        key, value = _split_field(raw, "--raw-field")
        assign(out, key, value)
    for raw in fields:
        key, value = _split_field(raw, "--field")
        if typed:
            assign(out, key, typed_value(value, ctx))
        else:
            assign(out, key, _read_text(value[1:], ctx, what="--field value") if value.startswith("@") else value)
    return out


def _split_field(raw: str, option: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"invalid {option} {raw!r}: expected KEY=VALUE, e.g. {option} limit=10")
    return key.strip(), value


def assign(target: dict, key: str, value: Any) -> None:
    """Set `name`, `name[]` (append to a list) or `name[sub][sub2]` (nested objects) in target."""
    match = _KEY.match(key)
    if not match:
        raise UsageError(f"invalid field name {key!r}: use name, name[] or name[key]")
    parts = [match.group(1)] + _SUBKEY.findall(match.group(2))
    append = parts[-1] == ""
    if append:
        parts.pop()
    if "" in parts:
        raise UsageError(f"invalid field name {key!r}: only the last part may be []")
    container = target
    for part in parts[:-1]:
        child = container.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"field {key!r} conflicts with an earlier field {part!r}")
        container = child
    last = parts[-1]
    if append:
        items = container.setdefault(last, [])
        if not isinstance(items, list):
            raise UsageError(f"field {key!r} conflicts with an earlier field {last!r}")
        items.append(value)
    else:
        if isinstance(container.get(last), (dict, list)):
            raise UsageError(f"field {key!r} conflicts with an earlier field {last!r}")
        container[last] = value


def read_input(source: str, ctx: Context) -> Any:
    text = _read_text(source, ctx, what="--input")
    if not text.strip():
        return None
    try:
        return jsonlib.loads(text)
    except ValueError as e:
        name = "stdin" if source == "-" else source
        raise UsageError(f"--input {name} is not JSON: {e}") from None


def _read_text(source: str, ctx: Context, *, what: str) -> str:
    if source == "-":
        return ctx.stdin.read()
    try:
        with open(source, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read {what} file {source!r}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} file {source!r} is not UTF-8 text") from None


# ---- run ----------------------------------------------------------------------------------------


def run(opts: ApiOptions, ctx: Context) -> int:
    method = normalize_method(opts.method)
    path = normalize_path(opts.path)
    if opts.paginate:
        return _run_paginated(method, path, opts, ctx)
    if opts.input is not None:
        body = read_input(opts.input, ctx)
        query = parse_fields(opts.fields, opts.raw_fields, ctx, typed=False)
    elif method in QUERY_METHODS:
        body, query = None, parse_fields(opts.fields, opts.raw_fields, ctx, typed=False)
    else:
        body, query = parse_fields(opts.fields, opts.raw_fields, ctx, typed=True) or None, None
    client = ctx.client()
    responses = _capture_responses(client) if opts.include else []
    try:
        data = client.request(method, path, query=query or None, json=body)
    except Exception:
        if responses:  # like gh: the status and headers of a failed call are still shown
            _write_head(responses[-1], ctx)
        raise
    if responses:
        _write_head(responses[-1], ctx)
    _write_result(data, ctx, ndjson=opts.ndjson)
    return exitcodes.OK


def _run_paginated(method: str, path: str, opts: ApiOptions, ctx: Context) -> int:
    if method != "GET":
        raise UsageError("--paginate works with GET only")
    if opts.include:
        raise UsageError("--include cannot be combined with --paginate")
    if opts.input is not None:
        raise UsageError("--input cannot be combined with --paginate")
    parts = urlsplit(path)
    query: dict = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        assign(query, key, value)
    parse_fields(opts.fields, opts.raw_fields, ctx, typed=False, into=query)
    page_size = _page_size(query.pop("limit", None))
    walker = PAGED_PATHS.get(parts.path.rstrip("/"))
    if walker is None:
        raise UsageError(f"--paginate works for {' and '.join(PAGED_PATHS)} only, not {parts.path}")
    items = getattr(ctx.client(), walker)(query, page_size=page_size)
    if opts.ndjson:
        _write_ndjson(items, ctx)
    else:
        _write_array(items, ctx, pretty=_isatty(ctx.stdout))
    return exitcodes.OK


def _page_size(value: Any) -> int:
    """With --paginate, `limit` is the page size (every page is still fetched)."""
    if value is None:
        return MAX_PAGE_SIZE
    text = str(value)
    if not _INTEGER.match(text) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise UsageError(f"invalid limit {text!r} with --paginate: the page size must be 1-{MAX_PAGE_SIZE}")
    return int(text)


# ---- output -------------------------------------------------------------------------------------


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _dumps(value: Any, pretty: bool) -> str:
    from cobrowse_cli.output.machine import dumps

    return dumps(value, indent=2 if pretty else None)


def _write_result(data: Any, ctx: Context, *, ndjson: bool) -> None:
    if data is None:  # an empty body (e.g. 204): nothing to print
        return
    if ndjson:
        _write_ndjson(data if isinstance(data, list) else [data], ctx)
        return
    ctx.stdout.write(_dumps(data, _isatty(ctx.stdout)) + "\n")
    ctx.stdout.flush()


def _write_ndjson(items: Iterable[Any], ctx: Context) -> None:
    from cobrowse_cli.output.machine import write_ndjson

    write_ndjson(items, ctx.stdout, None)


def _write_array(items: Iterable[Any], ctx: Context, *, pretty: bool) -> None:
    """One JSON array, one item per line, streamed by the output layer (left open if paging fails midway,
    so a truncated result never parses as a complete one)."""
    from cobrowse_cli.output.machine import write_json_array

    write_json_array(items, ctx.stdout, None, pretty=pretty)


def _capture_responses(client: Any) -> list:
    """Collect the HTTP responses of this call, for --include."""
    seen: list = []
    client.on_response(seen.append)
    return seen


def _write_head(response: Any, ctx: Context) -> None:
    lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    from cobrowse_cli.output.safety import terminal_safe  # header values are the server's: no raw controls

    ctx.stdout.write("\n".join(terminal_safe(line) for line in lines) + "\n\n")
    ctx.stdout.flush()


# ---- registration -------------------------------------------------------------------------------

EPILOG = epilog(
    "cobrowse api GET /api/1/users/me",
    "cobrowse api GET sessions -F 'state[]=active' -F limit=5",
    "cobrowse api PUT sessions/SESSION_ID -F 'custom_data\\[ticket]=T-1'",
    "cobrowse api GET sessions --paginate --ndjson -F agent=all | jq -r .id",
    "echo '{\"custom_data\": {\"user_id\": \"42\"}}' | cobrowse api POST sessions --input -",
)


def register(root: typer.Typer) -> None:
    @root.command("api", epilog=EPILOG)
    def api(
        ctx: typer.Context,
        method: Annotated[str, typer.Argument(metavar="METHOD", help="GET, POST, PUT, PATCH, DELETE or HEAD.")],
        path: Annotated[str, typer.Argument(
            metavar="PATH", help="/api/1/... ('sessions' is short for /api/1/sessions); may carry ?query.")],
        field_: Annotated[Optional[list[str]], typer.Option(
            "--field", "-F", metavar="KEY=VALUE",
            help="Typed parameter: true, false, null and integers become JSON; @file (@- stdin) reads a file. "
                 "name\\[]=v appends, name\\[key]=v nests. Query string for GET, JSON body otherwise.")] = None,
        raw_field: Annotated[Optional[list[str]], typer.Option(
            "--raw-field", "-f", metavar="KEY=VALUE", help="String parameter, sent as given.")] = None,
        input_: Annotated[Optional[str], typer.Option(
            "--input", metavar="FILE", help="JSON request body from FILE ('-' for stdin); fields then go to the query.")] = None,
        paginate: Annotated[bool, typer.Option(
            "--paginate", help="Fetch every page (GET sessions or devices); `limit` sets the page size.")] = False,
        ndjson: Annotated[bool, typer.Option("--ndjson", help="One JSON value per line (a list's items).")] = False,
        include: Annotated[bool, typer.Option("--include", "-i", help="Print the HTTP status and headers first.")] = False,
    ) -> None:
        """Call any API endpoint with your profile's auth, retries and redaction; print the JSON."""
        opts = ApiOptions(method, path, field_ or [], raw_field or [], input_, paginate, ndjson, include)
        raise typer.Exit(run(opts, get_context(ctx)))
