"""Cassette format 2: one stream event per line in a pretty file, and version-1 files still load and replay.

tests/data/v1/ holds cassettes written by the format-1 writer (see its README).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from promptecho import Cassette
from promptecho._cassette import (
    FORMAT_VERSION,
    Binary,
    Event,
    Interaction,
    Json,
    Ndjson,
    RecordedRequest,
    RecordedResponse,
    Sse,
)
from promptecho._content import build_body, render_body
from promptecho._demo import _CALLS
from promptecho._sse import EventParser
from promptecho.testing import FakeUpstream

from .conftest import Flavour, chat
from .upstream import WIRE, wire_reply

V1 = Path(__file__).parent / "data" / "v1"
# What tests/data/v1/wire-samples.json recorded, in order (see tests/data/v1/README.md).
V1_SAMPLES = [
    "openai-chat/text.response.json",
    "openai-chat/text-stream.response.sse",
    "anthropic/text-stream.response.sse",
    "gemini/stream.response.sse",
    "ollama/chat-stream.response.ndjson",
    "openai-audio/speech.response.mp3",
]


def events_of(data: bytes) -> list[tuple[str | None, object]]:
    parser = EventParser()
    return [(e.event, e.data) for e in parser.feed(data) + parser.flush()]


def post(client: Any, url: str, body: object) -> tuple[int, bytes]:
    """POST ``body`` as JSON; the status and the whole body as the client read it."""
    response = client.send(client.build_request("POST", url, json=body), stream=True)
    try:
        return response.status_code, b"".join(response.iter_bytes())
    finally:
        response.close()


def one_interaction(body: Sse | Ndjson | Json | Binary) -> Cassette:
    return Cassette(
        version=FORMAT_VERSION,
        interactions=[
            Interaction(
                request=RecordedRequest(method="POST", url="http://h/v1/chat/completions", api="x"),
                response=RecordedResponse(status=200, body=body),
            )
        ],
    )


# -- version 1 ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo.json", "wire-samples.json"])
def test_a_version_1_file_loads_and_writes_back_as_the_same_cassette(name: str) -> None:
    cassette = Cassette.load(V1 / name)
    assert cassette.version == 1
    assert Cassette.from_bytes(cassette.to_bytes()) == cassette


def test_a_version_1_file_replays_every_answer(flavour: Flavour) -> None:
    """Each recorded answer of the v1 file, replayed through the transport: the same meaning
    as the sample the server sent, and the same bytes where v1 already kept them."""
    path = V1 / "wire-samples.json"
    before = path.read_bytes()
    urls = [i.request.url for i in Cassette.load(path).interactions]
    with flavour.client(path, mode="none") as client:
        for n, (url, sample) in enumerate(zip(urls, V1_SAMPLES, strict=True)):
            body: dict[str, object] = {
                "model": "m",
                "messages": [{"role": "user", "content": f"sample {n}"}],
            }
            if not sample.endswith(".json"):
                body["stream"] = True
            _, replayed = post(client, url, body)
            sent = (WIRE / sample).read_bytes()
            if sample.endswith(".json"):
                assert json.loads(replayed) == json.loads(sent)
            elif sample.endswith(".sse"):
                assert events_of(replayed) == events_of(sent)
            else:  # NDJSON and MP3: v1 already gave these back exactly
                assert replayed == sent
    assert path.read_bytes() == before  # replaying rewrites nothing


def test_the_demo_cassette_of_version_1_replays(flavour: Flavour) -> None:
    path = V1 / "demo.json"
    url = Cassette.load(path).interactions[0].request.url
    with flavour.client(path, mode="none") as client:
        for kind, body in _CALLS:
            status, data = post(client, url, body)
            assert status == 200
            if kind == "stream":
                assert [d for _, d in events_of(data)][-1] == "[DONE]"
            else:
                assert json.loads(data)["object"] == "chat.completion"


def test_a_newer_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"version": %d, "interactions": []}' % (FORMAT_VERSION + 1))
    with pytest.raises(Exception, match=f"format version {FORMAT_VERSION + 1}.*upgrade"):
        Cassette.load(path)


# -- version 2 ------------------------------------------------------------------------------


def test_a_recorded_stream_is_one_line_per_event_in_a_pretty_file(
    flavour: Flavour, cassette_path: Path
) -> None:
    upstream = FakeUpstream(lambda seen: wire_reply("anthropic", "text-stream")).start()
    try:
        with flavour.client(cassette_path, base_url=upstream.url) as client:
            client.post("/v1/messages", json={"model": "m", "messages": []}).read()
            client.post("/v1/chat/completions", json=chat("pretty")).read()
    finally:
        upstream.stop()
    text = cassette_path.read_text()
    cassette = Cassette.load(cassette_path)
    assert cassette.version == FORMAT_VERSION == 2
    assert json.loads(text)["version"] == 2
    body = cassette.interactions[0].response.body  # type: ignore[union-attr]
    assert isinstance(body, Sse)
    lines = text.splitlines()
    start = lines.index('          "events": [')
    event_lines = lines[start + 1 : start + 1 + len(body.events)]
    assert lines[start + 1 + len(body.events)] == "          ],"
    # Each event: one line, 12 spaces in, its compact JSON.
    for line, event in zip(event_lines, body.events, strict=True):
        assert line.startswith(" " * 12 + "{")
        assert msgspec.json.decode(line.strip().rstrip(","), type=Event) == event
    # The ping Anthropic pads is the one event that keeps its text.
    assert [e.event for e in body.events if e.raw is not None] == ["ping"]
    # JSON answers stay pretty: the second answer's value spans lines.
    assert '            "content": [' in text or '          "value": {' in text


def test_a_300_event_stream_takes_at_most_1_3_times_its_bytes_in_the_file() -> None:
    sample = (WIRE / "openai-chat" / "text-stream.response.sse").read_bytes()
    delta = sample.split(b"\n\n")[1] + b"\n\n"
    assert delta.startswith(b'data: {"id"')
    assert b'"content":"' in delta
    events = [delta.replace(b'"content":"', b'"content":"%d ' % n, 1) for n in range(299)] + [
        b"data: [DONE]\n\n"
    ]
    raw = b"".join(events)
    body = build_body(
        "text/event-stream",
        [(0.0005 * (n + 1), e) for n, e in enumerate(events)],
        stream_started=0.0,
    )
    assert isinstance(body, Sse)
    assert len(body.events) == 300
    file = one_interaction(body).to_bytes()
    start = file.index(b'        "body": {')
    end = file.index(b"\n        }", start) + len(b"\n        }")
    assert (end - start) / len(raw) <= 1.3
    # Version 1 laid out every event's fields over many lines.
    v1_layout = msgspec.json.format(msgspec.json.encode(one_interaction(body)), indent=2)
    assert len(file) < len(v1_layout) / 2
    assert b"".join(chunk for _, chunk in render_body(body)) == raw


def test_the_v1_wire_samples_take_less_room_in_format_2() -> None:
    v1 = (V1 / "wire-samples.json").read_bytes()
    v2 = Cassette.load(V1 / "wire-samples.json").to_bytes()
    assert len(v2) < 0.7 * len(v1)
