"""EventParser / LineParser / encode_event / encode_line: the wire samples, the spec's corners,
and properties over arbitrary bytes cut at arbitrary places."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho import _content, _sse
from promptecho._cassette import Event
from promptecho._sse import (
    EventParser,
    LineParser,
    encode_event,
    encode_events,
    encode_line,
    parse_data,
)

STREAMS = Path(__file__).parent / "data" / "streams"
SSE_SAMPLES = sorted(STREAMS.glob("*.sse"))
NDJSON_SAMPLES = sorted(STREAMS.glob("*.ndjson"))
# Samples whose every JSON data line is already compact: replay must give back the very bytes.
BYTE_EXACT_SSE = {
    "cohere--chat-stream.response.sse",
    "cohere--tools-stream.response.sse",
    "groq--chat-stream.response.sse",
    "mistral--chat-stream.response.sse",
    "mistral--tools-stream.response.sse",
    "ollama--openai-compat-stream.response.sse",
    "openai-chat--text-stream.response.sse",
    "openai-chat--tools-stream.response.sse",
    "openai-responses--function-call-stream.response.sse",
    "openai-responses--stream.response.sse",
}
EXAMPLES = 500
# No deadline: a busy CI machine must not turn a slow example into a failure.
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# -- helpers ------------------------------------------------------------------------------


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def parse_sse(chunks: list[bytes]) -> tuple[list[Event], str]:
    parser = EventParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.flush(), parser.eol


def parse_lines(chunks: list[bytes]) -> tuple[list[Event], bool]:
    parser = LineParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.flush(), parser.final_newline


def render_sse(events: list[Event], eol: str) -> bytes:
    return b"".join(encode_event(event, eol) for event in events)


def reference_reading(raw: bytes) -> list[tuple[object, ...]]:
    """An independent, whole-text reading of an event stream, written straight from the spec.

    One tuple per block that has any recognised line: (comments, id, event, data, retry),
    with ``data`` as stdlib ``json.loads`` sees it when it is a JSON object or array.
    """
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    blocks: list[tuple[object, ...]] = []
    comments: list[str] = []
    fields: dict[str, object] = {}
    data: list[str] = []
    lines = re.split(r"\r\n|\r|\n", text)
    for line in [*lines[:-1], lines[-1], ""] if lines[-1] else lines:
        if not line:
            if comments or fields or data:
                blocks.append(
                    (
                        comments,
                        fields.get("id"),
                        fields.get("event"),
                        value_of("\n".join(data)) if data else None,
                        fields.get("retry"),
                    )
                )
            comments, fields, data = [], {}, []
        elif line.startswith(":"):
            comments.append(line[1:])
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name in ("event", "id") and "\0" not in value:
                fields[name] = value
            elif name == "retry" and re.fullmatch(r"[0-9]{1,18}", value):
                fields[name] = int(value)
    return blocks


def value_of(text: str) -> object:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, dict | list) else text


def without_delays(events: list[Event]) -> list[Event]:
    return [
        Event(comments=e.comments, id=e.id, event=e.event, data=e.data, retry=e.retry)
        for e in events
    ]


# -- the wire samples ---------------------------------------------------------------------


@pytest.mark.parametrize("path", SSE_SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("size", [1, 7, None], ids=["1-byte", "7-byte", "whole"])
def test_sse_sample_round_trips_for_both_readers(path: Path, size: int | None) -> None:
    raw = path.read_bytes()
    events, eol = parse_sse(chunked(raw, size or len(raw)))
    rendered = render_sse(events, eol)
    assert parse_sse([rendered]) == (events, eol)
    assert reference_reading(rendered) == reference_reading(raw)
    assert len(events) == len(reference_reading(raw)) > 0
    if path.name in BYTE_EXACT_SSE:
        assert rendered == raw


@pytest.mark.parametrize("path", SSE_SAMPLES, ids=lambda p: p.name)
def test_sse_sample_chunk_size_never_changes_the_events(path: Path) -> None:
    raw = path.read_bytes()
    whole = parse_sse([raw])
    for size in (1, 2, 3, 7, 64, 1000):
        assert parse_sse(chunked(raw, size)) == whole


@pytest.mark.parametrize("path", SSE_SAMPLES, ids=lambda p: p.name)
def test_openai_sdk_decoder_sees_the_same_events_in_the_replay(path: Path) -> None:
    streaming = pytest.importorskip("openai._streaming")  # a third, independent SSE reader

    def sdk_reading(chunks: list[bytes]) -> list[tuple[object, ...]]:
        return [
            (sse.event, value_of(sse.data), sse.id, sse.retry)
            for sse in streaming.SSEDecoder().iter_bytes(iter(chunks))
        ]

    raw = path.read_bytes()
    events, eol = parse_sse(chunked(raw, 7))
    replay = [block for _, block in encode_events(events, eol)]
    assert sdk_reading(replay) == sdk_reading(chunked(raw, 7)) != []


def test_byte_exact_set_is_the_samples_with_compact_json() -> None:
    def compact(path: Path) -> bool:
        for block in path.read_bytes().split(b"\n"):
            if block.startswith(b"data: {"):
                text = block[6:].rstrip(b"\r").decode()
                if text != json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False):
                    return False
        return True

    assert {p.name for p in SSE_SAMPLES if compact(p)} == BYTE_EXACT_SSE


def test_gemini_sample_keeps_crlf_and_anthropic_keeps_ping() -> None:
    gemini, eol = parse_sse([(STREAMS / "gemini--stream.response.sse").read_bytes()])
    assert eol == "\r\n"
    assert len(gemini) == 3
    assert all(e.event is None and isinstance(e.data, dict) for e in gemini)
    rendered = render_sse(gemini, eol)
    assert b"\n" not in rendered.replace(b"\r\n", b"")
    anthropic, eol = parse_sse([(STREAMS / "anthropic--text-stream.response.sse").read_bytes()])
    assert eol == "\n"
    assert Event(event="ping", data={"type": "ping"}) in anthropic
    assert b'event: ping\ndata: {"type":"ping"}\n\n' in render_sse(anthropic, eol)


def test_done_sentinel_stays_text_and_comes_back_exactly() -> None:
    events, eol = parse_sse([(STREAMS / "openai-chat--text-stream.response.sse").read_bytes()])
    assert events[-1] == Event(data="[DONE]")
    assert encode_event(events[-1], eol) == b"data: [DONE]\n\n"


def test_mid_stream_error_is_an_ordinary_named_event() -> None:
    events, _ = parse_sse([(STREAMS / "anthropic--error-mid-stream.response.sse").read_bytes()])
    assert events[-1].event == "error"
    assert events[-1].data == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


@pytest.mark.parametrize("path", NDJSON_SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("size", [1, 7, None], ids=["1-byte", "7-byte", "whole"])
def test_ndjson_sample_round_trips_byte_for_byte(path: Path, size: int | None) -> None:
    raw = path.read_bytes()
    events, final_newline = parse_lines(chunked(raw, size or len(raw)))
    assert final_newline
    assert [e.data for e in events] == [json.loads(line) for line in raw.splitlines()]
    assert b"".join(encode_line(e) for e in events) == raw


# -- the spec, one behaviour per row ------------------------------------------------------

SPEC_CASES = [
    ("lf", b"data: a\n\n", [Event(data="a")], "\n"),
    ("crlf", b"data: a\r\n\r\n", [Event(data="a")], "\r\n"),
    ("cr", b"data: a\r\r", [Event(data="a")], "\r"),
    ("bom", b"\xef\xbb\xbfdata: a\n\n", [Event(data="a")], "\n"),
    ("only-one-bom", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", [], "\n"),
    ("comment-block", b": ping\n\n", [Event(comments=[" ping"])], "\n"),
    ("bare-comment", b":\n\n", [Event(comments=[""])], "\n"),
    (
        "comment-kept-with-event",
        b": OPENROUTER PROCESSING\ndata: {}\n\n",
        [Event(comments=[" OPENROUTER PROCESSING"], data={})],
        "\n",
    ),
    ("multi-line-data", b"data: a\ndata: b\n\n", [Event(data="a\nb")], "\n"),
    ("multi-line-json", b'data: {"a":\ndata: 1}\n\n', [Event(data={"a": 1})], "\n"),
    ("no-space", b"data:a\n\n", [Event(data="a")], "\n"),
    ("one-space-only", b"data:  a\n\n", [Event(data=" a")], "\n"),
    ("field-without-colon", b"data\n\n", [Event(data="")], "\n"),
    ("empty-data", b"data:\n\n", [Event(data="")], "\n"),
    (
        "event-and-id",
        b"id: 7\nevent: delta\ndata: x\n\n",
        [Event(id="7", event="delta", data="x")],
        "\n",
    ),
    (
        "last-event-name-wins",
        b"event: a\nevent: b\ndata: x\n\n",
        [Event(event="b", data="x")],
        "\n",
    ),
    ("empty-id", b"id\n\n", [Event(id="")], "\n"),
    ("id-with-nul-ignored", b"id: a\x00b\ndata: x\n\n", [Event(data="x")], "\n"),
    ("retry", b"retry: 3000\n\n", [Event(retry=3000)], "\n"),
    ("retry-not-integer", b"retry: 3s\ndata: x\n\n", [Event(data="x")], "\n"),
    ("retry-huge", b"retry: " + b"9" * 40 + b"\ndata: x\n\n", [Event(data="x")], "\n"),
    ("retry-non-ascii-digits", "retry: ١٢\ndata: x\n\n".encode(), [Event(data="x")], "\n"),
    ("unknown-field-ignored", b"foo: bar\n\n", [], "\n"),
    ("unknown-field-beside-data", b"foo: bar\ndata: x\n\n", [Event(data="x")], "\n"),
    ("blank-lines-between", b"\n\n\ndata: x\n\n\n\n", [Event(data="x")], "\n"),
    ("json-string-stays-text", b'data: "hi"\n\n', [Event(data='"hi"')], "\n"),
    ("json-number-stays-text", b"data: 42\n\n", [Event(data="42")], "\n"),
    ("done-stays-text", b"data: [DONE]\n\n", [Event(data="[DONE]")], "\n"),
    ("json-array", b"data: [1,2]\n\n", [Event(data=[1, 2])], "\n"),
    ("invalid-utf8-replaced", b"data: \xff\n\n", [Event(data="\ufffd")], "\n"),
    ("missing-final-blank-line", b"data: a\n", [Event(data="a")], "\n"),
    ("missing-final-newline", b"event: e\ndata: a", [Event(event="e", data="a")], "\n"),
    ("cut-mid-json", b'data: {"a": tr', [Event(data='{"a": tr')], "\n"),
    (
        "mixed-endings-first-wins",
        b"data: a\r\n\ndata: b\r\r",
        [Event(data="a"), Event(data="b")],
        "\r\n",
    ),
    ("empty", b"", [], "\n"),
]


@pytest.mark.parametrize(
    ("raw", "expected", "eol"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES]
)
def test_event_parser_follows_the_spec(raw: bytes, expected: list[Event], eol: str) -> None:
    for size in (1, 2, 7, max(len(raw), 1)):
        assert parse_sse(chunked(raw, size)) == (expected, eol)
    assert without_delays(parse_sse([render_sse(expected, eol)])[0]) == expected


def test_feed_returns_only_the_events_each_chunk_completes() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"\ndata: b\n\ndata: c") == [Event(data="a"), Event(data="b")]
    assert parser.feed(b"\n") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\n") == [Event(data="c")]
    assert parser.flush() == []
    assert not parser.truncated


def test_ignored_lines_are_counted() -> None:
    parser = EventParser()
    parser.feed(b"foo: 1\nretry: soon\nid: a\x00\ndata: x\n\n: c\n\n")
    assert parser.ignored_lines == 3


def test_flush_reports_an_unterminated_block() -> None:
    parser = EventParser()
    parser.feed(b"data: a\n\ndata: b\n")
    assert parser.flush() == [Event(data="b")]
    assert parser.truncated


def test_crlf_cut_between_chunks_is_one_line_ending() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.eol == "\r"  # a lone CR, as far as anyone can tell yet
    assert parser.feed(b"\n\r") == [Event(data="a")]
    assert parser.eol == "\r\n"
    assert parser.feed(b"\n") == []
    assert parser.flush() == []


def test_lone_cr_at_a_chunk_end_is_confirmed_by_the_next_chunk() -> None:
    parser = EventParser()
    parser.feed(b"data: a\r")
    assert parser.feed(b"\r") == [Event(data="a")]
    assert parser.eol == "\r"


def test_a_one_megabyte_line_parses_in_any_chunking() -> None:
    text = "x" * 1_000_000
    raw = b'data: {"text": "' + text.encode() + b'"}\n\n'
    expected = [Event(data={"text": text})]
    assert parse_sse([raw])[0] == expected
    assert parse_sse(chunked(raw, 7))[0] == expected
    assert render_sse(expected, "\n") == raw.replace(b'"text": ', b'"text":')


def test_a_one_megabyte_line_fed_byte_by_byte_is_linear() -> None:
    raw = b"data: " + b"y" * 1_000_000  # no terminator at all: flush must find it
    parser = EventParser()
    for i in range(len(raw)):
        assert parser.feed(raw[i : i + 1]) == []
    assert parser.flush() == [Event(data="y" * 1_000_000)]


def test_deeply_nested_json_stays_text_instead_of_recursing() -> None:
    text = "[" * 100_000 + "]" * 100_000
    assert parse_data(text) == text
    assert parse_sse([b"data: " + text.encode() + b"\n\n"])[0] == [Event(data=text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        (" [1, 2] ", [1, 2]),
        ("[DONE]", "[DONE]"),
        ('"s"', '"s"'),
        ("1", "1"),
        ("null", "null"),
        ("", ""),
        ("[1e400]", "[1e400]"),  # out of range: kept as text rather than rounded to infinity
        ("[NaN]", "[NaN]"),
        ("[123456789012345678901234567890]", [123456789012345678901234567890]),
        ('{"a":1,"a":2}', {"a": 2}),
    ],
    ids=[
        "object",
        "array-spaced",
        "done",
        "string",
        "number",
        "null",
        "empty",
        "overflow",
        "nan",
        "big-int",
        "duplicate-key",
    ],
)
def test_parse_data_keeps_objects_and_arrays_only(text: str, expected: object) -> None:
    assert parse_data(text) == expected


# -- encoding -----------------------------------------------------------------------------


def test_encode_event_writes_fields_in_a_fixed_order() -> None:
    event = Event(comments=[" c"], id="1", event="e", data="a\nb", retry=5)
    assert encode_event(event, "\r\n") == (
        b": c\r\nid: 1\r\nevent: e\r\ndata: a\r\ndata: b\r\nretry: 5\r\n\r\n"
    )


def test_encode_event_handles_every_data_shape() -> None:
    assert encode_event(Event(data={"a": [1]})) == b'data: {"a":[1]}\n\n'
    assert encode_event(Event(event="x", data=[1])) == b"event: x\ndata: [1]\n\n"
    assert encode_event(Event(data="")) == b"data: \n\n"
    assert encode_event(Event(data=3)) == b"data: 3\n\n"  # a hand-edited number
    assert encode_event(Event(event="x")) == b"event: x\n\n"
    assert encode_event(Event(), "\r") == b"\r"


@pytest.mark.parametrize(
    ("event", "eol", "message"),
    [
        (Event(data="a"), "\n\n", "is not a valid line ending"),
        (Event(event="a\nb"), "\n", "event name 'a\\nb' contains a line break"),
        (Event(event="a\rb", data={}), "\n", "event name 'a\\rb' contains a line break"),
        (Event(id="a\rb"), "\n", "id 'a\\rb' contains a line break"),
        (Event(comments=["a\nb"]), "\n", "comment 'a\\nb' contains a line break"),
        (Event(data="a\rb"), "\n", "contains a CR"),
    ],
    ids=["eol", "event", "event-with-json", "id", "comment", "data-cr"],
)
def test_encode_event_refuses_what_would_break_the_framing(
    event: Event, eol: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_event(event, eol)


def test_encode_events_pairs_each_block_with_its_delay() -> None:
    events = [Event(data={"a": 1}, delay_ms=7), Event(event="e", data=[1]), Event(data="[DONE]")]
    assert encode_events(events, "\r\n") == [
        (7, b'data: {"a":1}\r\n\r\n'),
        (0, b"event: e\r\ndata: [1]\r\n\r\n"),
        (0, b"data: [DONE]\r\n\r\n"),
    ]
    assert encode_events([], "\r") == []
    with pytest.raises(ValueError, match="is not a valid line ending"):
        encode_events([], "")


def test_encode_line_and_its_refusal() -> None:
    assert encode_line(Event(data={"done": True})) == b'{"done":true}\n'
    assert encode_line(Event(data="not json")) == b"not json\n"
    assert encode_line(Event(data=None)) == b"null\n"
    with pytest.raises(ValueError, match="contains a LF"):
        encode_line(Event(data="a\nb"))


@pytest.mark.parametrize(
    ("raw", "expected", "final_newline"),
    [
        (b'{"a":1}\n{"a":2}\n', [{"a": 1}, {"a": 2}], True),
        (b'{"a":1}\n{"a":', [{"a": 1}, '{"a":'], False),
        (b'{"a":1}\r\n', [{"a": 1}], True),
        (b"a\n\n\nb\n", ["a", "b"], True),
        (b"plain text", ["plain text"], False),
        (b"\xef\xbb\xbf{}\n", ["\ufeff{}"], True),
        (b"", [], True),
    ],
    ids=["lines", "cut", "crlf", "blank-lines", "no-newline", "bom-kept", "empty"],
)
def test_line_parser(raw: bytes, expected: list[object], final_newline: bool) -> None:
    for size in (1, 3, max(len(raw), 1)):
        events, newline = parse_lines(chunked(raw, size))
        assert [e.data for e in events] == expected
        assert newline is final_newline


# -- properties ---------------------------------------------------------------------------

TOKENS = [
    b"\r",
    b"\n",
    b"\r\n",
    b"data",
    b"event",
    b"id",
    b"retry",
    b":",
    b" ",
    b"x",
    b"{",
    b"}",
    b"[",
    b"]",
    b"1",
    b'"',
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"DONE",
]
streams = st.one_of(
    st.binary(max_size=300), st.lists(st.sampled_from(TOKENS), max_size=120).map(b"".join)
)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@PROPERTY
@given(streams, st.lists(st.integers(min_value=0), max_size=30))
def test_sse_chunk_boundaries_never_change_the_events_500_examples(
    raw: bytes, cuts: list[int]
) -> None:
    assert parse_sse(split(raw, cuts)) == parse_sse([raw])


@PROPERTY
@given(streams)
def test_sse_parse_render_parse_is_stable_and_matches_the_reference_500_examples(
    raw: bytes,
) -> None:
    events, eol = parse_sse([raw])
    rendered = render_sse(events, eol)
    assert parse_sse([rendered])[0] == events
    assert reference_reading(rendered) == reference_reading(raw)


@PROPERTY
@given(streams, st.lists(st.integers(min_value=0), max_size=30))
def test_ndjson_chunk_boundaries_never_change_the_lines_500_examples(
    raw: bytes, cuts: list[int]
) -> None:
    events, final_newline = parse_lines(split(raw, cuts))
    assert (events, final_newline) == parse_lines([raw])
    if is_utf8(raw) and all(isinstance(e.data, str) for e in events):
        # text lines come back exactly; only blank lines are dropped
        rendered = b"".join(encode_line(e) for e in events)
        expected = b"\n".join(line for line in raw.split(b"\n") if line)
        assert rendered.rstrip(b"\n") == expected


no_break = st.text(st.characters(blacklist_characters="\r\n\x00", codec="utf-8"), max_size=20)
events_strategy = st.builds(
    Event,
    comments=st.lists(no_break, max_size=2),
    id=st.none() | no_break,
    event=st.none() | no_break,
    data=st.none()
    | st.text(st.characters(blacklist_characters="\r", codec="utf-8"), max_size=40).map(parse_data),
    retry=st.none() | st.integers(min_value=0, max_value=10**18 - 1),
).filter(lambda e: e != Event())


@PROPERTY
@given(st.lists(events_strategy, max_size=6), st.sampled_from(["\n", "\r\n", "\r"]))
def test_encode_then_parse_gives_the_events_back_500_examples(
    events: list[Event], eol: str
) -> None:
    rendered = render_sse(events, eol)
    assert parse_sse([rendered]) == (events, eol if events else "\n")
    assert parse_sse(chunked(rendered, 1))[0] == events


# -- layering -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", [_sse, _content], ids=lambda m: m.__name__)
def test_pure_module_imports_no_http_or_pytest(module: object) -> None:
    tree = ast.parse(Path(str(getattr(module, "__file__", ""))).read_text())
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    roots |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert not roots & {"httpx", "httpx2", "pytest"}
