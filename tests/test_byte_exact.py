"""Byte-exact replay: what the client reads on replay is what it read live, byte for byte.

Over every response sample in tests/data (the wire reference), through a real socket and
through the cassette file, and over arbitrary spellings of the same JSON values (number
spellings, escapes, spacing, padding) and of SSE blocks (field order, ``data:`` without its
space, line endings, blank lines, a block cut short).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho._cassette import (
    FORMAT_VERSION,
    Cassette,
    Interaction,
    Json,
    RecordedRequest,
    RecordedResponse,
    decode_for_replay,
    index_from_bytes,
)
from promptecho._content import AnyBody, build_body, render_body
from promptecho.testing import FakeUpstream

from .conftest import Flavour
from .upstream import PROVIDERS, WIRE, request_body, response_path, scenarios, wire_reply

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(
    p
    for p in [*DATA.glob("wire/*/*.response.*"), *DATA.glob("streams/*.response.*")]
    if p.is_file()
)
CONTENT_TYPES = {
    ".json": "application/json",
    ".sse": "text/event-stream",
    ".ndjson": "application/x-ndjson",
    ".mp3": "audio/mpeg",
}
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Real paths, so that each body is recorded under its provider's API.
PATHS = {
    "anthropic": "/v1/messages",
    "cohere": "/v2/chat",
    "gemini": "/v1beta/models/gemini-2.5-flash:generateContent",
    "groq": "/openai/v1/chat/completions",
    "mistral": "/v1/chat/completions",
    "ollama": "/api/chat",
    "openai-audio": "/v1/audio/speech",
    "openai-chat": "/v1/chat/completions",
    "openai-embeddings": "/v1/embeddings",
    "openai-responses": "/v1/responses",
}


def replayed_through_the_file(body: AnyBody) -> bytes:
    """The bytes replay sends for ``body`` once written to a cassette file and read back."""
    cassette = Cassette(
        version=FORMAT_VERSION,
        interactions=[
            Interaction(
                request=RecordedRequest(method="POST", url="http://h/", api="json"),
                response=RecordedResponse(status=200, body=body),
            )
        ],
    )
    data = cassette.to_bytes()
    assert Cassette.from_bytes(data) == cassette
    json.loads(data)  # plain JSON too, whatever the layout
    response = decode_for_replay(index_from_bytes(data, "<t>")[0].response, "<t>", 0)
    assert response is not None
    return b"".join(chunk for _, chunk in render_body(response.body))


def cut(data: bytes, cuts: list[int]) -> list[tuple[float, bytes]]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = zip([0, *points], [*points, len(data)], strict=True)
    return [(i / 1000, data[a:b]) for i, (a, b) in enumerate(bounds)]


# -- every sample ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in SAMPLES])
@pytest.mark.parametrize("size", [1, 7, None], ids=["1-byte", "7-byte", "whole"])
def test_every_sample_comes_back_byte_for_byte_through_the_file(
    path: Path, size: int | None
) -> None:
    raw = path.read_bytes()
    step = size or len(raw)
    chunks = [(i / 1000, raw[i : i + step]) for i in range(0, len(raw), step)]
    body = build_body(CONTENT_TYPES[path.suffix], chunks, stream_started=0.0)
    assert b"".join(chunk for _, chunk in render_body(body)) == raw
    assert replayed_through_the_file(body) == raw


def test_only_the_events_that_need_it_keep_their_text() -> None:
    # Anthropic pads its ping (`{"type": "ping"}`); every other event is compact.
    raw = (WIRE / "anthropic" / "text-stream.response.sse").read_bytes()
    body = build_body("text/event-stream", [(0.0, raw)], stream_started=0.0)
    assert [e.event for e in body.events if e.raw is not None] == ["ping"]  # type: ignore[union-attr]
    # Gemini writes `": "` after every key: one stream-wide setting, no event's text.
    raw = (WIRE / "gemini" / "stream.response.sse").read_bytes()
    body = build_body("text/event-stream", [(0.0, raw)], stream_started=0.0)
    assert body.separators == (",", ": ")  # type: ignore[union-attr]
    assert all(e.raw is None for e in body.events)  # type: ignore[union-attr]
    # A pretty JSON answer keeps its indent and final newline, not its text.
    raw = (WIRE / "gemini" / "generate.response.json").read_bytes()
    body = build_body("application/json", [(0.0, raw)], stream_started=0.0)
    assert (body.indent, body.trailing, body.raw) == (2, "\n", None)  # type: ignore[union-attr]


RESPONSES = [(provider, scenario) for provider in PROVIDERS for scenario in scenarios(provider)]


@pytest.mark.parametrize(
    ("provider", "scenario"), RESPONSES, ids=[f"{p}/{s}" for p, s in RESPONSES]
)
def test_every_wire_answer_replays_what_the_client_read_live(
    flavour: Flavour, cassette_path: Path, provider: str, scenario: str
) -> None:
    """Record each real answer from a server on 127.0.0.1, stop it, replay: same bytes."""
    target = PATHS[provider]
    if provider == "gemini" and "stream" in scenario:
        target = target.replace(":generateContent", ":streamGenerateContent?alt=sse")
    body = (
        request_body(provider, scenario)
        if (WIRE / provider / f"{scenario}.request.json").exists()
        else b"{}"
    )
    upstream = FakeUpstream(lambda seen: wire_reply(provider, scenario)).start()

    def read(**options: object) -> bytes:
        with flavour.client(cassette_path, base_url=upstream.url, **options) as client:
            request = client.build_request(
                "POST", target, content=body, headers={"content-type": "application/json"}
            )
            response = client.send(request, stream=True)
            try:
                return b"".join(response.iter_bytes())
            finally:
                response.close()

    try:
        live = read()
    finally:
        upstream.stop()
    assert live == response_path(provider, scenario).read_bytes()
    assert read(mode="none") == live


# -- arbitrary spellings --------------------------------------------------------------------

_WS = st.sampled_from(["", " ", "  ", "\n", "\t", "\r\n", "\n  "])
_NUMBER = st.from_regex(
    r"-?(0|[1-9][0-9]{0,18})(\.[0-9]{1,8})?([eE][+-]?[0-9]{1,2})?", fullmatch=True
)
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\b": "\\b",
    "\f": "\\f",
}
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def spell_string(data: st.DataObject, text: str) -> str:
    out = ['"']
    for char in text:
        how = data.draw(st.sampled_from(["plain", "short", "u", "U"]))
        if how in ("u", "U") or (char < " " and char not in _SHORT_ESCAPES):
            code = ord(char)
            if code > 0xFFFF:  # a surrogate pair
                code -= 0x10000
                pair = (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
                out.append("".join(f"\\u{unit:04x}" for unit in pair))
            else:
                escape = f"\\u{code:04x}"
                out.append(escape.upper().replace("\\U", "\\u") if how == "U" else escape)
        elif (how == "short" and char in _SHORT_ESCAPES) or char in '"\\':
            out.append(_SHORT_ESCAPES[char])
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def spell(data: st.DataObject, value: object) -> str:
    """One of the many JSON texts of ``value`` (numbers: any spelling at all)."""
    ws = lambda: data.draw(_WS)  # noqa: E731
    if isinstance(value, dict):
        items = [
            f"{ws()}{spell_string(data, k)}{ws()}:{ws()}{spell(data, v)}{ws()}"
            for k, v in value.items()
        ]
        return "{" + (",".join(items) or ws()) + "}"
    if isinstance(value, list):
        return "[" + (",".join(f"{ws()}{spell(data, v)}{ws()}" for v in value) or ws()) + "]"
    if isinstance(value, str):
        return spell_string(data, value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return data.draw(_NUMBER)


@PROPERTY
@given(st.data(), _values, _WS, _WS)
def test_any_spelling_of_a_json_answer_comes_back_exactly(
    data: st.DataObject, value: object, before: str, after: str
) -> None:
    raw = (before + spell(data, value) + after).encode()
    body = build_body("application/json", [(0.0, raw)], stream_started=0.0)
    assert replayed_through_the_file(body) == raw
    if isinstance(body, Json):
        assert body.value == json.loads(raw)  # the value is kept, readable, whatever the text


_NAME = st.text(st.characters(blacklist_characters="\r\n\x00", codec="utf-8"), max_size=12)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[str, list[int]]:
    data = draw(st.data())
    eol = draw(_EOL)
    blocks = []
    for _ in range(draw(st.integers(0, 6))):
        fields = []
        if draw(st.booleans()):
            fields.append(
                "data"
                + draw(st.sampled_from([":", ": "]))
                + spell(data, draw(_values))
                + draw(st.sampled_from(["", " ", "   "]))
            )
        if draw(st.booleans()):
            fields.append("event" + draw(st.sampled_from([":", ": "])) + draw(_NAME))
        if draw(st.booleans()):
            fields.append("id: " + draw(_NAME))
        if draw(st.booleans()):
            fields.append(":" + draw(_NAME))
        if draw(st.booleans()):
            fields.append(f"retry: {draw(st.integers(0, 10**6))}")
        fields = draw(st.permutations(fields))
        # A value spelled over several lines is several lines: data fields split on line ends.
        lines = [
            line
            for field in fields
            for line in field.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        ]
        blocks.append(eol.join(lines) + eol + draw(st.sampled_from([eol, eol + eol])))
    text = draw(st.sampled_from(["", "\ufeff"])) + "".join(blocks)
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")  # the last block cut short
    return text, draw(st.lists(st.integers(min_value=0), max_size=20))


@PROPERTY
@given(sse_streams())
def test_any_spelling_of_an_event_stream_comes_back_exactly(stream: tuple[str, list[int]]) -> None:
    text, cuts = stream
    raw = text.encode()
    body = build_body("text/event-stream", cut(raw, cuts), stream_started=0.0)
    assert b"".join(chunk for _, chunk in render_body(body)) == raw
    assert replayed_through_the_file(body) == raw


@PROPERTY
@given(st.data(), st.lists(_values, max_size=6), st.lists(st.integers(min_value=0), max_size=20))
def test_any_spelling_of_an_ndjson_stream_comes_back_exactly(
    data: st.DataObject, values: list[object], cuts: list[int]
) -> None:
    lines = [spell(data, v).replace("\n", " ") for v in values]
    text = "".join(line + data.draw(st.sampled_from(["\n", "\n\n", "\r\n"])) for line in lines)
    if text and data.draw(st.booleans()):
        text = text.rstrip("\n")
    raw = text.encode()
    body = build_body("application/x-ndjson", cut(raw, cuts), stream_started=0.0)
    assert replayed_through_the_file(body) == raw


@PROPERTY
@given(
    st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    st.sampled_from(sorted(set(CONTENT_TYPES.values()) | {"text/plain"})),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_any_body_at_all_comes_back_exactly(raw: bytes, content_type: str, cuts: list[int]) -> None:
    body = build_body(content_type, cut(raw, cuts), stream_started=0.0)
    assert replayed_through_the_file(body) == raw
