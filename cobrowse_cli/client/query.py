"""Query strings and URLs exactly as the official SDK builds them (RESTAPI.#url).

The SDK does `new URL(path, base)`, sets `search` to `qs.stringify(query, {arrayFormat: 'brackets'})`
and strips one trailing slash from the path. qs percent-encodes keys and values per RFC 3986, so the
wire form of `state=["active"]` is `state%5B%5D=active`; datetimes are `toISOString()` (UTC, ms, Z);
None (JS `undefined`) and empty lists are dropped. tests/client compares this
module with the real qs, byte for byte.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from cobrowse_cli.timeutil import iso_ms


def encode_query(query: Mapping[str, Any] | None) -> str:
    """`{"state": ["active", "pending"]}` -> `state%5B%5D=active&state%5B%5D=pending` (no leading '?')."""
    parts: list[str] = []
    for key, value in (query or {}).items():
        _encode(str(key), value, parts)
    return "&".join(parts)


def _encode(key: str, value: Any, parts: list[str]) -> None:
    if value is None:
        return  # Python's None means "not set" (JS undefined), so it is left out like qs does
    if isinstance(value, Mapping):
        for sub, item in value.items():
            _encode(f"{key}[{sub}]", item, parts)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        for item in items:
            _encode(f"{key}[]", item, parts)
    else:
        parts.append(_pct(key) + "=" + _pct(scalar(value)))


def scalar(value: Any) -> str:
    """A scalar as JavaScript's String() / Date.toISOString() would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, date):
        return iso_ms(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))  # JS prints 42.0 as "42"
        return repr(value)
    return str(value)


def _pct(text: str) -> str:
    # qs (RFC 3986 format) keeps only A-Z a-z 0-9 - . _ ~ ; UTF-8 for everything else.
    return quote(text, safe="-._~", encoding="utf-8", errors="replace")


def build_url(base: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """Resolve `path` against `base` like `new URL(path, base)`, set the query, strip a trailing slash.

    Like the SDK, an absolute path (`/api/1/...`) replaces any path in `base`. A query already in
    `path` is kept when no `query` is given (handy for `cobrowse api '/api/1/sessions?limit=1'`),
    and extended otherwise.
    """
    scheme, netloc, upath, existing, _ = urlsplit(urljoin(base, path))
    if upath.endswith("/") and upath != "/":
        upath = upath[:-1]
    encoded = encode_query(query)
    search = "&".join(p for p in (existing, encoded) if p)
    return urlunsplit((scheme, netloc, upath or "/", search, ""))
