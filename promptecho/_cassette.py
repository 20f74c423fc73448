"""The cassette file: its schema as msgspec Structs, and loading and saving it.

One ``Base`` carries the options every schema class shares (model: msgspec's
``examples/pyproject-toml``). The format carries ``version``; new fields always get
defaults and an existing field never changes type, so old cassettes keep loading.

JSON values keep the key order they had on the wire (a re-record of an unchanged call
gives no diff); Struct fields keep their declaration order.

Format 2 (``version`` 2) adds what byte-exact replay needs, only where the compact encoding of
a value would not give the bytes back (`Event.raw`, `Sse.separators`, `Json.indent`, ...), and
writes each stream event as one compact line of the otherwise pretty file. Version-1 files
load unchanged: their layout was whitespace only, and their fields are all still here.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from ._errors import CassetteError
from ._types import JSON

__all__ = [
    "FORMAT_VERSION",
    "AnyFrame",
    "Binary",
    "BinaryFrame",
    "Body",
    "Cassette",
    "CloseFrame",
    "Empty",
    "Event",
    "Failure",
    "Interaction",
    "Json",
    "JsonFrame",
    "Ndjson",
    "Pending",
    "RawEvent",
    "RawJson",
    "RawNdjson",
    "RawSse",
    "RecordedRequest",
    "RecordedResponse",
    "Refusal",
    "ReplayResponse",
    "Sse",
    "Text",
    "TextFrame",
    "Usage",
    "WebSocketSession",
    "cassette_bytes",
    "decode_for_replay",
    "decode_response",
    "encode_interaction",
    "index_from_bytes",
    "interaction_decoder",
    "read_if_exists",
    "write_atomically",
]

FORMAT_VERSION = 2


class Base(
    msgspec.Struct,
    forbid_unknown_fields=True,  # a typo in a hand-edited cassette is an error, not ignored
    omit_defaults=True,  # fields at their default stay out of the file: short, stable diffs
    kw_only=True,
):
    """Options shared by every cassette Struct."""


class Event(Base):
    """One SSE event block, or one NDJSON line.

    ``data`` holds a JSON object or array where the data parses as one, else the data as
    text (``"[DONE]"`` stays a string). ``None`` means the block had no ``data:`` line.
    ``delay_ms`` is the time since the previous event (or since the response headers)
    when it was recorded; replay uses it only when asked to.

    ``raw`` is the event's text exactly as it was sent (its block with the blank line
    that ends it, or its line with its LF), kept only when writing the fields back would
    give other bytes: another field order, ``data:`` without its space, numbers or escapes
    spelled otherwise, padding. Replay sends ``raw`` when it is set; the fields still say
    what the event means.
    """

    comments: list[str] = msgspec.field(default_factory=list)
    id: str | None = None
    event: str | None = None
    data: JSON = None
    retry: int | None = None
    delay_ms: int = 0
    raw: str | None = None


class Body(Base, tag_field="kind", tag=str.lower):
    """A response body, by kind."""


class Empty(Body):
    """No body at all (HEAD, 204, 304)."""


class Json(Body):
    """A JSON document, stored as its value so that it reads well in review.

    Replay writes the value compact, or with ``indent`` spaces (``msgspec.json.format``)
    when it was sent pretty, then ``trailing`` (say, a final newline). ``raw`` is the text
    as sent, kept only when no such layout gives the same bytes (other number spellings,
    escapes or spacing); replay then sends it.
    """

    value: JSON
    indent: int = 0
    trailing: str = ""
    raw: str | None = None


class Text(Body):
    """Text that is not JSON, stored as it was sent."""

    text: str


class Sse(Body, kw_only=True):
    """A ``text/event-stream``: its events in order, and the line ending it used.

    ``separators`` are the item and key separators of the JSON data as sent (``", "`` and
    ``": "`` from some servers), when they are not the compact ones.
    """

    events: list[Event]
    eol: str = "\n"
    separators: tuple[str, str] = (",", ":")


class Ndjson(Body, kw_only=True):
    """An ``application/x-ndjson`` / ``application/jsonl`` stream: one event per line."""

    events: list[Event]
    final_newline: bool = True
    separators: tuple[str, str] = (",", ":")


class Binary(Body):
    """Bytes replayed exactly as received; msgspec writes them as base64."""

    data: bytes


class Failure(Base):
    """A transport error: before any response, or after part of a streamed body."""

    type: str
    message: str = ""


class RecordedRequest(Base, kw_only=True):
    """What was asked: where, of which API, and the canonical body the match key comes from."""

    method: str
    url: str
    api: str
    stream: bool = False
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: JSON = None
    unparsed: str | None = None
    """Why the dialect of a known endpoint rejected the body (then ``body`` is plain JSON)."""


_B = TypeVar("_B")


class _Response(Base, Generic[_B], kw_only=True):
    """A response's fields; its body types are the subclass's (recorded or for replay)."""

    status: int
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: _B


class RecordedResponse(_Response[Empty | Json | Text | Sse | Ndjson | Binary]):
    """What came back, decoded (``content-encoding`` removed)."""


class Interaction(Base, kw_only=True):
    """One request and its outcome: a response, a failure, or a response cut short by one."""

    request: RecordedRequest
    response: RecordedResponse | None = None
    error: Failure | None = None
    recorded_at: str | None = None
    """When it was recorded: UTC, ISO 8601 to the second (absent in older cassettes)."""
    recorded_by: str | None = None
    """The promptecho version that recorded it (absent in older cassettes)."""
    usage: Usage | None = None
    """The tokens the provider said the call used (when its answer says)."""


class Usage(Base, kw_only=True):
    """Token counts read from a provider's own usage fields when the call was recorded."""

    input_tokens: int = 0
    output_tokens: int = 0


