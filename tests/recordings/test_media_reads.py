"""The download fast path: identity bodies copied raw to the file descriptor, in big reads on the media
client's own connections (httpcore itself untouched); an encoded body still decoded."""

from __future__ import annotations

import gzip

import httpcore
import httpx

from cobrowse_cli.client.media import READ_BYTES, MediaFetcher


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


def test_big_reads_only_on_the_media_clients_connections(sandbox, tmp_path):
    sid = next(s["id"] for s in sandbox.api("GET", "/api/1/sessions?agent=all&state=ended&limit=1000",
                                             token=sandbox.admin_token()).body if s["recorded"])
    sandbox.control("POST", "/_sandbox/media", {"video_bytes": 3 * READ_BYTES + 7})
    url = sandbox.api("GET", f"/api/1/sessions/{sid}/recording", token=sandbox.admin_token()).body["video"]
    fetcher = MediaFetcher(sandbox.url)
    try:
        with open(tmp_path / "v", "wb") as out:
            size, _ = fetcher.download(url, out)
        assert size == 3 * READ_BYTES + 7 == (tmp_path / "v").stat().st_size
        connections = fetcher._http._transport._pool.connections
        assert connections and all(c._connection.READ_NUM_BYTES == READ_BYTES for c in connections)
        assert httpcore._sync.http11.HTTP11Connection.READ_NUM_BYTES == 64 * 1024  # no global patch
    finally:
        fetcher.close()
