"""Server behaviours the sandbox does not serve: relative URLs, redirects, plain http, odd JSON.

httpx.MockTransport stands in for a foreign media host (a CDN); everything the sandbox serves is tested
against it in test_recordings_cli.py.
"""

from __future__ import annotations

import io

import httpx
import pytest

from cobrowse_cli.client.errors import InsecureTransportError
from cobrowse_cli.client.media import MediaError, MediaExpired, MediaFetcher, check_media_url
from cobrowse_cli.client.recordings import Downloader, merge_events


def _fetcher(handler, api="https://api.example") -> tuple[MediaFetcher, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return MediaFetcher(api, transport=httpx.MockTransport(record)), seen


def test_relative_urls_resolve_against_the_api_and_carry_no_credentials():
    fetcher, seen = _fetcher(lambda r: httpx.Response(200, content=b"abc", headers={"content-type": "video/webm"}))
    out = io.BytesIO()
    assert fetcher.download("/media/1?sig=x", out) == (3, "video/webm")
    assert str(seen[0].url) == "https://api.example/media/1?sig=x"
    assert "authorization" not in seen[0].headers and "x-cobrowselicense" not in seen[0].headers


def test_redirect_to_plain_http_elsewhere_is_refused():
    def handler(request):
        if request.url.host == "api.example":
            return httpx.Response(302, headers={"location": "http://cdn.example/v"})
        return httpx.Response(200, content=b"leaked")

    fetcher, seen = _fetcher(handler)
    with pytest.raises(InsecureTransportError):
        fetcher.download("https://api.example/v", io.BytesIO())
    assert [r.url.host for r in seen] == ["api.example"]  # the http hop was never made


def test_redirect_to_https_is_followed():
    def handler(request):
        if request.url.host == "api.example":
            return httpx.Response(307, headers={"location": "https://cdn.example/v"})
        return httpx.Response(200, content=b"video")

    fetcher, _ = _fetcher(handler)
    out = io.BytesIO()
    fetcher.download("https://api.example/v", out)
    assert out.getvalue() == b"video"


@pytest.mark.parametrize("url", ["http://cdn.example/v", "file:///etc/passwd", "ftp://x/y", "javascript:alert(1)"])
def test_unsafe_media_urls_are_refused(url):
    with pytest.raises(InsecureTransportError):
        check_media_url(url)


def test_loopback_http_is_allowed():
    check_media_url("http://127.0.0.1:9/v")
    check_media_url("http://localhost:9/v")


@pytest.mark.parametrize("status, expired, transient", [(410, True, False), (403, True, False), (503, False, True),
                                                        (404, False, False)])
def test_statuses_map_to_expired_or_transient(status, expired, transient):
    fetcher, _ = _fetcher(lambda r: httpx.Response(status, json={"message": "nope\nsecond line"}))
    with pytest.raises(MediaError) as info:
        fetcher.download("https://cdn.example/v", io.BytesIO())
    assert isinstance(info.value, MediaExpired) is expired and info.value.transient is transient
    assert "\n" not in str(info.value) and "sig" not in str(info.value)


def test_merge_events_sorts_by_time_and_survives_hostile_items():
    actions = [{"timestamp": "2026-01-01T00:00:03Z", "a": 1}, "junk", {"timestamp": 5}, {"no": "time"}]
    events = [{"timestamp": "2026-01-01T00:00:01.500Z", "e": 1}, None]
    merged = merge_events(actions, events)
    assert merged[:2] == [{"timestamp": "2026-01-01T00:00:01.500Z", "e": 1}, {"timestamp": "2026-01-01T00:00:03Z", "a": 1}]
    assert merged[2:] == [{"timestamp": 5}, {"no": "time"}]
    assert merge_events([], "not a list") == []


def test_unsafe_ids_never_become_file_names(tmp_path):
    downloader = Downloader(client=None, fetcher=None, directory=tmp_path)
    for bad in ("..", ".hidden", "a/b", "x" * 300):
        assert downloader(bad).outcome == "failed"
    assert list(tmp_path.iterdir()) == []


def test_media_client_is_built_on_first_download_only():
    """A re-run with nothing left to fetch never pays for loading the CA bundle; a closed, unused
    fetcher closes cleanly; the first download builds it once and reuses it."""
    fetcher, seen = _fetcher(lambda r: httpx.Response(200, content=b"abc", headers={"content-type": "video/mp4"}))
    assert fetcher._client is None
    out = io.BytesIO()
    assert fetcher.download("https://cdn.example/v?sig=1", out) == (3, "video/mp4")
    built = fetcher._client
    assert built is not None and fetcher._http is built
    fetcher.download("https://cdn.example/v?sig=2", io.BytesIO())
    assert fetcher._client is built and len(seen) == 2
    fetcher.close()
    unused = MediaFetcher("https://api.example")
    unused.close()
    assert unused._client is None
