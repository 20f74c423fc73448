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
ending; JSON data comes back compact, or with the stream's separators.

Both parsers also keep, in ``texts``, each event's text as it arrived, so that no byte is
lost: the blank lines and ignored lines before an event are part of its text, and those after
the last event are added to the last one's. `keep_raw_where_needed` sets ``Event.raw`` from
them only on the events that do not encode back to the same bytes: hardly any.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import msgspec

from ._cassette import Event, RawEvent
from ._types import JSON

__all__ = [
    "EOLS",
    "EventParser",
    "LineParser",
    "encode_event",
    "encode_events",
    "encode_line",
    "encode_raw_events",
    "encode_raw_lines",
    "keep_raw_where_needed",
    "parse_data",
]

EOLS: tuple[str, ...] = ("\n", "\r\n", "\r")
"""The line endings an event stream may use."""

_BOM = b"\xef\xbb\xbf"
_RETRY_MAX_DIGITS = 18  # larger values cannot be an int64 in the cassette; browsers ignore them too
_JSON_WHITESPACE = " \t\r\n"

_decode_json = msgspec.json.decode
_encode_json = msgspec.json.Encoder().encode

COMPACT: tuple[str, str] = (",", ":")
"""msgspec's item and key separators."""

# A JSON string (escapes included) or a separator, in compact JSON.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[,:]')


def json_encoder(separators: tuple[str, str] = COMPACT) -> Callable[[JSON], bytes]:
    """An encoder writing JSON with these item and key separators (and no other whitespace).

    Examples
    --------
    >>> json_encoder((", ", ": "))({"a": [1, 2], "b": "x,y:z"})
    b'{"a": [1, 2], "b": "x,y:z"}'
    """
    if separators == COMPACT:
        return _encode_json
    respace = _respacer(separators)
    return lambda value: respace(_encode_json(value))


def _respacer(separators: tuple[str, str]) -> Callable[[bytes], bytes]:
    """Compact JSON text to the same text with these separators."""
    if separators == COMPACT:
        return bytes
    item, key = separators[0].encode(), separators[1].encode()

    def replace(match: re.Match[bytes]) -> bytes:
        token = match[0]
        if token == b",":
            return item
        return key if token == b":" else token

    return lambda text: _JSON_TOKEN.sub(replace, text)


def _compact(data: msgspec.Raw) -> bytes:
    """The JSON text of a `RawEvent`'s data, compact.

    Format 2 writes every event on one compact line, so text without a line break is taken
    as it is (a hand-edited line is sent as written); a version-1 file's pretty data is
    compacted (``msgspec.json.format``, whitespace only).
    """
    text = bytes(data)
    return msgspec.json.format(text, indent=-1) if b"\n" in text else text


def _event_of(raw: RawEvent) -> Event:
    """The `Event` a `RawEvent` stands for, its data decoded."""
    return Event(
        comments=list(raw.comments),
        id=raw.id,
        event=raw.event,
        data=_decode_json(raw.data),
        retry=raw.retry,
        delay_ms=raw.delay_ms,
    )


