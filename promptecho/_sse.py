"""Server-sent events and NDJSON: incremental parsing into `Event` Structs, and back to bytes.

`EventParser` follows the WHATWG event-stream rules (LF, CRLF and CR line endings, a BOM at
the start, ``:`` comments, multi-line ``data``, ``id``, integer ``retry``, a field without a
colon) and is fed bytes in chunks of any size: the events it returns do not depend on where
the chunks were cut. `LineParser` does the same for NDJSON, one event per non-empty line.

Where the spec and a faithful re-emitter disagree, the re-emitter wins: a block that is only a
comment (``: ping``) or has no ``data`` line is still an `Event`, a comment keeps its text
after the colon verbatim (``" ping"``, leading space included, so ``:ping`` and ``: ping`` both
come back as sent), and a final block that ends without its blank line is returned by
``flush()`` (the spec would drop it).

``Event.data`` holds the parsed value when the data is a JSON object or array, and the text
otherwise (``"[DONE]"``, plain text, and JSON strings or numbers stay text). `encode_event`
writes a block back in a fixed order (comments, id, event, data, retry) with the stream's line
ending; JSON data comes back compact.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ._cassette import Event
from ._types import JSON

__all__ = [
    "EOLS",
    "EventParser",
    "LineParser",
    "encode_event",
    "encode_events",
    "encode_line",
    "parse_data",
]

EOLS: tuple[str, ...] = ("\n", "\r\n", "\r")
"""The line endings an event stream may use."""

_BOM = b"\xef\xbb\xbf"
_RETRY_MAX_DIGITS = 18  # larger values cannot be an int64 in the cassette; browsers ignore them too
_JSON_WHITESPACE = " \t\r\n"

_decode_json = msgspec.json.decode
_encode_json = msgspec.json.Encoder().encode


def parse_data(text: str) -> JSON:
    """The value to store for ``text``: a JSON object or array parsed, anything else as text.

    Examples
    --------
    >>> parse_data('{"a": 1}'), parse_data("[DONE]"), parse_data("42")
    ({'a': 1}, '[DONE]', '42')
    """
    start = text.lstrip(_JSON_WHITESPACE)[:1]
    if start != "{" and start != "[":
        return text
    try:
        value = _decode_json(text)
    except (msgspec.DecodeError, RecursionError):  # malformed, out of range, or nested too deep
        return text
    return value if isinstance(value, dict | list) else text


class EventParser:
    """Incremental ``text/event-stream`` parser.

    ``feed(chunk)`` returns the events that chunk completed; ``flush()`` returns a final event
    that arrived without its blank line. ``eol`` is the line ending the stream used, taken from
    the first line ending seen (``"\\n"`` until one is seen). ``truncated`` is true after a
    ``flush()`` that found an unterminated block. ``ignored_lines`` counts the lines the spec
    says to ignore (an unknown field, a ``retry`` that is not an integer, an ``id`` with NUL):
    an event carries no trace of them, so re-encoding cannot give them back.

    Examples
    --------
    >>> p = EventParser()
    >>> p.feed(b"event: ping\\r\\ndata: {}\\r\\n\\r")
    [Event(comments=[], id=None, event='ping', data={}, retry=None, delay_ms=0)]
    >>> p.feed(b"\\n: keep-alive\\r\\n"), p.flush(), p.eol
    ([], [Event(comments=[' keep-alive'], id=None, event=None, data=None, retry=None, delay_ms=0)], '\\r\\n')
    """

    def __init__(self) -> None:
        self.eol = "\n"
        self.truncated = False
        self.ignored_lines = 0
        self._buf = bytearray()  # bytes after the last line ending: the start of an unfinished line
        self._pending_cr = False  # the last chunk ended in CR; a LF starting the next is its pair
        self._eol_known = False
        self._first_line = True  # the only line that may start with a BOM
        self._reset_block()

    def _reset_block(self) -> None:
        self._comments: list[str] = []
        self._id: str | None = None
        self._event: str | None = None
        self._data: list[str] = []
        self._retry: int | None = None
        self._has_content = False

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse ``chunk``; return the events it completed, in order."""
        if not chunk:
            return []
        data = bytes(chunk)
        if self._pending_cr:
            self._pending_cr = False
            if data[0] == 0x0A:  # the LF of a CRLF that was cut between chunks
                if not self._eol_known:
                    self.eol = "\r\n"
                    self._eol_known = True
                data = data[1:]
                if not data:
                    return []
            elif not self._eol_known:
                self._eol_known = True  # it was a lone CR, as already assumed
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if last < 0:
            self._buf += data
            return []
        if not self._eol_known:
            self._detect_eol(data)
        if self._buf:
            self._buf += data[: last + 1]
            complete = bytes(self._buf)
            self._buf = bytearray(data[last + 1 :])
        else:
            complete = data[: last + 1]
            self._buf = bytearray(data[last + 1 :])
        self._pending_cr = last == len(data) - 1 and data[last] == 0x0D
        events: list[Event] = []
        for line in complete.splitlines():  # bytes.splitlines splits on CR, LF and CRLF only
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[Event]:
        """End of stream: the event of an unterminated final block, if it has any content."""
        self._pending_cr = False
        self._eol_known = True
        if self._buf:
            line = bytes(self._buf)
            self._buf = bytearray()
            self._line(line)
        self.truncated = self._has_content
        event = self._dispatch()
        return [] if event is None else [event]

    def _detect_eol(self, data: bytes) -> None:
        lf, cr = data.find(b"\n"), data.find(b"\r")
        if cr < 0 or 0 <= lf < cr:
            self.eol = "\n"
        elif cr + 1 < len(data):
            self.eol = "\r\n" if data[cr + 1] == 0x0A else "\r"
        else:  # CR at the very end of this chunk: CRLF or CR, the next chunk decides
            self.eol = "\r"
            return
        self._eol_known = True

    def _line(self, raw: bytes) -> Event | None:
        if self._first_line:
            self._first_line = False
            if raw.startswith(_BOM):
                raw = raw[3:]
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            self._comments.append(line[1:])
            self._has_content = True
            return None
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" in value:  # the spec ignores such an id
                self.ignored_lines += 1
                return None
            self._id = value
        elif name == "retry":
            if not (value.isascii() and value.isdigit() and len(value) <= _RETRY_MAX_DIGITS):
                self.ignored_lines += 1
                return None
            self._retry = int(value)
        else:  # an unknown field: ignored, as the spec says
            self.ignored_lines += 1
            return None
        self._has_content = True
        return None

    def _dispatch(self) -> Event | None:
        if not self._has_content:
            return None
        event = Event(
            comments=self._comments,
            id=self._id,
            event=self._event,
            data=parse_data("\n".join(self._data)) if self._data else None,
            retry=self._retry,
        )
        self._reset_block()
        return event