# WebSocket sessions (promptecho._frames reads and writes them; promptecho._websocket relays).


class Frame(Base, tag_field="kind", kw_only=False):
    """One WebSocket message, or the close that ended the session, in the order the relay saw it.

    ``from`` is ``"client"`` or ``"server"``; ``delay_ms`` is the time since the previous
    frame (or since the handshake) when it was recorded. (Not ``kw_only``: these two are
    written first, before the message.)
    """

    from_: str = msgspec.field(name="from")
    delay_ms: int = 0


class JsonFrame(Frame, tag="json", kw_only=True):
    """A text message that parses as JSON, stored as its value."""

    value: JSON


class TextFrame(Frame, tag="text", kw_only=True):
    """A text message that is not JSON."""

    text: str


class BinaryFrame(Frame, tag="binary", kw_only=True):
    """A binary message; msgspec writes the bytes as base64."""

    data: bytes


class CloseFrame(Frame, tag="close", kw_only=True):
    """The end of the session as one side saw it: 1006 means the connection dropped, no close frame."""

    code: int = 1000
    reason: str = ""


AnyFrame = JsonFrame | TextFrame | BinaryFrame | CloseFrame


class Refusal(Base, kw_only=True):
    """The upstream's answer when it refused the handshake (an HTTP status, not 101)."""

    status: int
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: str = ""


