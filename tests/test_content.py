"""IncrementalDecoder, build_body and render_body: decoding chunk by chunk, choosing the body
kind, event timings, and replaying the bytes."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import sys
import types
import zlib
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho._cassette import Binary, Empty, Event, Json, Ndjson, RecordedResponse, Sse, Text
from promptecho._content import IncrementalDecoder, build_body, render_body, supports_encoding

STREAMS = Path(__file__).parent / "data" / "streams"
EXAMPLES = 500
# No deadline: a busy CI machine must not turn a slow example into a failure.
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SSE_BODY = b'data: {"a":1}\n\nevent: e\ndata: [DONE]\n\n'


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def timed(data: bytes, size: int, step: float = 0.001) -> list[tuple[float, bytes]]:
    return [(i * step, chunk) for i, chunk in enumerate(chunked(data, size), start=1)]


def decode_all(encoding: str | None, data: bytes, size: int) -> bytes:
    decoder = IncrementalDecoder(encoding)
    return b"".join(decoder.decode(chunk) for chunk in chunked(data, size)) + decoder.flush()


def replayed(body: Empty | Json | Text | Sse | Ndjson | Binary) -> bytes:
    return b"".join(chunk for _, chunk in render_body(body))


# -- content-encoding ---------------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def sync_flushed_gzip(events: list[bytes]) -> list[bytes]:
    z = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    chunks = [z.compress(e) + z.flush(zlib.Z_SYNC_FLUSH) for e in events]
    return [*chunks, z.flush()]


BODY = (STREAMS / "openai-chat--text-stream.response.sse").read_bytes()
ENCODED = [
    ("gzip", "gzip", gzip.compress(BODY)),
    ("x-gzip", "x-gzip", gzip.compress(BODY)),
    ("upper-case", "GZip", gzip.compress(BODY)),
    ("gzip-two-members", "gzip", gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])),
    ("deflate-zlib", "deflate", zlib.compress(BODY)),
    ("deflate-raw", "deflate", raw_deflate(BODY)),
    ("identity", "identity", BODY),
    ("empty-header", "", BODY),
    ("no-header", None, BODY),
    ("deflate-then-gzip", "deflate, gzip", gzip.compress(zlib.compress(BODY))),
    ("gzip-identity", "gzip, identity", gzip.compress(BODY)),
]


@pytest.mark.parametrize(
    ("encoding", "data"), [e[1:] for e in ENCODED], ids=[e[0] for e in ENCODED]
)
@pytest.mark.parametrize("size", [1, 7, 1 << 20], ids=["1-byte", "7-byte", "whole"])
def test_decoder_undoes_the_encoding_chunk_by_chunk(
    encoding: str | None, data: bytes, size: int
) -> None:
    assert supports_encoding(encoding)
    assert decode_all(encoding, data, size) == BODY


def test_sync_flushed_gzip_gives_one_event_per_chunk() -> None:
    events = [b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"]
    decoder = IncrementalDecoder("gzip")
    assert [decoder.decode(c) for c in sync_flushed_gzip(events)] == [*events, b""]
    assert decoder.flush() == b""


def test_truncated_gzip_yields_what_arrived_without_raising() -> None:
    data = gzip.compress(BODY)
    decoder = IncrementalDecoder("gzip")
    out = decoder.decode(data[: len(data) // 2]) + decoder.flush()
    assert BODY.startswith(out)
    assert len(out) > 0


@pytest.mark.parametrize(
    ("encoding", "data", "message"),
    [
        ("gzip", b"not gzip at all", "invalid gzip data"),
        ("gzip", gzip.compress(b"a") + b"garbage", "invalid gzip data"),
        ("deflate", zlib.compress(b"hello")[:2] + b"\xff" * 20, "invalid deflate data"),
        ("deflate", b"\xff\xff\xff", "invalid deflate data"),
    ],
    ids=["gzip-garbage", "gzip-trailing-garbage", "zlib-corrupt", "deflate-garbage"],
)
def test_corrupt_data_raises_value_error(encoding: str, data: bytes, message: str) -> None:
    for size in (1, len(data)):
        with pytest.raises(ValueError, match=message):
            decode_all(encoding, data, size)


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("compress", "unsupported content-encoding 'compress'"),
        ("gzip, lzma", "unsupported content-encoding 'lzma'"),
        ("br", "install brotli"),
        ("zstd", "install zstandard"),
    ],
)
def test_unsupported_encoding_raises_value_error(
    encoding: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("brotli", "brotlicffi", "zstandard"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    assert not supports_encoding(encoding)
    with pytest.raises(ValueError, match=re.escape(message)):
        IncrementalDecoder(encoding)


def fake_brotli(name: str) -> types.ModuleType:
    """Stands in for brotli / brotlicffi (not installed here): "br" that is really raw deflate."""
    module = types.ModuleType(name)

    class Decompressor:
        def __init__(self) -> None:
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)

        def process(self, chunk: bytes) -> bytes:
            return self._z.decompress(chunk)

    module.Decompressor = Decompressor  # type: ignore[attr-defined]
    module.error = zlib.error  # type: ignore[attr-defined]
    return module


def fake_zstandard() -> types.ModuleType:
    """Stands in for zstandard: "zstd" frames that are really zlib streams."""
    module = types.ModuleType("zstandard")

    class ZstdDecompressor:
        def decompressobj(self) -> object:
            return zlib.decompressobj()

    module.ZstdDecompressor = ZstdDecompressor  # type: ignore[attr-defined]
    module.ZstdError = zlib.error  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("module", ["brotli", "brotlicffi"])
def test_br_uses_whichever_brotli_module_imports(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, module, fake_brotli(module))
    assert supports_encoding("br")
    assert decode_all("br", raw_deflate(BODY), 7) == BODY
    assert IncrementalDecoder("br").decode(b"") == b""
    with pytest.raises(ValueError, match="invalid br data"):
        decode_all("br", b"\xff" * 10, 10)


def test_zstd_decodes_several_frames_when_zstandard_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", fake_zstandard())
    data = zlib.compress(BODY[:50]) + zlib.compress(BODY[50:])
    assert decode_all("zstd", data, 7) == BODY
    assert decode_all("zstd", data, len(data)) == BODY
    assert IncrementalDecoder("zstd").decode(b"") == b""
    with pytest.raises(ValueError, match="invalid zstd data"):
        decode_all("zstd", b"\xff" * 10, 10)


@PROPERTY
@given(
    st.sampled_from(["gzip", "deflate", "identity", None, "deflate, gzip", "gzip, deflate"]),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=50),
)
def test_decoder_raises_only_value_error_on_any_bytes_500_examples(
    encoding: str | None, data: bytes, size: int
) -> None:
    with contextlib.suppress(ValueError):
        decode_all(encoding, data, size)


@PROPERTY
@given(st.text(max_size=30))
def test_any_content_encoding_header_is_either_supported_or_a_value_error_500_examples(
    header: str,
) -> None:
    if supports_encoding(header):
        IncrementalDecoder(header)
    else:
        with pytest.raises(ValueError, match="content-encoding"):
            IncrementalDecoder(header)


# -- build_body: the body kinds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        ("application/json", b'{"a": [1, 2]}', Json(value={"a": [1, 2]}, raw='{"a": [1, 2]}')),
        ("application/json; charset=utf-8", b"[1]", Json(value=[1])),
        ("Application/JSON", b'"s"', Json(value="s")),
        ("application/problem+json", b'{"e":1}', Json(value={"e": 1})),
        ("text/json", b"1", Json(value=1)),
        ("application/json", b"{not json", Text(text="{not json")),
        ("application/json", b"[" * 100_000, Text(text="[" * 100_000)),
        ("text/plain; charset=utf-8", b"bonjour \xc3\xa9", Text(text="bonjour é")),
        ("text/html", b"<p>", Text(text="<p>")),
        (None, b'{"a":1}', Text(text='{"a":1}')),
        ("application/xml", b"<a/>", Text(text="<a/>")),
        ("text/plain", b"\xff\xfe", Binary(data=b"\xff\xfe")),
        ("application/json", b'{"a":"\xff"}', Binary(data=b'{"a":"\xff"}')),
        ("text/event-stream", b"data: \xff\n\n", Binary(data=b"data: \xff\n\n")),
        ("image/png", b"PNG", Binary(data=b"PNG")),
        ("audio/mpeg", b"ID3", Binary(data=b"ID3")),
        ("video/mp4", b"x", Binary(data=b"x")),
        ("application/octet-stream", b"text", Binary(data=b"text")),
        ("application/pdf", b"%PDF", Binary(data=b"%PDF")),
        ("application/zip", b"PK", Binary(data=b"PK")),
        ("application/json", b"", Empty()),
        ("text/event-stream", b"", Empty()),
        ("text/event-stream", b'{"error":"overloaded"}', Text(text='{"error":"overloaded"}')),
        ("text/event-stream", b"\n\n", Text(text="\n\n")),
        ("text/event-stream", b"foo: 1\ndata: x\n\n", Text(text="foo: 1\ndata: x\n\n")),
        ("text/event-stream", b"data: [DONE]\n\n", Sse(events=[Event(data="[DONE]", delay_ms=1)])),
        (
            "text/event-stream; charset=utf-8",
            b"data: 1\r\n\r\n",
            Sse(events=[Event(data="1", delay_ms=1)], eol="\r\n"),
        ),
        ("application/x-ndjson", b'{"a":1}\n', Ndjson(events=[Event(data={"a": 1}, delay_ms=1)])),
        (
            "application/jsonl",
            b"x",
            Ndjson(events=[Event(data="x", delay_ms=1)], final_newline=False),
        ),
        ("application/x-jsonlines", b"[]\n", Ndjson(events=[Event(data=[], delay_ms=1)])),
        ("application/x-ndjson", b"\n\n", Text(text="\n\n")),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_build_body_picks_the_kind(content_type: str | None, data: bytes, expected: object) -> None:
    assert build_body(content_type, [(0.001, data)], stream_started=0.0) == expected


def test_json_body_renders_byte_exact() -> None:
    for name in (
        "openai-chat--text.response.json",
        "ollama--chat.response.json",
        "gemini--generate.response.json",
        "openai-embeddings--explicit-float.response.json",
    ):
        raw = (STREAMS / name).read_bytes()
        body = build_body("application/json", timed(raw, 7), stream_started=0.0)
        assert isinstance(body, Json)
        rendered = render_body(body)
        assert len(rendered) == 1
        assert rendered[0][0] == 0
        assert rendered[0][1] == raw
        assert body.raw is None  # pretty or compact, with or without a final newline: a layout


def test_mp3_sample_is_binary_and_replays_byte_exact() -> None:
    raw = (STREAMS / "openai-audio--speech.response.mp3").read_bytes()
    assert len(raw) == 960
    for content_type in ("audio/mpeg", None, "application/json"):
        body = build_body(content_type, timed(raw, 7), stream_started=0.0)
        assert body == Binary(data=raw)
        assert render_body(body) == [(0, raw)]


def test_text_replays_byte_exact_even_with_a_bom() -> None:
    raw = "\ufeffhé\r\nllo\n".encode()
    body = build_body("text/plain", timed(raw, 1), stream_started=0.0)
    assert body == Text(text="\ufeffhé\r\nllo\n")
    assert replayed(body) == raw


@pytest.mark.parametrize(
    "path", sorted(STREAMS.glob("*.sse")) + sorted(STREAMS.glob("*.ndjson")), ids=lambda p: p.name
)
@pytest.mark.parametrize("size", [1, 7, None], ids=["1-byte", "7-byte", "whole"])
def test_stream_samples_replay_one_chunk_per_event(path: Path, size: int | None) -> None:
    raw = path.read_bytes()
    content_type = "text/event-stream" if path.suffix == ".sse" else "application/x-ndjson"
    body = build_body(content_type, timed(raw, size or len(raw)), stream_started=0.0)
    assert isinstance(body, Sse | Ndjson)
    rendered = render_body(body)
    assert len(rendered) == len(body.events)
    again = build_body(content_type, [(0.0, c) for _, c in rendered], stream_started=0.0)
    assert isinstance(again, Sse | Ndjson)
    assert [e.data for e in again.events] == [e.data for e in body.events]
    # 1 ms per chunk; a CRLF stream's last event is complete at its last CR, one chunk early
    chunk_count = len(chunked(raw, size or len(raw)))
    assert chunk_count - 1 <= sum(delay for delay, _ in rendered) <= chunk_count
    if path.suffix == ".ndjson":
        assert replayed(body) == raw


def test_stored_body_survives_the_cassette_encoder() -> None:
    raw = (STREAMS / "anthropic--text-stream.response.sse").read_bytes()
    body = build_body("text/event-stream", timed(raw, 50), stream_started=0.0)
    response = RecordedResponse(status=200, body=body)
    again = msgspec.json.decode(msgspec.json.encode(response), type=RecordedResponse)
    assert render_body(again.body) == render_body(body)


# -- build_body: timings ------------------------------------------------------------------


def test_delay_is_measured_at_the_chunk_that_completed_each_event() -> None:
    chunks = [
        (10.010, b"data: a\n"),
        (10.025, b"\n"),
        (10.030, b"data: b\n\ndata: c\n\n"),
        (10.100, b"data: d"),
    ]
    body = build_body("text/event-stream", chunks, stream_started=10.0)
    assert isinstance(body, Sse)
    assert [(e.data, e.delay_ms) for e in body.events] == [("a", 25), ("b", 5), ("c", 0), ("d", 70)]


def test_delays_do_not_drift_over_many_events() -> None:
    chunks = [(i * 0.0014, b"data: x\n\n") for i in range(1, 1001)]
    body = build_body("text/event-stream", chunks, stream_started=0.0)
    assert isinstance(body, Sse)
    assert {e.delay_ms for e in body.events} <= {1, 2}
    assert sum(e.delay_ms for e in body.events) == 1400


def test_time_going_backwards_or_nowhere_gives_zero_delays() -> None:
    chunks = [
        (5.0, b"data: a\n\n"),
        (4.0, b"data: b\n\n"),
        (float("nan"), b"data: c\n\n"),
        (float("inf"), b"data: d\n\n"),
        (5.002, b"data: e\n\n"),
    ]
    body = build_body("text/event-stream", chunks, stream_started=4.5)
    assert isinstance(body, Sse)
    assert [e.delay_ms for e in body.events] == [500, 0, 0, 0, 2]


def test_flushed_event_of_a_cut_stream_is_kept_and_re_emitted_as_cut() -> None:
    body = build_body("text/event-stream", [(0.002, b'data: a\n\ndata: {"par')], stream_started=0.0)
    assert body == Sse(events=[Event(data="a", delay_ms=2), Event(data='{"par', raw='data: {"par')])
    assert render_body(body) == [(2, b"data: a\n\n"), (0, b'data: {"par')]


def test_ndjson_cut_mid_line_replays_exactly() -> None:
    raw = b'{"a":1}\n{"b":'
    body = build_body("application/x-ndjson", timed(raw, 3), stream_started=0.0)
    assert body == Ndjson(
        events=[Event(data={"a": 1}, delay_ms=3), Event(data='{"b":', delay_ms=2)],
        final_newline=False,
    )
    assert replayed(body) == raw


# -- render_body ----------------------------------------------------------------------------


def test_render_body_of_each_kind() -> None:
    assert render_body(Empty()) == []
    assert render_body(Text(text="é")) == [(0, "é".encode())]
    assert render_body(Binary(data=b"\x00")) == [(0, b"\x00")]
    assert render_body(Json(value=None)) == [(0, b"null")]
    assert render_body(Ndjson(events=[], final_newline=False)) == []
    sse = Sse(events=[Event(event="e", data={"a": 1}, delay_ms=3), Event(data="[DONE]")], eol="\r")
    assert render_body(sse) == [(3, b'event: e\rdata: {"a":1}\r\r'), (0, b"data: [DONE]\r\r")]


def nested(depth: int) -> list[object]:
    outer: list[object] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    return outer


NESTED = nested(100_000)  # deeper than any decoded cassette can be: only built by hand


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (Sse(events=[Event(data="x")], eol="\n\r"), "is not a valid line ending"),
        (Sse(events=[Event(event="a\nb")]), "contains a line break"),
        (Ndjson(events=[Event(data="a\nb")]), "contains a LF"),
        (Sse(events=[Event(data="ok"), Event(data=object())]), "event 1 cannot be written as SSE"),
        (Sse(events=[Event(comments=[1])]), "event 0 cannot be written as SSE"),  # type: ignore[list-item]
        (Ndjson(events=[Event(data=object())]), "NDJSON line cannot be written as JSON"),
        (Json(value=NESTED), "JSON body cannot be written"),
        (Sse(events=[Event(data=NESTED)]), "cannot be written as SSE"),
        (Event(), "cannot render Event: not a response body"),
    ],
    ids=[
        "eol",
        "event-name",
        "ndjson-line",
        "object-data",
        "int-comment",
        "object-line",
        "nested-json",
        "nested-sse",
        "not-a-body",
    ],
)
def test_render_body_refuses_a_body_it_cannot_write(body: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_body(body)  # type: ignore[arg-type]


CONTENT_TYPES = [
    None,
    "text/event-stream",
    "application/x-ndjson",
    "application/json",
    "text/plain",
    "image/png",
    "application/octet-stream",
    "application/jsonl",
]


@PROPERTY
@given(
    st.one_of(st.sampled_from(CONTENT_TYPES), st.text(max_size=30)),
    st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.sampled_from(
                [
                    b"\r",
                    b"\n",
                    b"data: ",
                    b"event: x",
                    b":",
                    b"{",
                    b"}",
                    b"[",
                    b"]",
                    b'"a"',
                    b"1",
                    b"\xff",
                    b"\xef\xbb\xbf",
                    b"[DONE]",
                ]
            ),
            max_size=60,
        ).map(b"".join),
    ),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_build_then_render_never_raises_and_keeps_the_events_500_examples(
    content_type: str | None, data: bytes, cuts: list[int]
) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [
        (float(i), data[a:b])
        for i, (a, b) in enumerate(zip([0, *points], [*points, len(data)], strict=True))
    ]
    body = build_body(content_type, chunks, stream_started=0.0)
    whole = build_body(content_type, [(0.0, data)], stream_started=0.0)
    rendered = replayed(body)
    if isinstance(body, Sse | Ndjson):
        assert isinstance(whole, type(body))
        assert [e.data for e in body.events] == [e.data for e in whole.events]
        again = build_body(content_type, [(0.0, rendered)], stream_started=0.0)
        assert isinstance(again, type(body))
        assert [e.data for e in again.events] == [e.data for e in body.events]
    elif isinstance(body, Json):
        assert json.loads(rendered) == json.loads(data)
    else:
        assert body == whole
        assert rendered == data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
any_text = st.text(max_size=15)
hand_made_events = st.builds(
    Event,
    comments=st.lists(any_text, max_size=2),
    id=st.none() | any_text,
    event=st.none() | any_text,
    data=json_values,
    retry=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    delay_ms=st.integers(min_value=0, max_value=10**6),
)
hand_made_bodies = st.one_of(
    st.builds(Sse, events=st.lists(hand_made_events, max_size=4), eol=st.text(max_size=2)),
    st.builds(Ndjson, events=st.lists(hand_made_events, max_size=4), final_newline=st.booleans()),
    st.builds(Json, value=json_values),
    st.builds(Text, text=st.text(max_size=20)),
    st.builds(Binary, data=st.binary(max_size=20)),
)


@PROPERTY
@given(hand_made_bodies)
def test_render_body_of_a_hand_edited_body_raises_only_value_error_500_examples(
    body: Sse | Ndjson | Json | Text | Binary,
) -> None:
    try:
        chunks = render_body(body)
    except ValueError as err:
        refusal = str(err)
        assert refusal.strip()  # an explanation, not an empty message
        return
    if isinstance(body, Sse | Ndjson):
        assert [delay for delay, _ in chunks] == [e.delay_ms for e in body.events]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_a_json_body_replays_the_same_bytes_whether_decoded_or_left_raw(value: object) -> None:
    # Replay leaves a JSON body's value as the text in the file and compacts it
    # (RawJson); it must equal decoding the value and encoding it again.
    from promptecho._cassette import decode_for_replay, decode_response

    response = RecordedResponse(status=200, body=Json(value=value))
    pretty = msgspec.json.format(msgspec.json.encode(response), indent=2)
    raw = msgspec.Raw(pretty)
    full = decode_response(raw, "c.json", 0)
    lazy = decode_for_replay(raw, "c.json", 0)
    assert full is not None
    assert lazy is not None
    assert render_body(lazy.body) == render_body(full.body)
