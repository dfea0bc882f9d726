"""Pure pieces of the client: redaction, Retry-After, backoff, error lines, JWT expiry reading."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta, timezone

from cobrowse_cli.client import errors
from cobrowse_cli.client.redact import redact
from cobrowse_cli.client.retry import backoff_delay, parse_retry_after, retry_error, retry_status, spread


def _jwt(claims: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJlLWJ5dGVz"


def test_redact_removes_every_form_of_a_token():
    jwt = _jwt({"sub": "agent@example.com"})
    text = (
        f"Authorization: Bearer {jwt}\n> GET https://x/session/1?a=1&token={jwt}&b=2\n"
        f'{{"control_token": "opaque-secret", "notification_token": "{jwt}"}} raw {jwt} '
        "cbio.http.headers.authorization.bearer.b3BhcXVl"
    )
    out = redact(text)
    assert jwt not in out and jwt[10:] not in out and "opaque-secret" not in out and "b3BhcXVl" not in out
    assert "eyJhbGc…[redacted]" in out and "&b=2" in out and "a=1" in out
    assert redact("GET https://eu.cobrowse.io/api/1/sessions?state[]=active") == (
        "GET https://eu.cobrowse.io/api/1/sessions?state[]=active"
    )


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_backoff_is_capped_full_jitter():
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.25, 10.0, rng) for a in range(12) for _ in range(50)]
    assert all(0 <= d <= 10.0 for d in delays)
    assert max(backoff_delay(0, 0.25, 10.0, rng) for _ in range(200)) <= 0.25
    assert max(delays) > 5  # the cap is reached, not just the base


def test_retry_policy_never_resends_a_post():
    assert retry_status("GET", 500) and retry_status("PUT", 503) and retry_status("DELETE", 429)
    assert not retry_status("PUT", 500) and not retry_status("POST", 503) and not retry_status("POST", 429)
    assert retry_error("POST", sent=False) and not retry_error("POST", sent=True) and retry_error("PUT", sent=True)


def test_expired_error_names_the_expiry_time():
    exp = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    token = _jwt({"exp": int(exp.timestamp())})
    e = errors.api_error(401, {"id": "x", "message": "jwt expired"}, method="GET", path="/api/1/sessions", token=token)
    assert isinstance(e, errors.TokenExpiredError) and isinstance(e, errors.AuthenticationError)
    assert str(e) == "401 jwt expired: the token expired at 2026-11-25 10:00 UTC; mint a new one (cobrowse auth token)"
    assert errors.jwt_expiry("not-a-jwt") is None


def test_error_lines_are_one_short_line():
    nf = errors.api_error(404, {"message": "not found"}, method="GET", path="/api/1/sessions/abc123")
    assert str(nf) == "404 not found: session abc123" and nf.status == 404
    fb = errors.api_error(403, {"message": "forbidden"}, method="GET", path="/api/1/sessions", query={"agent": "all"})
    assert str(fb) == "403 forbidden: agent=all needs an administrator token"
    huge = errors.api_error(400, {"message": "bad\n" * 500}, method="GET", path="/api/1/sessions")
    assert "\n" not in str(huge) and len(str(huge)) <= errors.MAX_DETAIL + 10
    assert isinstance(huge, errors.BadRequestError)
    assert errors.describe_body("<html><title>502 Bad Gateway</title>" + "x" * 5000) == "an HTML page ('502 Bad Gateway')"


def test_expiry_in_the_future_is_still_reported():
    exp = datetime.now(timezone.utc) + timedelta(hours=1)
    assert errors.jwt_expiry(_jwt({"exp": exp.timestamp()})).replace(microsecond=0) == exp.replace(microsecond=0)


def test_paging_refuses_a_server_that_ignores_the_cursor():
    import pytest

    from cobrowse_cli.client.errors import PagingError
    from cobrowse_cli.client.paging import SESSIONS, iter_paged

    rows = [{"id": str(i), "activated": f"2026-01-01T00:00:{59 - i:02d}.000Z"} for i in range(4)]
    asked: list[dict] = []

    def same_page_forever(query):
        asked.append(query)
        return rows[:2]

    with pytest.raises(PagingError, match="ignored activated_before"):
        list(iter_paged(same_page_forever, SESSIONS, {"state": ["active"]}, page_size=2))
    assert asked[1]["activated_before"].isoformat() == "2026-01-01T00:00:58.001000+00:00"
    assert asked[1]["state"] == ["active"] and asked[1]["limit"] == 2


def test_a_retry_after_is_spread_but_never_shortened():
    rng = random.Random(3)
    for asked in (0.0, 0.25, 1.0, 7.0):
        waits = [spread(asked, rng) for _ in range(200)]
        assert all(asked <= w <= asked + min(asked, 1.0) for w in waits), asked
        assert asked == 0.0 or max(waits) - min(waits) > min(asked, 1.0) / 2  # really spread