def guess_separators(text: str) -> tuple[str, str]:
    """The separators a JSON text uses, going by its first ones outside strings.

    Examples
    --------
    >>> guess_separators('{"a": [1,2]}'), guess_separators('{"a":1, "b":2}')
    ((',', ': '), (', ', ':'))
    """
    found = {b",": ",", b":": ":"}
    seen: set[bytes] = set()
    data = text.encode()
    for match in _JSON_TOKEN.finditer(data):
        token = match[0]
        if token in found and token not in seen:
            seen.add(token)
            end = match.end()
            found[token] = token.decode() + (" " if data[end : end + 1] == b" " else "")
            if len(seen) == 2:
                break
    return found[b","], found[b":"]


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
    [Event(comments=[], id=None, event='ping', data={}, retry=None, delay_ms=0, raw=None)]
    >>> [e.comments for e in p.feed(b"\\n: keep-alive\\r\\n") + p.flush()], p.eol, p.texts
    ([[' keep-alive']], '\\r\\n', ['event: ping\\r\\ndata: {}\\r\\n\\r\\n', ': keep-alive\\r\\n'])
    """

    def __init__(self) -> None:
        self.eol = "\n"
        self.truncated = False
        self.ignored_lines = 0
        self._buf = bytearray()  # bytes after the last line ending: the start of an unfinished line
        self._pending_cr = False  # the last chunk ended in CR; a LF starting the next is its pair
        self._eol_known = False
        self._first_line = True  # the only line that may start with a BOM
        self.texts: list[str] = []  # each event's text as it arrived, in order
        self._raw: list[bytes] = []  # the bytes of the block so far, line endings included
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
                self._raw_lf()
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
        raw = self._raw
        # bytes.splitlines splits on CR, LF and CRLF only
        for ended in complete.splitlines(keepends=True):
            raw.append(ended)
            event = self._line(ended.rstrip(b"\r\n"))
            if event is not None:
                events.append(event)
        return events

    def _raw_lf(self) -> None:
        if not self._raw and self.texts:  # the CR ended the block: the LF belongs to its event
            self.texts[-1] += "\n"
        else:
            self._raw.append(b"\n")

    def flush(self) -> list[Event]:
        """End of stream: the event of an unterminated final block, if it has any content."""
        self._pending_cr = False
        self._eol_known = True
        if self._buf:
            line = bytes(self._buf)
            self._buf = bytearray()
            self._raw.append(line)
            self._line(line)
        self.truncated = self._has_content
        event = self._dispatch()
        if self._raw and self.texts:  # blank or ignored lines after the last event
            self.texts[-1] += b"".join(self._raw).decode("utf-8", "replace")
            self._raw.clear()
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
        self.texts.append(b"".join(self._raw).decode("utf-8", "replace"))
        self._raw.clear()
        self._reset_block()
        return event


def encode_event(event: Event, eol: str = "\n", separators: tuple[str, str] = COMPACT) -> bytes:
    """One event block, fields in the order comments, id, event, data, retry, then a blank line.

    Raises ``ValueError`` for a line ending other than LF, CRLF or CR, for a name, id or
    comment that contains a line break (it would split the block), or for data that cannot
    be written as JSON. An event with ``raw`` is its ``raw`` text.

    Examples
    --------
    >>> encode_event(Event(event="done", data={"ok": True}), "\\r\\n")
    b'event: done\\r\\ndata: {"ok":true}\\r\\n\\r\\n'
    """
    return encode_events([event], eol, separators)[0][1]


def encode_events(
    events: Sequence[Event], eol: str = "\n", separators: tuple[str, str] = COMPACT
) -> list[tuple[int, bytes]]:
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
    encode_json = json_encoder(separators)
    blocks: list[tuple[int, bytes]] = []
    append = blocks.append
    try:
        for event in events:
            if event.raw is not None:
                append((event.delay_ms, event.raw.encode()))
                continue
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
            append((event.delay_ms, _encode_block(event, end, encode_json)))
    except (TypeError, RecursionError, msgspec.EncodeError) as err:
        raise ValueError(f"event {len(blocks)} cannot be written as SSE: {err}") from None
    return blocks


def encode_raw_events(
    events: Sequence[RawEvent], eol: str = "\n", separators: tuple[str, str] = COMPACT
) -> list[tuple[int, bytes]]:
    """`encode_events` for events as replay reads them: JSON data written from its text.

    Examples
    --------
    >>> encode_raw_events([RawEvent(data=msgspec.Raw(b'{"n": 1}'), delay_ms=40)])
    [(40, b'data: {"n": 1}\\n\\n')]
    """
    if eol not in EOLS:
        raise ValueError(
            f"{eol!r} is not a valid line ending. Valid line endings are: {_EOL_LIST}."
        )
    end = eol.encode()
    blank = end + end
    respace = None if separators == COMPACT else _respacer(separators)
    encode_json = json_encoder(separators)
    blocks: list[tuple[int, bytes]] = []
    append = blocks.append
    format_json = msgspec.json.format
    try:
        for event in events:
            if event.raw is not None:
                append((event.delay_ms, event.raw.encode()))
                continue
            data = bytes(event.data)
            if b"\n" in data:  # see _compact
                data = format_json(data, indent=-1)
            # The blocks LLM streams are made of: JSON data, maybe an event name, no more.
            if (
                data[:1] in b"{["
                and data
                and not event.comments
                and event.id is None
                and event.retry is None
            ):
                if respace is not None:
                    data = respace(data)
                name = event.event
                if name is None:
                    append((event.delay_ms, b"data: " + data + blank))
                    continue
                if "\n" not in name and "\r" not in name:
                    block = b"event: " + name.encode() + end + b"data: " + data + blank
                    append((event.delay_ms, block))
                    continue
            append((event.delay_ms, _encode_block(_event_of(event), end, encode_json)))
    except (TypeError, RecursionError, msgspec.DecodeError, msgspec.EncodeError) as err:
        raise ValueError(f"event {len(blocks)} cannot be written as SSE: {err}") from None
    return blocks


def encode_raw_lines(
    events: Sequence[RawEvent], separators: tuple[str, str] = COMPACT
) -> list[tuple[int, bytes]]:
    """`encode_line` for each event as replay reads it, with its delay.

    Examples
    --------
    >>> encode_raw_lines([RawEvent(data=msgspec.Raw(b'{"done":true}'), delay_ms=3)])
    [(3, b'{"done":true}\\n')]
    """
    respace = _respacer(separators)
    lines: list[tuple[int, bytes]] = []
    for event in events:
        if event.raw is not None:
            lines.append((event.delay_ms, event.raw.encode()))
            continue
        data = _compact(event.data)
        if data[:1] in b"{[" and data:
            lines.append((event.delay_ms, respace(data) + b"\n"))
        else:
            try:
                line = encode_line(_event_of(event), separators)
            except msgspec.DecodeError as err:
                raise ValueError(f"NDJSON line cannot be written: {err}") from None
            lines.append((event.delay_ms, line))
    return lines


def _encode_block(event: Event, end: bytes, encode_json: Callable[[JSON], bytes]) -> bytes:
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
        parts.append(b"data: " + encode_json(data) + end)
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
    ``texts`` holds each event's line as sent, after any blank lines before it.

    Examples
    --------
    >>> p = LineParser()
    >>> [e.data for e in p.feed(b'{"done": false}\\n{"do')], p.feed(b'ne": true}')
    ([{'done': False}], [])
    >>> [e.data for e in p.flush()], p.texts, p.final_newline
    ([{'done': True}], ['{"done": false}\\n', '{"done": true}'], False)
    """

    def __init__(self) -> None:
        self.final_newline = True
        self._buf = bytearray()
        self.texts: list[str] = []
        self._blank = b""  # blank lines since the last event

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
        events: list[Event] = []
        for line in complete.split(b"\n"):
            if line:
                events.append(self._event(self._blank + line + b"\n", line))
                self._blank = b""
            else:
                self._blank += b"\n"
        return events

    def _event(self, raw: bytes, line: bytes) -> Event:
        self.texts.append(raw.decode("utf-8", "replace"))
        return Event(data=parse_data(line.decode("utf-8", "replace")))

    def flush(self) -> list[Event]:
        """End of stream: an event for a last line that had no LF."""
        if not self._buf:
            if self._blank and self.texts:  # blank lines after the last event
                self.texts[-1] += self._blank.decode()
                self._blank = b""
            return []
        line = bytes(self._buf)
        self._buf = bytearray()
        self.final_newline = False
        event = self._event(self._blank + line, line)
        self._blank = b""
        return [event]


