"""Response bodies: content-encoding removed chunk by chunk, bytes to a `Body`, and back.

The transport sees the wire body, compressed if the server chose to. `IncrementalDecoder`
undoes ``content-encoding`` as the chunks arrive, so what is stored is the decoded body (and
replay drops ``content-encoding`` and ``content-length``). `build_body` picks the body kind
from the content type and the bytes; `render_body` gives the bytes to replay, one chunk per
event for streams, each with the delay recorded before it.
"""

from __future__ import annotations

import importlib
import math
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol

import msgspec

from ._cassette import (
    Binary,
    Empty,
    Event,
    Json,
    Ndjson,
    RawJson,
    RawNdjson,
    RawSse,
    Sse,
    Text,
)
from ._sse import (
    COMPACT,
    EventParser,
    LineParser,
    encode_event,
    encode_events,
    encode_line,
    encode_raw_events,
    encode_raw_lines,
    guess_separators,
    keep_raw_where_needed,
)
from ._types import JSON

__all__ = ["IncrementalDecoder", "build_body", "render_body", "supports_encoding"]

AnyBody = Empty | Json | Text | Sse | Ndjson | Binary

_NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
    }
)
_BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-protobuf",
        "application/protobuf",
        "application/msgpack",
        "application/x-msgpack",
    }
)
_BINARY_FAMILIES = ("image/", "audio/", "video/", "font/")

_decode_json = msgspec.json.decode
_encode_json = msgspec.json.Encoder().encode


