"""Hostile input: what may escape from the parsers, the cassette loader and the normalizers.

Only ``CassetteError``, ``CassetteMiss`` and ``ValueError`` (with a message) may leave them;
never ``KeyError``, ``TypeError``, ``RecursionError`` or a hang. The example counts are in
the test names. tests/test_sse.py already fuzzes the SSE/NDJSON parsers on their own
(chunk boundaries, round trips); here they are driven the way recording drives them,
through ``build_body`` and back through ``render_body``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho import Cassette, CassetteError, CassetteMiss
from promptecho._canonical import canonicalize_request
from promptecho._content import build_body, render_body
from promptecho._options import Options
from promptecho._recorder import Recorder
from promptecho._sse import EventParser, LineParser

FUZZ = settings(
    max_examples=500,
    deadline=None,  # a hang is caught by the bounded total below, not per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_300 = settings(FUZZ, max_examples=300)

ALLOWED = (CassetteError, CassetteMiss, ValueError)

URLS = [
    "https://api.openai.com/v1/chat/completions",
    "https://api.openai.com/v1/responses",
    "https://api.anthropic.com/v1/messages",
    "https://api.anthropic.com/v1/messages/count_tokens",
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:embedContent",
    "https://api.cohere.com/v2/chat",
    "http://localhost:11434/api/chat",
    "http://localhost:11434/api/generate",
    "https://api.openai.com/v1/embeddings",
    "https://api.openai.com/v1/audio/speech",
    "http://gateway.internal/anything",
]
# The fields the dialects read, so that wrong types reach their code rather than the fallback.
KNOWN_KEYS = [
    "model", "messages", "role", "content", "type", "text", "system", "tools", "tool_choice",
    "stream", "input", "instructions", "contents", "parts", "systemInstruction",
    "generationConfig", "prompt", "options", "images", "voice", "temperature", "max_tokens",
    "thinking", "reasoning", "reasoning_effort", "tool_calls", "function", "name", "arguments",
    "tool_call_id", "tool_use_id", "inlineData", "functionCall", "functionResponse",
    "image_url", "url", "source", "data", "media_type", "documents", "response_format",
    "encoding_format", "dimensions", "stop_sequences", "keep_alive", "think", "format",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=8)


def _nested(depth: int, leaf: str = '"x"') -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


def _decide(url: str, body: bytes, content_type: str = "application/json") -> None:
    recorder = Recorder(Path("/nonexistent/promptecho-fuzz.json"), Options(mode="none"))
    try:
        recorder.decide("POST", url, [("content-type", content_type)], body)
    except ALLOWED as err:
        message = str(err)
    else:
        return
    assert message  # an allowed error still says what went wrong


# -- the normalizers, through canonicalize_request and the match key ---------------------------


@FUZZ
@given(st.sampled_from(URLS), bodies)
def test_normalizers_take_known_fields_with_any_types_500_examples(
    url: str, body: dict[str, Any]
) -> None:
    _decide(url, msgspec.json.encode(body))


@FUZZ_300
@given(st.sampled_from(URLS), json_values)
def test_normalizers_take_any_json_document_300_examples(url: str, value: Any) -> None:
    _decide(url, msgspec.json.encode(value))


@FUZZ_300
@given(st.sampled_from(URLS), st.binary(max_size=200), st.sampled_from(
    ["application/json", "text/plain", "multipart/form-data; boundary=b", "", "application/x-www-form-urlencoded"]
))  # fmt: skip
def test_normalizers_take_any_bytes_with_any_content_type_300_examples(
    url: str, data: bytes, content_type: str
) -> None:
    _decide(url, data, content_type)


DEEP = [
    '{"model":"m","messages":[{"role":"user","content":%s}]}',
    '{"model":"m","messages":%s}',
    '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":%s}]}]}',
    '{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":%s}',
    '{"contents":%s}',
    '{"model":"m","input":%s}',
    '{"model":"m","prompt":"p","options":%s}',
    "%s",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("template", DEEP, ids=[f"deep{n}" for n in range(len(DEEP))])
def test_10000_nested_lists_in_any_field_only_raise_allowed_errors(url: str, template: str) -> None:
    _decide(url, (template % _nested(10_000).decode()).encode())


@pytest.mark.parametrize("url", URLS)
def test_unicode_everywhere_is_kept_or_refused_cleanly(url: str) -> None:
    text = "\u0000\ud7ff\ue000\U0001f600 e\u0301 \u202e\ufeff"
    body = {"model": text, "messages": [{"role": text, "content": text}], text: [text]}
    _decide(url, msgspec.json.encode(body))
    canonical = canonicalize_request(url, msgspec.json.encode(body), "application/json")
    assert msgspec.json.decode(msgspec.json.encode(canonical.body)) == canonical.body


# -- the cassette loader -------------------------------------------------------------------------


def _load(data: bytes) -> None:
    try:
        Cassette.from_bytes(data, "fuzz.json")
    except CassetteError as err:
        message = str(err)
    else:
        return
    assert "fuzz.json" in message


@FUZZ
@given(st.binary(max_size=400))
def test_cassette_loader_on_arbitrary_bytes_only_raises_cassette_error_500_examples(
    data: bytes,
) -> None:
    _load(data)


@FUZZ
@given(json_values)
def test_cassette_loader_on_arbitrary_json_only_raises_cassette_error_500_examples(
    value: Any,
) -> None:
    _load(msgspec.json.encode(value))


interaction_like = st.fixed_dictionaries(
    {"request": json_values | st.fixed_dictionaries(
        {"method": st.text(max_size=5), "url": st.text(max_size=10), "api": st.text(max_size=5)},
        optional={"body": json_values, "headers": json_values, "stream": json_values},
    )},
    optional={"response": json_values | st.fixed_dictionaries(
        {"status": json_values, "body": st.fixed_dictionaries(
            {"kind": st.sampled_from(["json", "sse", "ndjson", "binary", "text", "empty", "x"])},
            optional={"value": json_values, "events": json_values, "data": json_values},
        )},
    ), "error": json_values},
)  # fmt: skip


@FUZZ
@given(st.integers(min_value=-1, max_value=3) | json_values, st.lists(interaction_like, max_size=3))
def test_cassette_loader_on_cassette_shaped_json_only_raises_cassette_error_500_examples(
    version: Any, interactions: list[Any]
) -> None:
    _load(msgspec.json.encode({"version": version, "interactions": interactions}))


def test_cassette_loader_on_10000_nested_lists_at_the_top_raises_cassette_error() -> None:
    with pytest.raises(CassetteError):
        Cassette.from_bytes(_nested(10_000))


@pytest.mark.parametrize("where", ["interactions", "request body"])
def test_cassette_loader_on_10000_nested_lists_inside_raises_cassette_error(where: str) -> None:
    deep = _nested(10_000)
    data = (
        b'{"version":1,"interactions":' + deep + b"}"
        if where == "interactions"
        else b'{"version":1,"interactions":[{"request":{"method":"POST","url":"u","api":"json",'
        b'"body":' + deep + b"}}]}"
    )
    with pytest.raises(CassetteError):
        Cassette.from_bytes(data)


# -- streams as recording builds and replays them -------------------------------------------------

STREAM_TYPES = ["text/event-stream", "application/x-ndjson", "application/json", "text/plain"]
TOKENS = [
    b"data:", b"data: ", b"event: e", b"id: 1", b"retry: 5", b": c", b"\n", b"\r\n", b"\r",
    b"\xef\xbb\xbf", b'{"a": [1, {"b": "c"}]}', b"[DONE]", b"\xff", b"\x00", b"\xc3", b"\xa9", b" ",
]  # fmt: skip
streams = st.one_of(
    st.binary(max_size=300), st.lists(st.sampled_from(TOKENS), max_size=80).map(b"".join)
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FUZZ
@given(st.sampled_from(STREAM_TYPES), streams, st.lists(st.integers(min_value=0), max_size=20))
def test_recorded_bodies_build_and_render_from_any_bytes_in_any_chunks_500_examples(
    content_type: str, raw: bytes, cuts: list[int]
) -> None:
    chunks = [(n / 1000, c) for n, c in enumerate(_split(raw, cuts))]
    body = build_body(content_type, chunks, stream_started=0.0)
    rendered = b"".join(chunk for _, chunk in render_body(body))
    again = build_body(content_type, [(0.0, rendered)], stream_started=0.0)
    assert [c for _, c in render_body(again)] == [c for _, c in render_body(body)]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("final", [True, False], ids=["final-newline", "no-final-newline"])
def test_a_four_megabyte_line_with_a_bom_parses_in_64k_chunks(eol: bytes, final: bool) -> None:
    line = (
        b"\xef\xbb\xbfdata: " + b'{"x":"' + b"y" * (4 << 20) + b'"}' + eol + (eol if final else b"")
    )
    sse = EventParser()
    events = [e for i in range(0, len(line), 65536) for e in sse.feed(line[i : i + 65536])]
    events += sse.flush()
    assert len(events) == 1
    assert events[0].data == {"x": "y" * (4 << 20)}
    lines = LineParser()
    ndjson = b'{"x":"' + b"y" * (4 << 20) + b'"}' + (eol if final else b"")
    parsed = [e for i in range(0, len(ndjson), 65536) for e in lines.feed(ndjson[i : i + 65536])]
    parsed += lines.flush()
    assert [e.data for e in parsed] == [{"x": "y" * (4 << 20)}]