def encode_line(event: Event, separators: tuple[str, str] = COMPACT) -> bytes:
    """One NDJSON line with its LF: JSON data compact (or with ``separators``), text as it was.

    Raises ``ValueError`` for text data that contains a LF (it would be two lines), or for
    data that cannot be written as JSON. An event with ``raw`` is its ``raw`` text.

    Examples
    --------
    >>> encode_line(Event(data={"done": True}))
    b'{"done":true}\\n'
    """
    if event.raw is not None:
        return event.raw.encode()
    data = event.data
    if isinstance(data, str):
        if "\n" in data:
            raise ValueError(f"NDJSON line {data!r} contains a LF")
        return data.encode() + b"\n"
    try:
        return json_encoder(separators)(data) + b"\n"
    except (TypeError, RecursionError, msgspec.EncodeError) as err:
        raise ValueError(f"NDJSON line cannot be written as JSON: {err}") from None


def keep_raw_where_needed(
    events: Sequence[Event], texts: Sequence[str], encode: Callable[[Event], bytes]
) -> int:
    """Set each event's ``raw`` to its text where ``encode`` would not write that text back.

    Returns how many events keep a ``raw``.

    Examples
    --------
    >>> events = [Event(data={"a": 1}), Event(data={"a": 1})]
    >>> keep_raw_where_needed(events, ['data: {"a":1}\\n\\n', 'data: {"a": 1}\\n\\n'], encode_event)
    1
    >>> [e.raw for e in events]
    [None, 'data: {"a": 1}\\n\\n']
    """
    kept = 0
    for event, raw in zip(events, texts, strict=True):
        event.raw = None
        try:
            same = encode(event) == raw.encode()
        except ValueError:
            same = False
        if not same:
            event.raw = raw
            kept += 1
    return kept