class _Decompressor(Protocol):
    def decode(self, chunk: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class IncrementalDecoder:
    """Undo a ``content-encoding`` one chunk at a time.

    Knows ``identity``, ``gzip`` (``x-gzip``, several members in a row), ``deflate`` (zlib
    wrapped or raw), and ``br`` / ``zstd`` when the optional ``brotli`` (or ``brotlicffi``) /
    ``zstandard`` module imports. A list such as ``"deflate, gzip"`` is undone right to left.
    Raises ``ValueError`` for an encoding it cannot undo, and for corrupt data.

    Examples
    --------
    >>> import gzip
    >>> decoder = IncrementalDecoder("gzip")
    >>> data = gzip.compress(b"data: {}\\n\\n")
    >>> decoder.decode(data[:5]) + decoder.decode(data[5:]) + decoder.flush()
    b'data: {}\\n\\n'
    """

    def __init__(self, content_encoding: str | None) -> None:
        self.content_encoding = content_encoding
        names = [n.strip().lower() for n in (content_encoding or "").split(",")]
        # Encodings apply in the order listed, so they come off in reverse.
        self._stages = [_decompressor(n) for n in reversed(names) if n and n != "identity"]

    def decode(self, chunk: bytes) -> bytes:
        """The decoded bytes that ``chunk`` makes available (possibly none)."""
        data = bytes(chunk)
        for stage in self._stages:
            data = stage.decode(data)
        return data

    def flush(self) -> bytes:
        """Whatever is still held back at the end of the body."""
        data = b""
        for stage in self._stages:
            data = stage.decode(data) + stage.flush() if data else stage.flush()
        return data


def supports_encoding(content_encoding: str | None) -> bool:
    """Whether `IncrementalDecoder` can undo ``content_encoding`` here.

    Examples
    --------
    >>> supports_encoding("gzip"), supports_encoding(None), supports_encoding("compress")
    (True, True, False)
    """
    try:
        IncrementalDecoder(content_encoding)
    except ValueError:
        return False
    return True


def _decompressor(name: str) -> _Decompressor:
    if name in ("gzip", "x-gzip"):
        return _Gzip()
    if name == "deflate":
        return _Deflate()
    if name == "br":
        return _brotli()
    if name == "zstd":
        return _zstd()
    raise ValueError(
        f"unsupported content-encoding {name!r}: promptecho decodes gzip, deflate and identity, "
        "br when brotli is installed, and zstd when zstandard is installed"
    )


class _Gzip:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decode(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            try:
                out.append(self._z.decompress(chunk))
            except zlib.error as err:
                raise ValueError(f"invalid gzip data: {err}") from None
            if not self._z.eof:
                break
            chunk = self._z.unused_data  # another gzip member follows
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return b"".join(out)

    def flush(self) -> bytes:
        return self._z.flush()  # a body cut short yields what arrived, without raising


class _Deflate:
    """HTTP "deflate" is meant to be zlib-wrapped, but some servers send raw deflate."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj()
        self._head: bytes | None = b""  # input kept until zlib has checked its 2-byte header

    def decode(self, chunk: bytes) -> bytes:
        if self._head is None:
            return self._decode(chunk)
        self._head += chunk
        try:
            out = self._z.decompress(chunk)
        except zlib.error:  # no zlib header: start again as raw deflate
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            head, self._head = self._head, None
            return self._decode(head)
        if len(self._head) >= 2:
            self._head = None
        return out

    def _decode(self, chunk: bytes) -> bytes:
        try:
            return self._z.decompress(chunk)
        except zlib.error as err:
            raise ValueError(f"invalid deflate data: {err}") from None

    def flush(self) -> bytes:
        return self._z.flush()


def _optional_module(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _brotli() -> _Decompressor:
    module = _optional_module("brotli", "brotlicffi")
    if module is None:
        raise ValueError(
            "unsupported content-encoding 'br': install brotli (pip install brotli) "
            "to record brotli-compressed responses"
        )
    return _Brotli(module)


def _zstd() -> _Decompressor:
    module = _optional_module("zstandard")
    if module is None:
        raise ValueError(
            "unsupported content-encoding 'zstd': install zstandard (pip install zstandard) "
            "to record zstd-compressed responses"
        )
    return _Zstd(module)


class _Brotli:
    def __init__(self, module: ModuleType) -> None:
        self._d = module.Decompressor()
        self._error: type[Exception] = module.error

    def decode(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        try:
            return bytes(self._d.process(chunk))
        except self._error as err:
            raise ValueError(f"invalid br data: {err}") from None

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._d = module.ZstdDecompressor().decompressobj()
        self._error: type[Exception] = module.ZstdError

    def decode(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        out = []
        try:
            out.append(self._d.decompress(chunk))
            while self._d.eof and self._d.unused_data:  # another zstd frame follows
                unused = self._d.unused_data
                self._d = self._module.ZstdDecompressor().decompressobj()
                out.append(self._d.decompress(unused))
        except self._error as err:
            raise ValueError(f"invalid zstd data: {err}") from None
        return b"".join(bytes(part) for part in out)

    def flush(self) -> bytes:
        return b""


def build_body(
    content_type: str | None,
    chunks: Sequence[tuple[float, bytes]],
    *,
    stream_started: float,
) -> AnyBody:
    """The `Body` to store for a decoded response body that arrived as ``chunks``.

    ``chunks`` pairs each decoded chunk with its arrival time (``time.perf_counter()``
    seconds); ``stream_started`` is when the response headers arrived. Event streams keep, on
    each event, the whole milliseconds since the previous event, measured at the chunk that
    completed it. Bytes that are not UTF-8 are `Binary` whatever the content type says, and
    a stream with no event, or with lines an SSE reader ignores, is `Text`.

    Whatever the kind, `render_body` gives back exactly ``data``: a JSON document or an
    event that its value would not write back byte for byte keeps the layout or the text
    it was sent with (`Json.indent`, `Json.raw`, `Sse.separators`, `Event.raw`).

    Examples
    --------
    >>> build_body("application/json", [(0.0, b'{"ok":true}')], stream_started=0.0)
    Json(value={'ok': True}, indent=0, trailing='', raw=None)
    >>> build_body("application/json", [(0.0, b'{"ok": 1e3}')], stream_started=0.0).raw
    '{"ok": 1e3}'
    >>> build_body("text/event-stream", [(0.25, b"data: [DONE]\\n\\n")], stream_started=0.0).events
    [Event(comments=[], id=None, event=None, data='[DONE]', retry=None, delay_ms=250, raw=None)]
    """
    data = b"".join(chunk for _, chunk in chunks)
    if not data:
        return Empty()
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type in _BINARY_TYPES or media_type.startswith(_BINARY_FAMILIES):
        return Binary(data=data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Binary(data=data)
    if media_type == "text/event-stream":
        sse = EventParser()
        events = _timed_events(sse.feed, sse.flush, chunks, stream_started)
        if events and not sse.ignored_lines:
            eol = sse.eol
            separators = _least_raw(events, sse.texts, lambda seps: _sse_encoder(eol, seps))
            return Sse(events=events, eol=eol, separators=separators)
        # Not really an event stream (say, a JSON error sent with this content type), or lines
        # that events cannot carry: keep the text, which replays exactly.
        return Text(text=text)
    if media_type in _NDJSON_TYPES:
        lines = LineParser()
        events = _timed_events(lines.feed, lines.flush, chunks, stream_started)
        if events:
            if not lines.final_newline:  # compared (and kept) as if it had its LF
                lines.texts[-1] += "\n"
            separators = _least_raw(events, lines.texts, _ndjson_encoder)
            return Ndjson(events=events, final_newline=lines.final_newline, separators=separators)
        return Text(text=text)  # only blank lines
    if media_type.endswith(("/json", "+json")):
        try:
            value = _decode_json(data)
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            return _json_body(value, data, text)
    return Text(text=text)


def _json_body(value: JSON, data: bytes, text: str) -> Json:
    try:
        compact = _encode_json(value)
    except (TypeError, RecursionError, msgspec.EncodeError):
        return Json(value=value, raw=text)
    if compact == data:
        return Json(value=value)
    document = data.rstrip(b" \t\r\n")
    trailing = data[len(document) :].decode()
    if compact == document:
        return Json(value=value, trailing=trailing)
    indent = _indent_of(document)
    if indent and msgspec.json.format(compact, indent=indent) == document:
        return Json(value=value, indent=indent, trailing=trailing)
    return Json(value=value, raw=text)


def _indent_of(document: bytes) -> int:
    """The indent of a pretty-printed document's second line (0 if it has none)."""
    first_end = document.find(b"\n")
    if first_end < 0:
        return 0
    line = document[first_end + 1 : first_end + 80]
    return len(line) - len(line.lstrip(b" "))


def _sse_encoder(eol: str, separators: tuple[str, str]) -> Callable[[Event], bytes]:
    return lambda event: encode_event(event, eol, separators)


def _ndjson_encoder(separators: tuple[str, str]) -> Callable[[Event], bytes]:
    return lambda event: encode_line(event, separators)


def _least_raw(
    events: list[Event],
    texts: list[str],
    encoder: Callable[[tuple[str, str]], Callable[[Event], bytes]],
) -> tuple[str, str]:
    """Set ``raw`` on the events that need it, with the separators that make fewest need it.

    The separators tried are the compact ones and those of the first event that needs its
    ``raw`` with them (some servers write ``", "`` or ``": "`` in every event).
    """
    kept = keep_raw_where_needed(events, texts, encoder(COMPACT))
    if not kept:
        return COMPACT
    first = next(
        (e.raw for e in events if e.raw is not None and isinstance(e.data, dict | list)), None
    )
    starts = [at for at in (first.find("{"), first.find("[")) if at >= 0] if first else []
    guess = guess_separators(first[min(starts) :]) if first and starts else COMPACT
    if guess == COMPACT:
        return COMPACT
    if keep_raw_where_needed(events, texts, encoder(guess)) < kept:
        return guess
    keep_raw_where_needed(events, texts, encoder(COMPACT))
    return COMPACT


def _timed_events(
    feed: Callable[[bytes], list[Event]],
    flush: Callable[[], list[Event]],
    chunks: Sequence[tuple[float, bytes]],
    stream_started: float,
) -> list[Event]:
    # Delays come from rounded offsets since the start, so they add up to the recorded
    # total instead of drifting by a rounding error per event.
    events: list[Event] = []
    previous_ms = 0
    arrived = stream_started
    for arrived_at, chunk in chunks:
        arrived = arrived_at
        completed = feed(chunk)
        if completed:
            previous_ms = _stamp(completed, arrived - stream_started, previous_ms)
            events += completed
    last = flush()
    if last:
        _stamp(last, arrived - stream_started, previous_ms)
        events += last
    return events


def _stamp(events: list[Event], offset: float, previous_ms: int) -> int:
    now_ms = round(offset * 1000) if math.isfinite(offset) else previous_ms
    events[0].delay_ms = max(now_ms - previous_ms, 0)
    return max(now_ms, previous_ms)


def render_body(body: AnyBody | RawJson | RawSse | RawNdjson) -> list[tuple[int, bytes]]:
    """The bytes to replay: ``(delay_ms, chunk)`` pairs.

    One chunk per event for `Sse` and `Ndjson`, with its original framing; a single chunk for
    `Json` (compact), `Text` and `Binary`; none for `Empty`. Raises ``ValueError`` for a body
    that cannot be written back (say, a hand-edited line ending that is not LF, CRLF or CR).

    Examples
    --------
    >>> render_body(Sse(events=[Event(data="[DONE]", delay_ms=5)], eol="\\r\\n"))
    [(5, b'data: [DONE]\\r\\n\\r\\n')]
    >>> render_body(Json(value={"ok": True}))
    [(0, b'{"ok":true}')]
    """
    match body:
        case Sse(events=events, eol=eol, separators=separators):
            return encode_events(events, eol, separators)
        case Ndjson(events=events, final_newline=final_newline, separators=separators):
            rendered = [(event.delay_ms, encode_line(event, separators)) for event in events]
            return _without_final_newline(rendered) if not final_newline else rendered
        case RawSse(events=raw_events, eol=eol, separators=separators):
            return encode_raw_events(raw_events, eol, separators)
        case RawNdjson(events=raw_events, final_newline=final_newline, separators=separators):
            rendered = encode_raw_lines(raw_events, separators)
            return _without_final_newline(rendered) if not final_newline else rendered
        case Json(value=value, indent=indent, trailing=trailing, raw=None):
            try:
                compact = _encode_json(value)
            except (TypeError, RecursionError, msgspec.EncodeError) as err:
                raise ValueError(f"JSON body cannot be written: {err}") from None
            return [(0, _laid_out(compact, indent, trailing))]
        case RawJson(value=value, indent=indent, trailing=trailing, raw=None):
            return [(0, _laid_out(value, indent, trailing))]
        case Json(raw=str(raw)) | RawJson(raw=str(raw)):
            return [(0, raw.encode())]
        case Text(text=text):
            return [(0, text.encode())]
        case Binary(data=data):
            return [(0, data)]
        case Empty():
            return []
    raise ValueError(f"cannot render {type(body).__name__}: not a response body")


def _without_final_newline(rendered: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    if rendered:
        delay, last = rendered[-1]
        rendered[-1] = (delay, last[:-1])
    return rendered


def _laid_out(document: bytes | msgspec.Raw, indent: int, trailing: str) -> bytes:
    # msgspec.json.format changes whitespace only: -1 compacts, n > 0 indents by n.
    laid_out = msgspec.json.format(document, indent=indent or -1)
    return laid_out + trailing.encode() if trailing else laid_out
