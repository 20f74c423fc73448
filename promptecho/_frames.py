"""WebSocket sessions without the sockets: frames, what a session is matched on, and storage.

`promptecho._websocket` relays and serves the connections; everything it decides lives
here, on plain values (``str``, ``bytes``, header pairs, the Structs of `_cassette`):

- which recorded session answers a handshake, by mode (`decide`);
- the frame a message becomes (`frame_of`) and the message a frame replays as (`payload`);
- how a client frame is compared (`ClientIds`, `compare`): canonical JSON with the ids the
  client made up replaced by their order of appearance;
- what is kept of audio (`trim_audio`) and of the handshake (`handshake_headers`);
- writing the sessions into the cassette beside its HTTP interactions (`save_sessions`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from ._cassette import (
    FORMAT_VERSION,
    AnyFrame,
    BinaryFrame,
    Cassette,
    CloseFrame,
    JsonFrame,
    TextFrame,
    WebSocketSession,
    read_if_exists,
    write_atomically,
)
from ._errors import CassetteError, CassetteMiss, Difference
from ._match import diff
from ._redact import DEFAULT_REDACTION, redact_request_headers, redact_url
from ._types import JSON, Headers, Mode

__all__ = [
    "ClientIds",
    "Record",
    "Refuse",
    "Replay",
    "compare",
    "decide",
    "frame_miss",
    "frame_of",
    "handshake_headers",
    "matching_path",
    "payload",
    "save_sessions",
    "session_miss",
    "trim_audio",
]

Side = Literal["client", "server"]

# The handshake headers the WebSocket library makes anew for every connection.
_HANDSHAKE_HEADERS = frozenset(
    {
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
    }
)
# Keys whose string values a client may make up (OpenAI `event_id`, item ids); a value the
# server sent first (an item id it created, a function call id) is the server's and is kept.
_ID_KEYS = frozenset({"event_id", "id", "item_id", "previous_item_id", "call_id"})
# Base64 audio of the server: OpenAI `response.output_audio.delta` / `response.audio.delta`.
_AUDIO_EVENTS = frozenset({"response.output_audio.delta", "response.audio.delta"})
_json_encode = msgspec.json.Encoder().encode


# Frames


def frame_of(side: Side, message: str | bytes, delay_ms: int = 0) -> AnyFrame:
    """The frame a message is stored as: JSON text as its value, other text as text, bytes as bytes."""
    if isinstance(message, bytes):
        return BinaryFrame(from_=side, delay_ms=delay_ms, data=message)
    try:
        value = msgspec.json.decode(message)
    except msgspec.DecodeError:
        return TextFrame(from_=side, delay_ms=delay_ms, text=message)
    # Objects and arrays are stored as values (readable, comparable); replay sends them as
    # compact JSON, which may differ from the recorded text in whitespace only.
    if not isinstance(value, dict | list):
        return TextFrame(from_=side, delay_ms=delay_ms, text=message)
    return JsonFrame(from_=side, delay_ms=delay_ms, value=value)


def payload(frame: JsonFrame | TextFrame | BinaryFrame) -> str | bytes:
    """The message a stored frame replays as."""
    if isinstance(frame, BinaryFrame):
        return frame.data
    if isinstance(frame, TextFrame):
        return frame.text
    return _json_encode(frame.value).decode()


def trim_audio(value: JSON, limit: int) -> JSON:
    """``value`` with each base64 audio payload cut to at most ``limit`` decoded bytes.

    OpenAI's audio deltas (``delta``) and Gemini's ``inlineData.data`` at any depth.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "delta" and value.get("type") in _AUDIO_EVENTS and isinstance(item, str):
                item = _cut_base64(item, limit)
            elif (
                key == "inlineData" and isinstance(item, dict) and isinstance(item.get("data"), str)
            ):
                item = {**item, "data": _cut_base64(item["data"], limit)}
            else:
                item = trim_audio(item, limit)
            out[key] = item
        return out
    if isinstance(value, list):
        return [trim_audio(item, limit) for item in value]
    return value


def _cut_base64(text: str, limit: int) -> str:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text
    return text if len(data) <= limit else base64.b64encode(data[:limit]).decode()


# The handshake


def handshake_headers(headers: Headers, secrets: list[str]) -> dict[str, str]:
    """The client's handshake headers as stored: secrets redacted, per-connection ones dropped."""
    mine = [(k, v) for k, v in headers if k.lower() not in _HANDSHAKE_HEADERS]
    return redact_request_headers(mine, DEFAULT_REDACTION, secrets)


def matching_path(path: str, secrets: list[str] | None = None) -> str:
    """A request path and query as a session is stored and matched: secret query values redacted."""
    return redact_url(path, DEFAULT_REDACTION, secrets)


@dataclass(frozen=True)
class Record:
    """Relay the connection to the upstream and record it."""


@dataclass(frozen=True)
class Replay:
    """Play recorded session number ``index``."""

    index: int
    session: WebSocketSession


@dataclass(frozen=True)
class Refuse:
    """No recorded session answers, and the mode may not record: a miss."""

    miss: CassetteMiss