def encode_event(event: Event, eol: str = "\n") -> bytes:
    """One event block, fields in the order comments, id, event, data, retry, then a blank line.

    Raises ``ValueError`` for a line ending other than LF, CRLF or CR, for a name, id or
    comment that contains a line break (it would split the block), or for data that cannot
    be written as JSON.

    Examples
    --------
    >>> encode_event(Event(event="done", data={"ok": True}), "\\r\\n")
    b'event: done\\r\\ndata: {"ok":true}\\r\\n\\r\\n'
    """
    return encode_events([event], eol)[0][1]


def encode_events(events: Sequence[Event], eol: str = "\n") -> list[tuple[int, bytes]]:
    """``(delay_ms, block)`` for each event, as `encode_event` writes it: what replay sends.

    Examples
    --------
    >>> encode_events([Event(data={"n": 1}, delay_ms=40), Event(data="[DONE]")])
    [(40, b'data: {"n":1}\\n\\n'), (0, b'data: [DONE]\\n\\n')]
    """
    if eol not in EOLS:
        raise ValueError(
            f"{eol!r} is not a valid line ending. Valid line endings are: {_EOL_LIST}."
        )
    end = eol.encode()
    blank = end + end
    encode_json = _encode_json
    blocks: list[tuple[int, bytes]] = []
    append = blocks.append
    try:
        for event in events:
            data = event.data
            # Fast paths for the blocks LLM streams are made of: a JSON object, with or
            # without an event name, and nothing else.
            if (
                data.__class__ is dict
                and not event.comments
                and event.id is None
                and event.retry is None
            ):
                name = event.event
                if name is None:
                    append((event.delay_ms, b"data: " + encode_json(data) + blank))
                    continue
                if "\n" not in name and "\r" not in name:
                    block = b"event: " + name.encode() + end + b"data: " + encode_json(data) + blank
                    append((event.delay_ms, block))
                    continue
            append((event.delay_ms, _encode_block(event, end)))
    except (TypeError, RecursionError, msgspec.EncodeError) as err:
        raise ValueError(f"event {len(blocks)} cannot be written as SSE: {err}") from None
    return blocks