class WebSocketSession(Base, kw_only=True):
    """One WebSocket connection: its handshake (secrets redacted) and its frames in order."""

    path: str
    """The path and query the client asked for; secret query values are redacted."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    subprotocol: str | None = None
    refused: Refusal | None = None
    recorded_at: str | None = None
    recorded_by: str | None = None
    frames: list[AnyFrame] = msgspec.field(default_factory=list)


class Cassette(Base, kw_only=True):
    """A cassette file: the format version and the interactions in recorded order.

    ``version`` has no default so that it is always written.

    Examples
    --------
    >>> Cassette(version=1).interactions
    []
    """

    version: int
    interactions: list[Interaction] = msgspec.field(default_factory=list)
    websockets: list[WebSocketSession] = msgspec.field(default_factory=list)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read and validate a cassette; raise `CassetteError` naming the file and the problem.

        What a transport would replay: the file plus the readable lines of a journal that a
        killed (or still running) recording left beside it. Nothing is written.
        """
        from ._store import read_merged  # _store builds on this module

        data = read_merged(path)
        if data is None:
            raise CassetteError(Path(path), f"cannot be read: {os.strerror(errno.ENOENT)}")
        return cls.from_bytes(data, path)

    @classmethod
    def from_bytes(cls, data: bytes, path: str | os.PathLike[str] = "<bytes>") -> Cassette:
        """Validate a cassette held in memory; ``path`` names it in errors."""
        return _decode(_decoder, data, path)

    def to_bytes(self) -> bytes:
        """The file's bytes: pretty-printed, two-space indent, trailing newline.

        Each event of a stream is one compact line (format 2): a stream reads in review as
        one line per event, and its diff as the events that changed.
        """
        if self.websockets:  # one frame per line: see `_with_sessions`
            head = msgspec.structs.replace(self, websockets=[])
            return _with_sessions(_pretty([_encoder.encode(head)]), self.websockets)
        return _pretty([_encoder.encode(self)])

    def save(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        write_atomically(Path(path), self.to_bytes(), fsync=fsync)


class Pending(Base, kw_only=True):
    """An interaction as a replaying transport indexes it, its response not decoded yet.

    The request makes the match key, so it is decoded (and validated) with the file. The
    response stays the raw JSON it is in the file, a view of the file's bytes, until it is
    first replayed (`decode_response`): a cassette costs about its size in memory rather
    than three times that, and a response nobody replays is never built.
    """

    request: RecordedRequest
    response: msgspec.Raw = msgspec.Raw(b"null")
    error: Failure | None = None
    recorded_at: str | None = None
    recorded_by: str | None = None
    usage: Usage | None = None


class RawJson(Body, tag="json"):
    """A `Json` body as replay reads it: the value left as the JSON text in the file.

    Replay lays it out again (`msgspec.json.format`, whitespace only), the same bytes
    decoding and re-encoding the value would give, without building the value.
    """

    value: msgspec.Raw
    indent: int = 0
    trailing: str = ""
    raw: str | None = None


class RawEvent(Base):
    """An `Event` as replay reads it: ``data`` left as the JSON text in the file.

    Replay writes a JSON object or array straight from that text (compacted), without
    building the value and encoding it again: the first replay of a stream costs about
    what the bytes cost.
    """

    comments: tuple[str, ...] = ()  # a tuple: no list built for each event
    id: str | None = None
    event: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    retry: int | None = None
    delay_ms: int = 0
    raw: str | None = None


class RawSse(Body, tag="sse", kw_only=True):
    """An `Sse` body as replay reads it (see `RawEvent`)."""

    events: list[RawEvent]
    eol: str = "\n"
    separators: tuple[str, str] = (",", ":")


class RawNdjson(Body, tag="ndjson", kw_only=True):
    """An `Ndjson` body as replay reads it (see `RawEvent`)."""

    events: list[RawEvent]
    final_newline: bool = True
    separators: tuple[str, str] = (",", ":")


class ReplayResponse(_Response[Empty | RawJson | Text | RawSse | RawNdjson | Binary]):
    """A `RecordedResponse` decoded for replay: JSON values stay JSON text (`RawJson`, `RawEvent`)."""


class _Index(Base, kw_only=True):
    version: int
    interactions: list[Pending] = msgspec.field(default_factory=list)
    websockets: msgspec.Raw = msgspec.Raw(b"[]")  # HTTP replay leaves them undecoded


def index_from_bytes(data: bytes, path: str | os.PathLike[str]) -> list[Pending]:
    """The interactions of a cassette file, responses left raw (see `Pending`)."""
    return _decode(_index_decoder, data, path).interactions


def decode_response(
    raw: msgspec.Raw, path: str | os.PathLike[str], number: int
) -> RecordedResponse | None:
    """The response of interaction ``number`` of a `Pending`; a `CassetteError` if invalid."""
    return _decode_part(_response_decoder, raw, path, number)


def decode_for_replay(
    raw: msgspec.Raw, path: str | os.PathLike[str], number: int
) -> ReplayResponse | None:
    """`decode_response` for replay: a JSON body's value stays raw (see `RawJson`)."""
    return _decode_part(_replay_decoder, raw, path, number)


_R = TypeVar("_R", RecordedResponse | None, ReplayResponse | None)


def _decode_part(
    decoder: msgspec.json.Decoder[_R], raw: msgspec.Raw, path: str | os.PathLike[str], number: int
) -> _R:
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as err:
        raise CassetteError(
            path, f"is not a valid cassette ({err} in `$.interactions[{number}].response`)"
        ) from None


def read_if_exists(path: str | os.PathLike[str]) -> bytes | None:
    """A file's bytes, or None when it does not exist: one ``open``, no ``stat`` first.

    Any other failure to read it (a folder, no permission) is a `CassetteError` naming it.
    """
    # os-level calls: open, fstat, read, close. The io stack would add an isatty ioctl, a
    # seek, a second fstat and a read to see the end; every test opens its cassette.
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size + 1)
            if len(data) != size:  # a short read, or a file that grew since the fstat
                chunks = [data]
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                data = b"".join(chunks)
            return data
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise CassetteError(
            Path(path),
            "cannot be read or created: a part of its folder path is a file, not a folder. "
            "Point the cassette somewhere else (or move that file).",
        ) from None
    except OSError as err:  # a folder (EISDIR from the read), no permission...
        raise CassetteError(Path(path), f"cannot be read: {err.strerror or err}") from None


