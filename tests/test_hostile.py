"""Hostile traffic through a real socket: no unbounded drain, no bomb, no blow-up, no wrong replay.

A stream the caller closes early is drained within `DRAIN_SECONDS` / `DRAIN_BYTES` and
recorded as what arrived plus how it ended (`StreamCut`), with a warning. A compressed
body counts its decoded bytes against `MAX_RECORDED_BODY`. Many tiny events are stored as
text. A body encoded twice (the header sent twice) replays decoded.

Memory figures are the peak resident size (``VmHWM``, which unlike ``ru_maxrss`` does not
inherit the forking process's peak) of a child process that records one response from the
server in this process.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptecho import Cassette
from promptecho._cassette import Ndjson, Text
from promptecho._content import DRAIN_BYTES, MANY_LINES
from promptecho._keeper import MAX_RECORDED_BODY
from promptecho._store import journal_path
from promptecho.testing import FakeUpstream, Reply, Seen

from .conftest import Flavour

MB = 1024 * 1024
BOUNDED = 120.0  # seconds: a bounded wait, never a synchronisation
ENDLESS = 100_000  # chunks: longer than any test runs
TINY = b"".join(b'{"i":%d}\n' % i for i in range(8000))  # 8000 tiny NDJSON events, 86,890 bytes
TINY_REPEATS = 350  # 30.4 MB in all


def _hostile(seen: Seen) -> Reply:
    match seen.path.partition("?")[0]:
        case "/endless-fast":
            return Reply(
                200, headers=[("content-type", "text/plain")], chunks=[b"x" * 65536] * ENDLESS
            )
        case "/endless-slow":
            events = [b'data: {"n": 1}\n\n'] * ENDLESS
            return Reply(
                200, headers=[("content-type", "text/event-stream")], chunks=events, delay=0.05
            )
        case "/bomb":  # 256 MiB of zeros, about 256 KiB gzipped
            return Reply(
                200,
                headers=[("content-type", "application/octet-stream")],
                chunks=[bytes(MB)] * 256,
                gzip=True,
            )
        case "/tiny":
            repeats = int(seen.path.partition("?")[2] or TINY_REPEATS)
            return Reply(
                200, headers=[("content-type", "application/x-ndjson")], chunks=[TINY] * repeats
            )
        case "/twice":
            body = gzip.compress(gzip.compress(json.dumps({"answer": "decoded"}).encode()))
            headers = [
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
                ("content-encoding", "gzip"),
            ]
            return Reply(200, headers=headers, chunks=[body], content_length=True)
    return Reply(404)


@pytest.fixture
def hostile() -> FakeUpstream:
    with FakeUpstream(_hostile) as server:
        yield server


# -- no unbounded drain ----------------------------------------------------------------------


def _close(reading: Iterator[object], response: Any) -> None:
    # The caller stops: its iterator is closed (httpx2 closes the response from there), then
    # the response (httpx).
    reading.close()  # type: ignore[attr-defined]
    response.close()


async def _aclose(reading: AsyncIterator[object], response: Any) -> None:
    await reading.aclose()  # type: ignore[attr-defined]
    await response.aclose()


def test_an_endless_stream_closed_early_is_drained_a_bounded_size_and_recorded_as_cut(
    flavour: Flavour, cassette_path: Path, hostile: FakeUpstream
) -> None:
    with flavour.client(cassette_path, base_url=hostile.url) as client:
        with client.stream("GET", "/endless-fast") as response:
            chunks = response.iter_raw()
            first = next(chunks)
            with pytest.warns(RuntimeWarning, match="stopped reading this stream"):
                _close(chunks, response)  # used to read on until 32 MiB, then raise
    (kept,) = Cassette.load(cassette_path).interactions
    assert kept.error is not None
    assert kept.error.type == "StreamCut"
    assert kept.response is not None
    assert isinstance(kept.response.body, Text)
    assert len(first) <= len(kept.response.body.text) <= len(first) + DRAIN_BYTES + 65536
    hostile.stop()
    with flavour.client(cassette_path, mode="none") as client:
        with client.stream("GET", "http://x/endless-fast") as response:
            assert next(response.iter_raw()).startswith(b"x")


def test_a_slow_endless_stream_closed_early_is_drained_a_bounded_time(
    flavour: Flavour, cassette_path: Path, hostile: FakeUpstream
) -> None:
    outcome: list[object] = []

    def record() -> None:
        with flavour.client(cassette_path, base_url=hostile.url) as client:
            with client.stream("GET", "/endless-slow") as response:
                lines = response.iter_lines()
                outcome.append(next(lines))
                with pytest.warns(RuntimeWarning, match=r"passed the bound \(2 s"):
                    _close(lines, response)  # used to drain for ever
        outcome.append("closed")

    worker = threading.Thread(target=record, daemon=True)
    worker.start()
    worker.join(BOUNDED)
    assert outcome == ['data: {"n": 1}', "closed"]
    (kept,) = Cassette.load(cassette_path).interactions
    assert kept.error is not None
    assert kept.error.type == "StreamCut"


async def test_an_async_stream_closed_early_is_drained_a_bounded_size(
    flavour: Flavour, cassette_path: Path, hostile: FakeUpstream
) -> None:
    async with flavour.async_client(cassette_path, base_url=hostile.url) as client:
        async with client.stream("GET", "/endless-fast") as response:
            chunks = response.aiter_raw()
            await anext(chunks)
            with pytest.warns(RuntimeWarning, match="stopped reading this stream"):
                await _aclose(chunks, response)
    (kept,) = Cassette.load(cassette_path).interactions
    assert kept.error is not None
    assert kept.error.type == "StreamCut"


# -- memory ----------------------------------------------------------------------------------

_RECORD_ONE = textwrap.dedent(
    """
    import json, sys, httpx, promptecho
    cassette, url = sys.argv[1:3]
    outcome = "recorded"
    try:
        with httpx.Client(transport=promptecho.EchoTransport(cassette), timeout=60) as client:
            with client.stream("GET", url) as response:
                for _ in response.iter_raw():  # the caller streams: only promptecho keeps a copy
                    pass
    except promptecho.CassetteError as err:
        outcome = str(err)
    # VmHWM, the peak resident size of this process image: ru_maxrss would carry over the
    # (larger) peak of the test process that forked us, across the exec.
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) * 1024
    print(json.dumps({"outcome": outcome, "peak": peak}))
    """
)


def _record_in_child(cassette: Path, url: str) -> dict[str, object]:
    if sys.platform != "linux":
        pytest.skip("the peak resident size is read from Linux's /proc/self/status")
    done = subprocess.run(
        [sys.executable, "-c", _RECORD_ONE, str(cassette), url],
        capture_output=True,
        text=True,
        timeout=BOUNDED,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_decompression_bomb_is_refused_counting_decoded_bytes_with_bounded_memory(
    tmp_path: Path, hostile: FakeUpstream
) -> None:
    cassette = tmp_path / "bomb.json"
    result = _record_in_child(cassette, f"{hostile.url}/bomb")
    print(f"bomb: peak resident {result['peak'] / MB:.0f} MiB")  # type: ignore[operator]
    assert f"passed {MAX_RECORDED_BODY} bytes decoded" in str(result["outcome"])  # used to record
    assert result["peak"] < 100 * MB  # type: ignore[operator]
    assert not cassette.exists()
    assert not journal_path(cassette).exists()


def test_many_tiny_ndjson_events_are_kept_as_text_with_bounded_memory(
    tmp_path: Path, hostile: FakeUpstream
) -> None:
    baseline = _record_in_child(tmp_path / "small.json", f"{hostile.url}/tiny?1")
    (small,) = Cassette.load(tmp_path / "small.json").interactions
    assert small.response is not None
    assert isinstance(small.response.body, Ndjson)  # 8,000 events: still events
    cassette = tmp_path / "tiny.json"
    result = _record_in_child(cassette, f"{hostile.url}/tiny")
    size = len(TINY) * TINY_REPEATS
    grown = result["peak"] - baseline["peak"]  # type: ignore[operator]
    print(
        f"tiny events: {size / MB:.1f} MiB stream, {grown / MB:.0f} MiB more peak resident, "
        f"{cassette.stat().st_size / MB:.0f} MiB cassette"
    )
    (kept,) = Cassette.load(cassette).interactions
    assert kept.response is not None
    assert isinstance(kept.response.body, Text)  # used to be 3.5 million Events
    assert kept.response.body.text.encode() == TINY * TINY_REPEATS
    assert TINY.count(b"\n") * TINY_REPEATS > MANY_LINES
    assert cassette.stat().st_size < 2 * size
    # Measured: about 3x (the fold holds the compact cassette and its laid-out copy; see
    # README, "Hostile input").
    assert grown < 4 * size


# -- stacked encodings -----------------------------------------------------------------------


def test_a_body_gzipped_twice_with_the_header_sent_twice_replays_decoded(
    flavour: Flavour, cassette_path: Path, hostile: FakeUpstream
) -> None:
    with flavour.client(cassette_path, base_url=hostile.url) as client:
        assert client.get("/twice").json() == {"answer": "decoded"}
    hostile.stop()
    with flavour.client(cassette_path, mode="none") as client:
        replayed = client.get("http://x/twice")
        assert replayed.json() == {"answer": "decoded"}  # used to be gzip bytes
        assert "content-encoding" not in replayed.headers
