"""The download fast path: with no proxy in the way, bodies are read by http.client into one reused
buffer per thread and written straight to the file descriptor, over kept-alive connections; with a
proxy or an injected transport, httpx (which still decodes an encoded body)."""

from __future__ import annotations

import gzip

import httpx

from cobrowse_cli.client.media import BUFFER_BYTES, MediaFetcher


class _Chunks(httpx.SyncByteStream):  # a body not read up front, as from a socket
    def __init__(self, *chunks: bytes):
        self.chunks = chunks

    def __iter__(self):
        yield from self.chunks


def test_streamed_bodies_land_whole_in_a_real_file_raw_or_decoded(tmp_path):
    payload = bytes(range(256)) * 5000
    bodies = {"/raw": ({}, _Chunks(payload[:1000], payload[1000:])),
              "/gz": ({"content-encoding": "gzip"}, _Chunks(gzip.compress(payload)))}

    def handler(request):
        headers, stream = bodies[request.url.path]
        return httpx.Response(200, headers={"content-type": "video/mp4", **headers}, stream=stream)

    fetcher = MediaFetcher("https://api.example", transport=httpx.MockTransport(handler))
    for name in bodies:
        target = tmp_path / name.strip("/")
        seen: list[int] = []
        with open(target, "wb") as out:
            out.write(b"")  # anything buffered before the copy is flushed first
            assert fetcher.download(name, out, seen.append) == (len(payload), "video/mp4")
        assert target.read_bytes() == payload and sum(seen) == len(payload)


def test_direct_reads_are_byte_exact_reuse_one_connection_and_never_build_httpx(sandbox, tmp_path, monkeypatch):
    from cobrowse_cli.sandbox.media import video_block, video_bytes_at

    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    admin = sandbox.admin_token()
    sids = [s["id"] for s in sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000", token=admin).body
            if s["recorded"]][:2]
    size = 3 * BUFFER_BYTES + 7  # three full buffers and a tail
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": size})
    fetcher = MediaFetcher(sandbox.url)
    try:
        for sid in sids:
            url = sandbox.api("GET", f"/api/1/sessions/{sid}/recording", token=admin).body["video"]
            seen: list[int] = []
            with open(tmp_path / sid, "wb") as out:
                assert fetcher.download(url, out, seen.append) == (size, "video/mp4")
            assert (tmp_path / sid).read_bytes() == video_bytes_at(sid, 0, size, video_block(sid))
            assert sum(seen) == size and max(seen) <= BUFFER_BYTES  # as the socket gave it, never more than one buffer
        assert fetcher._client is None  # httpx was never needed
        assert len(fetcher._opened) == 1  # the second file came over the first file's connection
    finally:
        fetcher.close()
    media = sandbox.control("GET", "/_sandbox/media")
    assert media["bearer_seen"] == 0 and media["counts"]["served_video"] == 2