def _encode_block(event: Event, end: bytes) -> bytes:
    parts: list[bytes] = []
    for comment in event.comments:
        parts.append(b":" + _single_line("comment", comment) + end)
    if event.id is not None:
        parts.append(b"id: " + _single_line("id", event.id) + end)
    if event.event is not None:
        parts.append(b"event: " + _single_line("event name", event.event) + end)
    data = event.data
    if data is None:
        pass
    elif isinstance(data, str):
        if "\r" in data:
            raise ValueError(f"event data {data!r} contains a CR; only LF may separate data lines")
        parts.extend(b"data: " + line.encode() + end for line in data.split("\n"))
    else:
        parts.append(b"data: " + _encode_json(data) + end)
    if event.retry is not None:
        parts.append(b"retry: " + str(int(event.retry)).encode() + end)
    parts.append(end)
    return b"".join(parts)


def _single_line(what: str, text: str) -> bytes:
    if "\n" in text or "\r" in text:
        raise ValueError(f"SSE {what} {text!r} contains a line break")
    return text.encode()


_EOL_LIST = ", ".join(repr(eol) for eol in EOLS)


class LineParser:
    """Incremental NDJSON parser: one `Event` (``data`` only) per non-empty line.

    Lines end with LF; a CR before it stays part of the line (JSON parsing ignores it).
    ``final_newline`` is false after a ``flush()`` that found a last line without its LF.

    Examples
    --------
    >>> p = LineParser()
    >>> p.feed(b'{"done": false}\\n{"do'), p.feed(b'ne": true}'), p.flush(), p.final_newline
    ([Event(comments=[], id=None, event=None, data={'done': False}, retry=None, delay_ms=0)], [], \
[Event(comments=[], id=None, event=None, data={'done': True}, retry=None, delay_ms=0)], False)
    """

    def __init__(self) -> None:
        self.final_newline = True
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse ``chunk``; return one event per line it completed."""
        data = bytes(chunk)
        last = data.rfind(b"\n")
        if last < 0:
            self._buf += data
            return []
        if self._buf:
            self._buf += data[:last]
            complete = bytes(self._buf)
        else:
            complete = data[:last]
        self._buf = bytearray(data[last + 1 :])
        return [
            Event(data=parse_data(line.decode("utf-8", "replace")))
            for line in complete.split(b"\n")
            if line
        ]

    def flush(self) -> list[Event]:
        """End of stream: an event for a last line that had no LF."""
        if not self._buf:
            return []
        line = bytes(self._buf)
        self._buf = bytearray()
        self.final_newline = False
        return [Event(data=parse_data(line.decode("utf-8", "replace")))]


def encode_line(event: Event) -> bytes:
    """One NDJSON line with its LF: JSON data compact, text as it was.

    Raises ``ValueError`` for text data that contains a LF (it would be two lines), or for
    data that cannot be written as JSON.

    Examples
    --------
    >>> encode_line(Event(data={"done": True}))
    b'{"done":true}\\n'
    """
    data = event.data
    if isinstance(data, str):
        if "\n" in data:
            raise ValueError(f"NDJSON line {data!r} contains a LF")
        return data.encode() + b"\n"
    try:
        return _encode_json(data) + b"\n"
    except (TypeError, RecursionError, msgspec.EncodeError) as err:
        raise ValueError(f"NDJSON line cannot be written as JSON: {err}") from None
