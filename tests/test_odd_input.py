"""Odd traffic through a real socket, both flavours: recorded faithfully, or refused clearly.

Multipart uploads, empty bodies, HEAD, 204 and 304 record and replay. A body past
`MAX_RECORDED_BODY` (a 100 MB download) and a protocol upgrade (WebSocket) are refused
with a `CassetteError`, and nothing is written.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptecho import Cassette, CassetteError
from promptecho._keeper import MAX_RECORDED_BODY
from promptecho._store import journal_path
from promptecho.testing import FakeUpstream, Reply, Seen

from .conftest import Flavour

MB = 1024 * 1024
DOWNLOAD = 100 * MB


def _odd(seen: Seen) -> Reply:
    match seen.path.partition("?")[0]:
        case "/upload":
            return Reply(
                200, headers=[("content-type", "text/plain")], chunks=[b"%d" % len(seen.body)]
            )
        case "/empty":
            return Reply(
                200, headers=[("content-type", "text/plain")], chunks=[b"got %d" % len(seen.body)]
            )
        case "/no-content":
            return Reply(204, headers=[("x-id", "1")])
        case "/not-modified":
            return Reply(304, headers=[("etag", '"v1"')])
        case "/utf8-header":  # the server writes header values as Latin-1: these are UTF-8 bytes
            return Reply(200, headers=[("x-name", "café".encode().decode("latin-1"))], chunks=[b"ok"])
        case "/latin1-header":
            return Reply(200, headers=[("x-name", "café")], chunks=[b"ok"])
        case "/download":
            block = bytes(range(256)) * (MB // 256)
            return Reply(200, headers=[("content-type", "application/octet-stream")],
                         chunks=[block] * (DOWNLOAD // MB))  # fmt: skip
        case _:
            return Reply(
                200, headers=[("content-type", "text/plain"), ("x-len", "5")], chunks=[b"hello"]
            )


@pytest.fixture
def odd() -> Iterator[FakeUpstream]:
    with FakeUpstream(_odd) as server:
        yield server


def _record_then_replay(
    flavour: Flavour, path: Path, server: FakeUpstream, send: object
) -> tuple[object, object]:
    with flavour.client(path, base_url=server.url) as client:
        live = send(client)  # type: ignore[operator]
    server.stop()
    with flavour.client(path, base_url=server.url, mode="none") as client:
        again = send(client)  # type: ignore[operator]
    return live, again


def test_a_multipart_upload_records_and_replays_despite_its_random_boundary(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream
) -> None:
    def send(client: object) -> tuple[int, bytes]:
        files = {"file": ("notes.txt", b"\x00binary\xff" * 100, "application/octet-stream")}
        r = client.post("/upload", files=files, data={"purpose": "fine-tune"})  # type: ignore[attr-defined]
        return r.status_code, r.content

    live, again = _record_then_replay(flavour, cassette_path, odd, send)
    assert live == again
    assert Cassette.load(cassette_path).interactions[0].request.api == "bytes"


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_an_empty_body_records_and_replays(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream, method: str
) -> None:
    def send(client: object) -> tuple[int, bytes]:
        r = client.request(method, "/empty", content=b"")  # type: ignore[attr-defined]
        return r.status_code, r.content

    live, again = _record_then_replay(flavour, cassette_path, odd, send)
    assert live == again == (200, b"got 0")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("HEAD", "/", 200), ("GET", "/no-content", 204), ("GET", "/not-modified", 304)],
    ids=["head", "204", "304"],
)
def test_bodiless_responses_record_and_replay_with_their_headers(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream, method: str, path: str, status: int
) -> None:
    def send(client: object) -> tuple[int, bytes, dict[str, str]]:
        r = client.request(method, path)  # type: ignore[attr-defined]
        headers = {k: v for k, v in r.headers.items() if k in ("x-len", "x-id", "etag")}
        return r.status_code, r.content, headers

    live, again = _record_then_replay(flavour, cassette_path, odd, send)
    assert live == again
    assert live[0] == status  # type: ignore[index]
    assert live[1] == b""  # type: ignore[index]
    response = Cassette.load(cassette_path).interactions[0].response
    assert response is not None
    assert response.body.__class__.__name__ == "Empty"


@pytest.mark.parametrize("path", ["/utf8-header", "/latin1-header"])
def test_a_header_value_that_is_not_ascii_replays_as_the_same_text(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream, path: str
) -> None:
    def send(client: object) -> tuple[str, bytes, int]:
        r = client.get(path)  # type: ignore[attr-defined]
        return r.headers["x-name"], r.content, r.status_code

    live, again = _record_then_replay(flavour, cassette_path, odd, send)
    assert live == again
    assert live[0] == "café"  # type: ignore[index]


def test_a_100_mb_download_is_refused_while_streaming_with_bounded_memory(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream
) -> None:
    received = 0

    def download(client: object) -> None:
        nonlocal received
        with client.stream("GET", "/download") as response:  # type: ignore[attr-defined]
            for chunk in response.iter_raw():
                received += len(chunk)

    tracemalloc.start()
    try:
        with flavour.client(cassette_path, base_url=odd.url) as client:
            with pytest.raises(CassetteError) as err:
                download(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"refused after {received / MB:.1f} MB streamed; peak traced memory {peak / MB:.1f} MB")
    assert f"passed {MAX_RECORDED_BODY} bytes" in str(err.value)
    assert "GET" in str(err.value)
    assert MAX_RECORDED_BODY - MB <= received <= MAX_RECORDED_BODY  # passed through until refused
    assert peak < MAX_RECORDED_BODY + 24 * MB  # the copy, never the whole download
    assert not cassette_path.exists()
    assert not journal_path(cassette_path).exists()


def test_a_websocket_upgrade_is_refused_before_it_reaches_the_server(
    flavour: Flavour, cassette_path: Path, odd: FakeUpstream
) -> None:
    headers = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with flavour.client(cassette_path, base_url=odd.url) as client:
        with pytest.raises(CassetteError, match="'websocket' \\(Upgrade header\\)"):
            client.get("/realtime", headers=headers)
    assert odd.seen == []
    assert not cassette_path.exists()
