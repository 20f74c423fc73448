"""Streams, binary bodies and recorded failures, through a real socket, in both flavours.

Every test records from a `FakeUpstream` on 127.0.0.1, stops it, and replays with mode
``none``: what the caller sees on replay is compared with what it saw live.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptecho import Cassette
from promptecho._cassette import Binary, Json, Ndjson, Sse
from promptecho.testing import FakeUpstream, Reply, Seen

from .conftest import Flavour, chat
from .upstream import WIRE, split_body, wire_reply

# (provider, scenario, path) of every streamed wire sample.
STREAMS = [
    ("anthropic", "text-stream", "/v1/messages"),
    ("anthropic", "thinking-stream", "/v1/messages"),
    ("anthropic", "tool-use-stream", "/v1/messages"),
    ("openai-chat", "text-stream", "/v1/chat/completions"),
    ("openai-chat", "tools-stream", "/v1/chat/completions"),
    ("openai-responses", "stream", "/v1/responses"),
    ("openai-responses", "function-call-stream", "/v1/responses"),
    ("gemini", "stream", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    ("cohere", "chat-stream", "/v2/chat"),
    ("cohere", "tools-stream", "/v2/chat"),
    ("mistral", "tools-stream", "/v1/chat/completions"),
    ("groq", "chat-stream", "/openai/v1/chat/completions"),
    ("ollama", "chat-stream", "/api/chat"),
    ("ollama", "tools-stream", "/api/chat"),
]


def serve(reply: Reply | Callable[[Seen], Reply]) -> FakeUpstream:
    return FakeUpstream(reply if callable(reply) else (lambda seen: reply)).start()


def parsed(lines: list[str]) -> list[object]:
    """SSE lines as a client sees them: field names with JSON data decoded."""
    out: list[object] = []
    for line in lines:
        name, _, value = line.partition(": ")
        out.append((name, json.loads(value)) if name == "data" and value.startswith("{") else line)
    return out


def read_stream(
    flavour: Flavour, path: Path, url: str, target: str, body: bytes, **options: object
) -> tuple[int, dict[str, str], list[bytes]]:
    with flavour.client(path, base_url=url, **options) as client:
        request = client.build_request(
            "POST", target, content=body, headers={"content-type": "application/json"}
        )
        response = client.send(request, stream=True)
        try:
            chunks = list(response.iter_bytes())
        finally:
            response.close()
        return response.status_code, dict(response.headers), chunks


@pytest.mark.parametrize(
    ("provider", "scenario", "target"), STREAMS, ids=[f"{p}-{s}" for p, s, _ in STREAMS]
)
def test_every_provider_stream_replays_the_same_events_in_the_same_chunks(
    flavour: Flavour, cassette_path: Path, provider: str, scenario: str, target: str
) -> None:
    upstream = serve(wire_reply(provider, scenario))
    request = (WIRE / provider / f"{scenario}.request.json").read_bytes()
    status, headers, live = read_stream(flavour, cassette_path, upstream.url, target, request)
    upstream.stop()
    _, replay_headers, replayed = read_stream(
        flavour, cassette_path, upstream.url, target, request, mode="none"
    )
    assert status == 200
    assert replay_headers["content-type"] == headers["content-type"]
    # One chunk per event, as the server sent them; the events parse to the same values.
    assert (
        len(replayed)
        == len(live)
        == len(split_body(next((WIRE / provider).glob(f"{scenario}.response.*"))))
    )
    # Every provider byte-identical, Gemini's spacing and Anthropic's padded ping included.
    assert b"".join(replayed) == b"".join(live)
    events = Cassette.load(cassette_path).interactions[0].response.body  # type: ignore[union-attr]
    assert isinstance(events, Ndjson if provider == "ollama" else Sse)
    assert len(events.events) == len(live)


def test_a_recorded_stream_passes_each_event_through_as_it_arrives(
    flavour: Flavour, cassette_path: Path
) -> None:
    events = [f'data: {{"n": {n}}}\n\n'.encode() for n in range(5)]
    upstream = serve(
        Reply(headers=[("content-type", "text/event-stream")], chunks=events, delay=0.2)
    )
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        # The real transport is created at the first request that goes upstream (its TLS
        # context costs ~0.1 s); a first call keeps that out of the measurement.
        client.post("/warm-up", json={}).read()
        start = time.perf_counter()
        with client.stream("POST", "/v1/chat/completions", json=chat("x", stream=True)) as response:
            arrivals = [time.perf_counter() - start for _ in response.iter_bytes()]
    upstream.stop()
    assert len(arrivals) == 5
    # The upstream needs 0.8 s to send all five; the first event reached us long before.
    assert arrivals[0] < 0.2
    assert arrivals[-1] >= 0.8
    delays = [e.delay_ms for e in Cassette.load(cassette_path).interactions[1].response.body.events]  # type: ignore[union-attr]
    assert all(d >= 150 for d in delays[1:])


def test_a_stream_closed_early_is_still_recorded_whole(
    flavour: Flavour, cassette_path: Path
) -> None:
    upstream = serve(wire_reply("openai-chat", "text-stream"))
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        with client.stream("POST", "/v1/chat/completions", json=chat("x", stream=True)) as response:
            first = next(response.iter_lines())
    upstream.stop()
    assert first.startswith("data: {")
    recorded = Cassette.load(cassette_path).interactions[0].response.body  # type: ignore[union-attr]
    assert isinstance(recorded, Sse)
    assert recorded.events[-1].data == "[DONE]"
    assert len(recorded.events) == len(
        split_body(WIRE / "openai-chat" / "text-stream.response.sse")
    )


def test_a_stream_that_breaks_replays_its_events_then_the_same_error(
    flavour: Flavour, cassette_path: Path
) -> None:
    reply = wire_reply("anthropic", "text-stream")
    upstream = serve(Reply(headers=reply.headers, chunks=reply.chunks, abort_after=3))

    def consume(mode: str) -> tuple[list[str], type[BaseException]]:
        lines: list[str] = []
        with flavour.client(cassette_path, base_url=upstream.url, mode=mode) as client:
            with pytest.raises(flavour.http.TransportError) as err:
                with client.stream("POST", "/v1/messages", json=chat("x", stream=True)) as response:
                    lines.extend(response.iter_lines())
        return lines, type(err.value)

    live_lines, live_error = consume("once")
    upstream.stop()
    replay_lines, replay_error = consume("none")
    assert live_error is replay_error
    assert live_error.__name__ == "RemoteProtocolError"
    assert parsed(replay_lines) == parsed(live_lines)
    assert len(live_lines) >= 6  # three events arrived before the cut
    assert Cassette.load(cassette_path).interactions[0].error is not None


def test_a_request_that_never_got_a_response_replays_as_the_same_error(
    flavour: Flavour, cassette_path: Path
) -> None:
    upstream = serve(Reply())
    upstream.stop()  # nothing listens: the live call fails to connect
    with (
        flavour.client(cassette_path, base_url=upstream.url) as client,
        pytest.raises(flavour.http.ConnectError),
    ):
        client.post("/v1/chat/completions", json=chat("x"))
    with (
        flavour.client(cassette_path, base_url=upstream.url, mode="none") as client,
        pytest.raises(flavour.http.ConnectError),
    ):
        client.post("/v1/chat/completions", json=chat("x"))
    assert Cassette.load(cassette_path).interactions[0].error.type == "ConnectError"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("timing", "factor"),
    [("recorded", 1.0), (0.5, 0.5), (None, 0.0)],
    ids=["recorded", "half", "off"],
)
def test_replay_timing_reproduces_or_scales_the_recorded_gaps(
    flavour: Flavour, cassette_path: Path, timing: object, factor: float
) -> None:
    events = [f'data: {{"n": {n}}}\n\n'.encode() for n in range(4)]
    upstream = serve(
        Reply(headers=[("content-type", "text/event-stream")], chunks=events, delay=0.1)
    )
    read_stream(flavour, cassette_path, upstream.url, "/v1/chat/completions", b'{"stream": true}')
    upstream.stop()
    recorded = (
        sum(e.delay_ms for e in Cassette.load(cassette_path).interactions[0].response.body.events)
        / 1000
    )  # type: ignore[union-attr]
    start = time.perf_counter()
    read_stream(
        flavour,
        cassette_path,
        upstream.url,
        "/v1/chat/completions",
        b'{"stream": true}',
        mode="none",
        replay_timing=timing,
    )
    elapsed = time.perf_counter() - start
    assert recorded >= 0.3
    assert elapsed >= recorded * factor * 0.95
    assert elapsed < recorded * factor + 0.25


def test_replay_timing_rejects_nonsense(flavour: Flavour, cassette_path: Path) -> None:
    with pytest.raises(ValueError, match="not a valid replay_timing"):
        flavour.EchoTransport(cassette_path, replay_timing="slow")


def test_binary_audio_round_trips_byte_exact(flavour: Flavour, cassette_path: Path) -> None:
    upstream = serve(wire_reply("openai-audio", "speech"))
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        live = client.post(
            "/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "input": "hi", "voice": "alloy"}
        )
    upstream.stop()
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        again = client.post(
            "/v1/audio/speech", json={"model": "gpt-4o-mini-tts", "input": "hi", "voice": "alloy"}
        )
    assert live.content == (WIRE / "openai-audio" / "speech.response.mp3").read_bytes()
    assert again.content == live.content
    assert again.headers["content-type"] == "audio/mpeg"
    assert isinstance(Cassette.load(cassette_path).interactions[0].response.body, Binary)  # type: ignore[union-attr]


def test_bytes_that_are_not_utf8_are_binary_whatever_the_header_says(
    flavour: Flavour, cassette_path: Path
) -> None:
    payload = bytes(range(256)) * 4
    upstream = serve(Reply(headers=[("content-type", "text/plain")], chunks=[payload]))
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        client.get("/file")
    upstream.stop()
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        assert client.get("/file").content == payload


def test_a_binary_request_body_is_matched_by_its_bytes(
    flavour: Flavour, cassette_path: Path
) -> None:
    upstream = serve(
        lambda seen: Reply(
            headers=[("content-type", "application/json")],
            chunks=[b'{"size": %d}' % len(seen.body)],
        )
    )
    files = {"file": ("a.bin", bytes(range(200)), "application/octet-stream")}
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        live = client.post(
            "/v1/files",
            files=files,
            data={"purpose": "x"},
            headers={"content-type": "multipart/form-data; boundary=b0undary"},
        )
    upstream.stop()
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        again = client.post(
            "/v1/files",
            files=files,
            data={"purpose": "x"},
            headers={"content-type": "multipart/form-data; boundary=b0undary"},
        )
        assert again.json() == live.json()
        with pytest.raises(Exception, match="matches POST"):
            client.post(
                "/v1/files",
                files={"file": ("a.bin", b"other", "application/octet-stream")},
                headers={"content-type": "multipart/form-data; boundary=b0undary"},
            )


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_gzip_encoded_bodies_are_stored_decoded_and_replay(
    flavour: Flavour, cassette_path: Path, streamed: bool
) -> None:
    scenario = "text-stream" if streamed else "text"
    upstream = serve(wire_reply("openai-chat", scenario, gzip=True))
    target = "/v1/chat/completions"
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        live = client.post(target, json=chat("x", stream=streamed))
    upstream.stop()
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        again = client.post(target, json=chat("x", stream=streamed))
    stored = Cassette.load(cassette_path).interactions[0].response
    assert stored is not None
    assert "content-encoding" not in stored.headers
    assert isinstance(stored.body, Sse if streamed else Json)
    assert "content-encoding" not in again.headers
    if streamed:
        assert again.text == live.text
    else:
        assert again.json() == live.json()
    assert live.headers["content-encoding"] == "gzip"  # it really was compressed on the wire


@pytest.mark.parametrize("status", [429, 500, 529])
def test_error_statuses_are_ordinary_recorded_responses(
    flavour: Flavour, cassette_path: Path, status: int
) -> None:
    headers = [("content-type", "application/json"), ("retry-after", "7")]
    upstream = serve(
        Reply(status, headers=headers, chunks=[b'{"error": {"type": "overloaded_error"}}'])
    )
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        client.post("/v1/messages", json=chat("x"))
    upstream.stop()
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        again = client.post("/v1/messages", json=chat("x"))
    assert again.status_code == status
    assert again.headers["retry-after"] == "7"
    assert again.json() == {"error": {"type": "overloaded_error"}}


def test_a_corrupt_gzip_body_is_kept_as_sent_with_its_encoding(
    flavour: Flavour, cassette_path: Path
) -> None:
    garbage = b"\x1f\x8b\x08\x00" + bytes(range(60))  # a gzip header, then nonsense
    headers = [("content-type", "application/json"), ("content-encoding", "gzip")]
    upstream = serve(Reply(headers=headers, chunks=[garbage]))
    with flavour.client(cassette_path, base_url=upstream.url) as client:
        live = client.build_request("GET", "/broken")
        raw_live = b"".join(client.send(live, stream=True).iter_raw())
    upstream.stop()
    stored = Cassette.load(cassette_path).interactions[0].response
    assert stored is not None
    assert isinstance(stored.body, Binary)
    assert stored.headers["content-encoding"] == "gzip"
    with flavour.client(cassette_path, base_url=upstream.url, mode="none") as client:
        again = client.send(client.build_request("GET", "/broken"), stream=True)
        assert b"".join(again.iter_raw()) == raw_live == garbage
        again.close()
