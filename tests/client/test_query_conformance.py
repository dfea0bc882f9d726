"""Our query strings and socket URLs against the official SDK's own code (qs and WHATWG URL under node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cobrowse_cli.client.query import build_url, encode_query
from cobrowse_cli.client.socket import socket_url, subprotocols

ROOT = Path(__file__).resolve().parents[2]
QS_CANDIDATES = [ROOT / "tests/conformance/node_modules/qs", Path("/tmp/sdk/node_modules/qs")]
QS = next((p for p in QS_CANDIDATES if (p / "package.json").exists()), None)
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")
needs_qs = pytest.mark.skipif(NODE is None or QS is None, reason="node or the SDK's qs package is missing")

UTC = timezone.utc
# Each case: the Python query, and the same query as JSON for node ({"$date": iso} marks a JS Date).
CASES = [
    ({"state": ["active", "pending"]}, None),
    ({"state": ["active"], "agent": "all", "limit": 1000}, None),
    ({"filter_user_id": 42, "filter_email": "a.b+c@example.com"}, None),
    ({"activated_before": datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)}, {"activated_before": {"$date": "2026-03-04T05:06:07.891Z"}}),
    ({"activated_after": datetime(2026, 3, 4, 7, 6, 7, 5, tzinfo=timezone(timedelta(hours=2)))}, {"activated_after": {"$date": "2026-03-04T05:06:07.000Z"}}),
    ({"recorded": True, "virtual": False}, None),
    ({"ratio": 1.5, "whole": 3.0, "neg": -7}, None),
    ({"filter_name": "Zoë & Søren / 50% (ok)? *!'~ #x=1 😀"}, None),
    ({"filter_sp ace[x]": "v"}, None),
    ({"nested": {"a": 1, "b": ["x", "y"]}}, None),
    ({"empty": [], "skip": None, "keep": ""}, {"empty": [], "keep": ""}),
    ({}, None),
]


def _node_qs(queries: list) -> list[str]:
    script = f"""
const qs = require({json.dumps(str(QS))});
const revive = (k, v) => (v && typeof v === 'object' && '$date' in v) ? new Date(v.$date) : v;
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'), revive);
process.stdout.write(JSON.stringify(input.map(q => qs.stringify(q, {{ arrayFormat: 'brackets' }}))));
"""
    out = subprocess.run([NODE, "-e", script], input=json.dumps(queries), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@needs_qs
def test_query_strings_match_the_sdks_qs_byte_for_byte():
    js_inputs = [js if js is not None else py for py, js in CASES]
    expected = _node_qs(js_inputs)
    ours = [encode_query(py) for py, _ in CASES]
    assert ours == expected
    assert ours[0] == "state%5B%5D=active&state%5B%5D=pending"


@needs_node
def test_urls_match_the_sdks_url_building():
    # RESTAPI.#url: new URL(path, base); search = qs; strip one trailing slash (a root "/" stays).
    cases = [
        ("https://cobrowse.io", "/api/1/sessions/", "state%5B%5D=active"),
        ("https://eu.cobrowse.io/", "/api/1/sessions/abc", ""),
        ("https://example.com/cobrowse/", "/api/1/users/me", ""),
        ("http://127.0.0.1:8123", "/api/1/devices/", "limit=5"),
    ]
    script = """
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(cases.map(([base, path, search]) => {
  const u = new URL(path, base); u.search = search;
  if (/\\/$/.test(u.pathname)) u.pathname = u.pathname.slice(0, -1);
  return u.toString();
})));
"""
    out = subprocess.run([NODE, "-e", script], input=json.dumps(cases), capture_output=True, text=True, check=True)
    expected = json.loads(out.stdout)
    queries = [{"state": ["active"]}, None, None, {"limit": 5}]
    assert [build_url(b, p, q) for (b, p, _), q in zip(cases, queries)] == expected


@needs_node
def test_socket_urls_match_the_sdks_socket_manager():
    headers = {"X-CobrowsePlatform": "cobrowse-cli", "X-CobrowseSDKVersion": "0.1.0"}
    cases = [
        ("https://cobrowse.io", "/"),
        ("https://cobrowse.io", ""),
        ("https://cobrowse.io", "https://sockets.cobrowse.io"),
        ("https://example.com/cobrowse/", "https://example.com/cobrowse/"),
        ("http://127.0.0.1:8123", "/realtime/"),
        ("http://127.0.0.1:8123", "ws-base/x"),
    ]
    script = """
const [cases, headers] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const query = Object.keys(headers).map(key => `${key}=${headers[key]}`).join('&');
process.stdout.write(JSON.stringify(cases.map(([api, url]) => {
  const resolved = new URL(url, api).toString();
  const wsUrl = resolved.replace('https://', 'wss://').replace('http://', 'ws://');
  return new URL(`sockets/1/ws?${query}`, wsUrl).toString();
})));
"""
    out = subprocess.run(
        [NODE, "-e", script], input=json.dumps([cases, headers]), capture_output=True, text=True, check=True
    )
    assert [socket_url(url, api, headers) for api, url in cases] == json.loads(out.stdout)


@needs_node
def test_subprotocol_is_base64_without_padding_like_the_sdk():
    token = "tok.en-with/odd+chars?"  # base64 of this needs padding
    script = "process.stdout.write(Buffer.from(process.argv[1]).toString('base64').replaceAll('=', ''))"
    out = subprocess.run([NODE, "-e", script, token], capture_output=True, text=True, check=True)
    assert subprotocols(token) == ["cbor", f"cbio.http.headers.authorization.bearer.{out.stdout}"]