def decide(
    mode: Mode,
    path: str,
    sessions: Sequence[WebSocketSession],
    played: set[int],
    *,
    cassette: Path,
    url: str,
) -> Record | Replay | Refuse:
    """What to do with a handshake for ``path`` (as `matching_path` gives it).

    The first recorded session with this path that has not been played yet answers it.
    ``once`` records only while the cassette holds no WebSocket session at all. ``all``,
    ``rewrite`` and ``verify`` always go to the upstream (what is kept is the caller's call).
    """
    hit = next((n for n, s in enumerate(sessions) if n not in played and s.path == path), None)
    match mode, hit:
        case "all" | "rewrite" | "verify", _:
            return Record()
        case _, int():
            return Replay(hit, sessions[hit])
        case "none", None:
            return Refuse(session_miss(cassette, url, mode, sessions, path))
        case "once", None if sessions:
            return Refuse(session_miss(cassette, url, mode, sessions, path))
        case _:
            return Record()


def session_miss(
    cassette: Path, url: str, mode: str, sessions: Sequence[WebSocketSession], path: str
) -> CassetteMiss:
    same = sum(s.path == path for s in sessions)
    reason = (
        f"all {same} recorded WebSocket session(s) with this path and query were played already"
        if same
        else f"no recorded WebSocket session has this path and query ({len(sessions)} recorded)"
    )
    return CassetteMiss(cassette, "WEBSOCKET", url, mode, reason=reason)


# Comparing client frames


class ClientIds:
    """Replaces, in one session's client frames, the ids the client made up by ``<id:N>``.

    N is the order in which the id first appeared in the session's client frames. A value
    the server sent first is the server's id (deterministic on replay) and is kept.
    """

    def __init__(self) -> None:
        self.server: set[str] = set()
        self.client: dict[str, str] = {}

    def saw_server(self, value: JSON) -> None:
        for key, item in _pairs(value):
            if key in _ID_KEYS and isinstance(item, str):
                self.server.add(item)

    def canonical(self, value: JSON) -> JSON:
        if isinstance(value, dict):
            return {
                k: self._id(v) if k in _ID_KEYS else self.canonical(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.canonical(v) for v in value]
        return value

    def _id(self, value: JSON) -> JSON:
        if not isinstance(value, str) or value in self.server:
            return self.canonical(value)
        return self.client.setdefault(value, f"<id:{len(self.client)}>")


def _pairs(value: JSON) -> list[tuple[str, JSON]]:
    found: list[tuple[str, JSON]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.extend(node.items())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def compare(
    recorded: AnyFrame, incoming: AnyFrame, recorded_ids: ClientIds, incoming_ids: ClientIds
) -> list[Difference]:
    """Where a client frame differs from the recorded one (empty when it matches)."""
    return diff(_comparable(recorded, recorded_ids), _comparable(incoming, incoming_ids))


def _comparable(frame: AnyFrame, ids: ClientIds) -> JSON:
    match frame:
        case JsonFrame(value=value):
            return {"json": ids.canonical(value)}
        case TextFrame(text=text):
            return {"text": text}
        case BinaryFrame(data=data):
            return {"binary": base64.b64encode(data).decode()}
        case CloseFrame(code=code, reason=reason):
            return {"close": {"code": code, "reason": reason}}
    raise AssertionError(frame)  # pragma: no cover - the union is closed


def frame_miss(
    cassette: Path,
    url: str,
    mode: str,
    session: int,
    frame: int,
    differences: Sequence[Difference],
) -> CassetteMiss:
    """The miss of a client frame that differs from the recording; paths start at its frame."""
    return CassetteMiss(
        cassette,
        "WEBSOCKET",
        url,
        mode,
        reason=f"frame {frame} of recorded WebSocket session #{session} differs "
        "(the connection was closed with code 1008, policy violation)",
        closest=session,
        differences=[
            Difference(f"frames[{frame}].{d.path}", d.recorded, d.incoming) for d in differences
        ],
    )


# Storage


def load_sessions(path: Path) -> list[WebSocketSession]:
    """The WebSocket sessions of a cassette file; none when it does not exist."""
    data = read_if_exists(path)
    return [] if data is None else Cassette.from_bytes(data, path).websockets


def check_secrets(path: Path, sessions: Sequence[WebSocketSession], removed: Sequence[str]) -> None:
    """Raise `CassetteError` if a session would write a secret (the HTTP scan, called as is)."""
    from ._secrets import find_secret  # only a recording run scans

    for session in sessions:
        hit = find_secret(session, removed)
        if hit is not None:
            raise CassetteError(
                path,
                f"refusing to write a secret ({hit.kind}) found at {hit.path} of the WebSocket "
                f"session {session.path}. Pass allow_secrets=True if it is fake.",
            )


def save_sessions(
    path: Path, new: Sequence[WebSocketSession], *, replace: bool, fsync: bool = False
) -> None:
    """Write ``new`` sessions into the cassette, keeping its HTTP interactions.

    ``replace`` drops the sessions already in the file (mode ``all``); otherwise the new
    ones follow them. The file is read, merged and replaced under the cassette's lock, the
    way the journal is folded, so that a transport folding at the same time loses nothing.
    """
    from ._store import locked

    with locked(path):
        data = read_if_exists(path)
        cassette = (
            Cassette.from_bytes(data, path)
            if data is not None
            else Cassette(version=FORMAT_VERSION)
        )
        kept = [] if replace else cassette.websockets
        merged = msgspec.structs.replace(cassette, version=FORMAT_VERSION, websockets=[*kept, *new])
        write_atomically(path, merged.to_bytes(), fsync=fsync)