def write_atomically(path: Path, data: bytes, *, fsync: bool = False, tag: str = "") -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new, never a mix.

    The temporary file is ``.<name>.<pid>.<random>[.<tag>].tmp``, created with ``O_EXCL``
    (never through a symlink); a fold tags its own so that the next fold can tell one a
    killed fold left (see `_store`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # (tempfile.mkstemp does this too, but importing tempfile costs more than this line.)
    suffix = f".{tag}.tmp" if tag else ".tmp"
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}{suffix}"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_C = TypeVar("_C", Cassette, _Index)


def _decode(decoder: msgspec.json.Decoder[_C], data: bytes, path: str | os.PathLike[str]) -> _C:
    try:
        cassette = decoder.decode(data)
    except msgspec.DecodeError as err:  # ValidationError included
        # Say "upgrade" rather than "unknown field" for a file from a newer promptecho.
        _check_version(data, path)
        if isinstance(err, msgspec.ValidationError):
            raise CassetteError(path, f"is not a valid cassette ({err})") from None
        raise CassetteError(path, f"is not valid JSON ({err})") from None
    except RecursionError:
        raise CassetteError(path, "is nested too deeply to be a cassette") from None
    _check_known(path, cassette.version)
    return cassette


def _check_version(data: bytes, path: str | os.PathLike[str]) -> None:
    try:
        header = _header_decoder.decode(data)
    except msgspec.ValidationError as err:
        raise CassetteError(path, f"is not a promptecho cassette ({err})") from None
    except (msgspec.DecodeError, RecursionError):
        return  # not JSON at all: the caller says so
    _check_known(path, header.version)


def _check_known(path: str | os.PathLike[str], version: int) -> None:
    if version < 1:
        raise CassetteError(
            path,
            f"has format version {version}, which no promptecho writes (versions start at 1): "
            "the file is damaged or was not written by promptecho",
        )
    if version > FORMAT_VERSION:
        raise _newer(path, version)


def _newer(path: str | os.PathLike[str], version: int) -> CassetteError:
    return CassetteError(
        path,
        f"has format version {version}, but this promptecho reads versions up to "
        f"{FORMAT_VERSION}: upgrade promptecho (pip install -U promptecho)",
    )


class _Header(msgspec.Struct):
    version: int = FORMAT_VERSION


# Built once: decoders and encoders are reusable and cheap to keep (msgspec perf tips).
_header_decoder = msgspec.json.Decoder(_Header)
_decoder = msgspec.json.Decoder(Cassette)
_index_decoder = msgspec.json.Decoder(_Index)
_response_decoder: msgspec.json.Decoder[RecordedResponse | None] = msgspec.json.Decoder(
    RecordedResponse | None
)
_replay_decoder: msgspec.json.Decoder[ReplayResponse | None] = msgspec.json.Decoder(
    ReplayResponse | None
)
_encoder = msgspec.json.Encoder()

encode_interaction = _encoder.encode
"""An interaction's compact JSON: a journal line, and what `cassette_bytes` splices."""


def _pretty(holder: list[bytes]) -> bytes:
    """A compact cassette laid out as the file: pretty, each stream event on one line.

    The compact bytes come in a one-item list that this empties, so that no caller keeps
    them alive while the laid-out copy is made: a large cassette without streams is then
    held twice at most, not three times.
    """
    compact = holder.pop()
    layout = _stream_layout(compact)
    if layout is None:  # no stream: plain pretty-printing
        formatted = msgspec.json.format(compact, indent=2)
        del compact
        return formatted + b"\n"
    pieces, streams = layout
    laid_out = msgspec.json.format(b"".join(pieces), indent=2).split(_PRETTY_PLACEHOLDER)
    if len(laid_out) != len(streams) + 1:  # the placeholder's text was in the data too
        return msgspec.json.format(compact, indent=2) + b"\n"
    out = [laid_out[0]]
    for events, after in zip(streams, laid_out[1:], strict=True):
        out += (_EVENTS_OPEN, _EVENT_SEPARATOR.join(events), _EVENTS_CLOSE, after)
    out.append(b"\n")
    return b"".join(out)


