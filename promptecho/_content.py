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
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
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

__all__ = [
    "DRAIN_BYTES",
    "DRAIN_SECONDS",
    "PIECE",
    "DecodedSize",
    "IncrementalDecoder",
    "StreamCut",
    "build_body",
    "drain_cut",
    "render_body",
    "supports_encoding",
]

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
_STREAM_TYPES = _NDJSON_TYPES | {"text/event-stream"}

_decode_json = msgspec.json.decode
_encode_json = msgspec.json.Encoder().encode


PIECE = 1 << 20
"""Bytes of decoded output produced at a time: a small body that inflates to gigabytes
is counted (and refused) piece by piece, never held whole."""


class _Decompressor(Protocol):
    def feed(self, chunk: bytes) -> None: ...
    def read(self, limit: int) -> bytes: ...
    def flush(self) -> bytes: ...


class IncrementalDecoder:
    """Undo a ``content-encoding`` one chunk at a time.

    Knows ``identity``, ``gzip`` (``x-gzip``, several members in a row), ``deflate`` (zlib
    wrapped or raw), and ``br`` / ``zstd`` when the optional ``brotli`` (or ``brotlicffi``) /
    ``zstandard`` module imports. A list such as ``"deflate, gzip"`` (or the same header
    sent twice, joined so) is undone right to left, every step of it. Raises ``ValueError``
    for an encoding it cannot undo, and for corrupt data.

    gzip and deflate decode at most `PIECE` bytes at a time (`pieces`, `count`): what a
    compressed chunk inflates to is never built whole unless asked for (`decode`).

    Examples
    --------
    >>> import gzip
    >>> decoder = IncrementalDecoder("gzip")
    >>> data = gzip.compress(b"data: {}\\n\\n")
    >>> decoder.decode(data[:5]) + decoder.decode(data[5:]) + decoder.flush()
    b'data: {}\\n\\n'
    >>> IncrementalDecoder("gzip, gzip").count(gzip.compress(gzip.compress(bytes(10**7))))
    10000000
    """

    def __init__(self, content_encoding: str | None) -> None:
        self.content_encoding = content_encoding
        names = [n.strip().lower() for n in (content_encoding or "").split(",")]
        # Encodings apply in the order listed, so they come off in reverse.
        self._stages = [_decompressor(n) for n in reversed(names) if n and n != "identity"]

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded bytes ``chunk`` makes available, at most `PIECE` bytes at a time."""
        if not self._stages:
            if chunk:
                yield bytes(chunk)
            return
        self._stages[0].feed(bytes(chunk))
        while piece := self._pull(len(self._stages) - 1):
            yield piece

    def _pull(self, n: int) -> bytes:
        # Up to PIECE bytes out of stage n, feeding it from stage n - 1 as it runs dry.
        stage = self._stages[n]
        while not (out := stage.read(PIECE)) and n:
            upstream = self._pull(n - 1)
            if not upstream:
                break
            stage.feed(upstream)
        return out

    def decode(self, chunk: bytes) -> bytes:
        """The decoded bytes that ``chunk`` makes available (possibly none)."""
        return b"".join(self.pieces(chunk))

    def count(self, chunk: bytes) -> int:
        """How many decoded bytes ``chunk`` makes available, without keeping them."""
        return sum(map(len, self.pieces(chunk)))

    def flush(self) -> bytes:
        """Whatever is still held back at the end of the body."""
        data = b""
        for stage in self._stages:
            if data:
                stage.feed(data)
            parts = []
            while part := stage.read(PIECE):
                parts.append(part)
            parts.append(stage.flush())
            data = b"".join(parts)
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


class DecodedSize:
    """Counts the decoded bytes of a body as its wire chunks arrive (a call per chunk).

    What is refused past `MAX_RECORDED_BODY` is what a body decodes to, counted a `PIECE`
    at a time, so a small compressed body that inflates to gigabytes is refused before it
    costs the memory. A body that cannot be decoded counts its wire bytes (it is kept so).

    Examples
    --------
    >>> import gzip
    >>> size = DecodedSize("gzip")
    >>> size(gzip.compress(bytes(10**6)))
    1000000
    """

    __slots__ = ("_decoder",)

    def __init__(self, content_encoding: str | None) -> None:
        try:
            self._decoder: IncrementalDecoder | None = IncrementalDecoder(content_encoding)
        except ValueError:
            self._decoder = None

    def __call__(self, chunk: bytes) -> int:
        if self._decoder is not None:
            try:
                return self._decoder.count(chunk)
            except ValueError:  # corrupt: recording keeps the wire bytes, so count those
                self._decoder = None
        return len(chunk)


DRAIN_SECONDS = 2.0
"""How long closing a recorded stream the caller left unfinished reads on to record it."""
DRAIN_BYTES = 4 * 1024 * 1024
"""How many more (decoded) bytes it reads at most."""


class StreamCut(Exception):
    """Recorded as the `Failure` of a stream whose drain was cut short (replay raises it as
    the flavour's ``TransportError``, where the recording stopped)."""


def drain_cut(cassette: object, size: int, seconds: float, limit: int) -> StreamCut:
    """The failure to record for a stream closed early and not drained to its end, warned.

    Choice: record what arrived and how it ended (this failure), not nothing: a test that
    closed the stream early replays the part it read, exactly as before.
    """
    message = (
        f"promptecho stopped reading this stream after {size} bytes: the caller closed it "
        f"early, and draining the rest to record it passed the bound ({seconds:g} s or "
        f"{limit} more bytes). The recording ends here."
    )
    warnings.warn(f"{cassette}: {message}", RuntimeWarning, stacklevel=4)
    return StreamCut(message)


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


class _Zlib:
    """zlib's decompressor, fed whole chunks and read a bounded piece at a time."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._z = zlib.decompressobj(wbits)
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        self._pending = self._pending + chunk if self._pending else chunk

    def read(self, limit: int) -> bytes:
        out = b""
        while self._pending and not out:
            out = self._decompress(self._pending, limit)
            self._pending = self._z.unconsumed_tail
            if self._z.eof:
                self._pending = self._next_member(self._z.unused_data)
        return out

    def _decompress(self, data: bytes, limit: int) -> bytes:
        try:
            return self._z.decompress(data, limit)
        except zlib.error as err:
            raise ValueError(f"invalid {self._name} data: {err}") from None

    def _next_member(self, unused: bytes) -> bytes:
        return b""  # deflate: bytes after the end are ignored, as zlib does

    _name = "deflate"

    def flush(self) -> bytes:
        return self._z.flush()  # a body cut short yields what arrived, without raising


class _Gzip(_Zlib):
    _name = "gzip"

    def __init__(self) -> None:
        super().__init__(16 + zlib.MAX_WBITS)

    def _next_member(self, unused: bytes) -> bytes:
        self._z = zlib.decompressobj(self._wbits)  # another gzip member may follow
        return unused


class _Deflate(_Zlib):
    """HTTP "deflate" is meant to be zlib-wrapped, but some servers send raw deflate."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS)
        self._head: bytes | None = b""  # input kept until zlib has checked its 2-byte header

    def _decompress(self, data: bytes, limit: int) -> bytes:
        if self._head is None:
            return super()._decompress(data, limit)
        self._head += data
        try:
            out = self._z.decompress(data, limit)
        except zlib.error:  # no zlib header: start again as raw deflate
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            head, self._head = self._head, None
            return super()._decompress(head, limit)
        if len(self._head) >= 2:
            self._head = None
        return out


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
        self._out = b""  # decoded whole, chunk by chunk: brotli has no output bound here

    def feed(self, chunk: bytes) -> None:
        if chunk:
            try:
                self._out += bytes(self._d.process(chunk))
            except self._error as err:
                raise ValueError(f"invalid br data: {err}") from None

    def read(self, limit: int) -> bytes:
        out, self._out = self._out, b""
        return out

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._d = module.ZstdDecompressor().decompressobj()
        self._error: type[Exception] = module.ZstdError
        self._out = b""  # decoded whole, chunk by chunk: zstandard has no output bound here

    def feed(self, chunk: bytes) -> None:
        if chunk:
            self._out += self._decode(chunk)

    def read(self, limit: int) -> bytes:
        out, self._out = self._out, b""
        return out

    def _decode(self, chunk: bytes) -> bytes:
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
    if media_type in _STREAM_TYPES and _too_many_lines(data):
        # Kept as text: it replays the same bytes, in one chunk and without its timing, at a
        # cost of about its size, where an object per event costs far more than tiny events.
        return Text(text=text)
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


MANY_LINES = 10_000
"""A stream of more lines than this, averaging under `SMALL_LINE` bytes, is stored as `Text`."""
SMALL_LINE = 128


def _too_many_lines(data: bytes) -> bool:
    lines = data.count(b"\n") + data.count(b"\r")  # CR or CRLF ends SSE lines too: an upper bound
    return lines > MANY_LINES and len(data) < lines * SMALL_LINE


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
