"""`GET /_sandbox/` (the URL the serve banner advertises) lists every control endpoint, and each one listed exists."""

from __future__ import annotations

import re


def test_index_lists_every_control_route(sandbox):
    from cobrowse_cli.sandbox.control import ROUTES

    index = sandbox.control("GET", "/_sandbox/")
    assert sandbox.control("GET", "/_sandbox") == index
    rows = index["endpoints"]
    assert all(set(r) == {"method", "path", "description"} and r["description"] for r in rows)
    listed = {(m, r["path"].rstrip("/")) for r in rows for m in r["method"].split(",")}
    served = {(m, route.path) for route in ROUTES for m in route.methods if m != "HEAD"}
    assert served <= listed
    assert all(path.startswith("/_sandbox") for _, path in listed)
    assert {"POST /_sandbox/reset", "POST /_sandbox/tokens/expire", "GET /_sandbox/stats"} <= {
        f"{r['method'].split(',')[-1]} {r['path']}" for r in rows
    }
    assert "page-cap=N" in index["variants"]


def test_control_routes_added_elsewhere_are_listed_from_their_docstrings():
    """Other modules (recordings, media) add /_sandbox routes to the app: the index must not miss them."""
    import asyncio
    import json

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from cobrowse_cli.sandbox.control import ROUTES, control, index
    from cobrowse_cli.sandbox.web import json_response

    @control
    async def extra(request):
        """Something another module added."""
        return json_response({})

    app = Starlette(routes=ROUTES + [Route("/_sandbox/extra", extra, methods=["GET"])])
    scope = {"type": "http", "app": app, "method": "GET", "path": "/_sandbox", "headers": [], "client": ("127.0.0.1", 1)}
    rows = json.loads(asyncio.run(index(Request(scope))).body)["endpoints"]
    assert {"method": "GET", "path": "/_sandbox/extra", "description": "Something another module added."} in rows
    assert len([r for r in rows if r["path"] == "/_sandbox/reset"]) == 1


def test_every_listed_get_endpoint_answers(sandbox):
    for row in sandbox.control("GET", "/_sandbox/")["endpoints"]:
        if "GET" in row["method"] and "{" not in row["path"]:
            assert sandbox.api("GET", row["path"], token=None).status == 200, row


def test_the_banner_advertises_the_index(sandbox):
    advertised = next(line for line in sandbox.output if "Control surface:" in line)
    url = re.search(r"(http://\S+/_sandbox/)", advertised).group(1)
    assert url == sandbox.url + "/_sandbox/"
    assert sandbox.api("GET", url[len(sandbox.url):], token=None).body["endpoints"]