def _stream_layout(compact: bytes) -> tuple[list[bytes], list[list[msgspec.Raw]]] | None:
    """Each stream's events array swapped for a placeholder string (the rest is then
    pretty-printed and the placeholders replaced by one line per event); None without one.

    The events are slices of the compact document, so an array is found by its exact bytes.
    """
    try:
        shape = _shape_decoder.decode(compact)
    except msgspec.DecodeError:  # not a cassette's shape: laid out plainly
        return None
    pieces: list[bytes] = []
    streams: list[list[msgspec.Raw]] = []
    start = 0
    for interaction in shape.interactions:
        response = interaction.response
        events = response.body.events if response is not None and response.body else None
        if not events:
            continue
        array = b'"events":[' + b",".join(events) + b"]"
        at = compact.find(array, start)
        if at < 0:
            continue
        pieces += (compact[start:at], _PLACEHOLDER)
        streams.append(events)
        start = at + len(array)
    if not streams:
        return None
    pieces.append(compact[start:])
    return pieces, streams


# The events array sits at a fixed depth: $.interactions[i].response.body.events.
_PLACEHOLDER = b'"events":"\\u0000promptecho-events"'
_PRETTY_PLACEHOLDER = b'"events": "\\u0000promptecho-events"'
_EVENTS_OPEN = b'"events": [\n' + b" " * 12
_EVENT_SEPARATOR = b",\n" + b" " * 12
_EVENTS_CLOSE = b"\n" + b" " * 10 + b"]"


class _StreamShape(msgspec.Struct):
    events: list[msgspec.Raw] | None = None


class _ResponseShape(msgspec.Struct):
    body: _StreamShape | None = None


class _InteractionShape(msgspec.Struct):
    response: _ResponseShape | None = None


class _CassetteShape(msgspec.Struct):
    """Where the events are in a cassette; every other field is skipped."""

    interactions: list[_InteractionShape] = msgspec.field(default_factory=list)


_shape_decoder = msgspec.json.Decoder(_CassetteShape)


def cassette_bytes(interactions: list[bytes], websockets: Sequence[WebSocketSession] = ()) -> bytes:
    """`Cassette.to_bytes` of a cassette whose interactions are already JSON-encoded.

    The same bytes as building the `Cassette` and encoding it (a property test checks it).
    ``websockets`` are the cassette's WebSocket sessions, kept as they are. ``interactions``
    is emptied: the lines are joined once and released, so a fold of a large journal holds
    about two copies of the cassette at a time, not four.
    """
    if not interactions:  # omit_defaults: an empty list is left out of the file
        return Cassette(version=FORMAT_VERSION, websockets=list(websockets)).to_bytes()
    parts = [b'{"version":%d,"interactions":[' % FORMAT_VERSION]
    for n in range(len(interactions)):
        if n:
            parts.append(b",")
        parts.append(interactions[n])
    parts.append(b"]}")
    interactions.clear()
    compact = [b"".join(parts)]
    del parts
    head = _pretty(compact)
    return _with_sessions(head, websockets) if websockets else head


def _with_sessions(head: bytes, sessions: Sequence[WebSocketSession]) -> bytes:
    """``head`` (a pretty cassette without sessions) with ``sessions`` added, one frame per line.

    A frame pretty-printed field by field would take a dozen lines; one line each keeps a
    session readable in review. Only whitespace differs from the plain pretty-printing.
    TODO(format 2): the format-2 printer writes one stream event per line; this can join it.
    """
    parts = []
    for session in sessions:
        shell = _encoder.encode(msgspec.structs.replace(session, frames=[]))
        shell = msgspec.json.format(shell, indent=2).replace(b"\n", b"\n    ")
        if session.frames:  # `frames` is the last field: it goes before the closing brace
            lines = b",\n".join(b"        " + _encoder.encode(f) for f in session.frames)
            shell = shell[: -len(b"\n    }")] + b',\n      "frames": [\n%b\n      ]\n    }' % lines
        parts.append(b"    " + shell)
    return head[: -len(b"\n}\n")] + b',\n  "websockets": [\n%b\n  ]\n}\n' % b",\n".join(parts)


interaction_decoder = msgspec.json.Decoder(Interaction)
