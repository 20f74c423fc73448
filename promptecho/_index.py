"""The index of one cassette: its recordings by match key, what was played, and why not.

It answers three questions, all pure (plain values and Structs in, plain values out):
which recording answers a key (`Index.take`), what the cassette holds that was never
played (`Index.unplayed`, `Index.explain_unplayed`), and, for a request nothing answers,
the closest recording and every field that differs (`Index.explain_miss`).
"""

from __future__ import annotations

import functools
import hashlib
from collections import deque
from typing import TYPE_CHECKING

import msgspec

from ._cassette import (
    Failure,
    Interaction,
    Pending,
    RecordedRequest,
    RecordedResponse,
    ReplayResponse,
    Usage,
    decode_for_replay,
    decode_response,
)
from ._content import render_body
from ._errors import Difference
from ._match import covered, describe, diff, select
from ._types import JSON, Headers
from ._url import split_url

if TYPE_CHECKING:
    from ._match import MatchOn

__all__ = ["Entry", "Index", "Key", "Replay", "drift", "endpoint", "key_of"]

Key = tuple[str, str, str, bool, bytes]
"""Method, endpoint (path and sorted query), API family, stream flag, digest of the selection."""

_sorted_encoder = msgspec.json.Encoder(order="sorted")
_SHOWN_DIFFERENCES = 3


# Plain classes with slots, not dataclasses: importing dataclasses and running the decorator
# cost more of `import promptecho` than these lines of __init__ each save.
class Replay:
    """Answer from the cassette: a response (maybe cut short by ``error``), or only an error.

    ``header_encoding`` is how to turn the header strings back into bytes: ``"ascii"``
    when they all are, else ``"utf-8"``. (A recording keeps the strings the client decoded,
    in UTF-8 or Latin-1; UTF-8 gives every such string back, the same text for a client.)
    """

    __slots__ = ("chunks", "error", "header_encoding", "headers", "status")

    def __init__(
        self,
        status: int | None,
        headers: Headers,
        chunks: list[tuple[int, bytes]],
        error: Failure | None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.error = error
        ascii_only = all(k.isascii() and v.isascii() for k, v in headers)
        self.header_encoding = "ascii" if ascii_only else "utf-8"


class Entry:
    """A recorded interaction as the index holds it: number, key, plays.

    Loaded from a file it is a `Pending`: its response is decoded on first use (and its
    replay rendered then, once).
    """

    __slots__ = ("_interaction", "_path", "_replay", "_source", "key", "number", "plays")

    def __init__(self, number: int, source: Interaction | Pending, key: Key, path: str) -> None:
        self.number = number
        self.key = key
        self.plays = 0
        self._source = source
        self._path = path
        self._interaction = source if isinstance(source, Interaction) else None
        self._replay: Replay | None = None

    @property
    def request(self) -> RecordedRequest:
        return self._source.request

    @property
    def usage(self) -> Usage | None:
        return self._source.usage

    @property
    def interaction(self) -> Interaction:
        if self._interaction is None:
            source = self._source
            assert isinstance(source, Pending)
            response = decode_response(source.response, self._path, self.number)
            self._interaction = Interaction(
                request=source.request,
                response=response,
                error=source.error,
                recorded_at=source.recorded_at,
                recorded_by=source.recorded_by,
                usage=source.usage,
            )
        return self._interaction

    def replay(self) -> Replay:
        if self._replay is None:
            source = self._source
            response: RecordedResponse | ReplayResponse | None
            if isinstance(source, Pending):
                response = decode_for_replay(source.response, self._path, self.number)
            else:
                response = source.response
            error = source.error
            if response is None:
                self._replay = Replay(None, [], [], error)
            else:
                chunks = render_body(response.body)
                self._replay = Replay(
                    response.status, list(response.headers.items()), chunks, error
                )
        return self._replay


@functools.lru_cache(maxsize=1024)
def endpoint(url: str) -> str:
    """The path and the sorted query of a URL: what of it the key holds.

    The host is not part of the key: a cassette belongs to one client, and the same
    recording must replay through a gateway, a proxy or a server on another port.
    """
    parts = split_url(url)
    path = parts.path or "/"
    if parts.query is None:
        return path
    return f"{path}?{'&'.join(sorted(parts.query.split('&')))}"


def key_of(
    method: str, url: str, api: str, stream: bool, body: JSON, match_on: MatchOn | None
) -> Key:
    """The match key of a request (``url`` as stored: secret query values redacted)."""
    digest = hashlib.sha256(_sorted_encoder.encode(select(body, api, match_on))).digest()
    return (method.upper(), endpoint(url), api, stream, digest)


class Index:
    """One cassette's recordings by key, in recorded order, with their plays."""

    __slots__ = ("_by_key", "entries")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._by_key: dict[Key, deque[Entry]] = {}

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._by_key.setdefault(entry.key, deque()).append(entry)

    def take(self, key: Key, allow_repeats: bool) -> Entry | None:
        """The first recording of ``key`` not played yet (or the last, with ``allow_repeats``)."""
        queue = self._by_key.get(key)
        if not queue:
            return None
        for entry in queue:
            if entry.plays == 0:
                entry.plays = 1
                return entry
        if allow_repeats:
            last = queue[-1]
            last.plays += 1
            return last
        return None

    def number_of(self, interaction: Interaction) -> int | None:
        """The number of the entry whose decoded interaction this is."""
        return next((e.number for e in self.entries if e._interaction is interaction), None)

    def unplayed(self) -> list[Entry]:
        return [e for e in self.entries if e.plays == 0]

    def played(self) -> list[int]:
        """The numbers of the recordings played at least once."""
        return [e.number for e in self.entries if e.plays]

    # -- why nothing answered -------------------------------------------------------------

    def explain_miss(
        self, key: Key, stream: bool, body: JSON, api: str, match_on: MatchOn | None
    ) -> tuple[str, int | None, list[Difference]]:
        """(reason, closest recording, its differences) for a key nothing answers."""
        same = [e for e in self.entries if e.key[:3] == key[:3]]
        if not same:
            recorded = sorted({f"{e.key[0]} {e.key[1]}" for e in self.entries})
            listing = ", ".join(recorded) if recorded else "nothing"
            return (
                f"Nothing was recorded for this endpoint; the cassette holds: {listing}.",
                None,
                [],
            )
        if any(e.key == key for e in same):
            plays = sum(e.plays for e in same if e.key == key)
            return (
                "An identical request was recorded and has already been replayed "
                f"({plays} time(s)); pass allow_repeats=True to replay it again.",
                None,
                [],
            )
        incoming = select(body, api, match_on)
        best: tuple[Entry, list[Difference]] | None = None
        for entry in same:
            request = entry.request
            recorded = select(request.body, request.api, match_on)
            differences = diff(recorded, incoming, named=match_on is not None)
            if request.stream != stream:
                differences.append(Difference("stream", request.stream, stream))
            if best is None or len(differences) < len(best[1]):
                best = (entry, differences)
        assert best is not None
        entry, differences = best
        reason = ""
        if entry.request.unparsed:
            reason = f"The closest recording was {entry.request.unparsed}."
        return reason, entry.number, differences

    def explain_unplayed(self, match_on: MatchOn | None) -> list[str]:
        """For each recording never played: its request, and how it differs from the closest
        recording that was played (a stale recording, or an extra one)."""
        played = [e.request for e in self.entries if e.plays]
        lines: list[str] = []
        for entry in self.unplayed():
            request = entry.request
            lines.append(f"  #{entry.number} {request.method} {request.url}")
            same = [p for p in played if (p.method, p.url) == (request.method, request.url)]
            if not same:
                lines.append("    (the test made no request to this endpoint)")
                continue
            recorded = select(request.body, request.api, match_on)
            closest = min((diff(recorded, select(p.body, p.api, match_on)) for p in same), key=len)
            if not closest:
                lines.append("    (identical to a request that was played; an extra recording)")
                continue
            lines.append("    differs from the closest played request at:")
            lines.extend(f"      {line}" for line in describe(closest[:_SHOWN_DIFFERENCES]))
            if len(closest) > _SHOWN_DIFFERENCES:
                lines.append(f"      ... and {len(closest) - _SHOWN_DIFFERENCES} more")
        return lines


def drift(recorded: JSON, incoming: JSON, api: str, match_on: MatchOn | None) -> list[Difference]:
    """Every canonical field where a replayed request differs from its recording.

    The two share a key, so the fields the key holds whole are equal already: only the
    others are compared (on a chat request, usually ``params`` alone). ``==`` first (a C
    loop); equal values are then compared as JSON, which ``==`` is not (``1 == 1.0 == True``).
    """
    skip = covered(api, match_on)
    if skip is not None and type(recorded) is dict and type(incoming) is dict:
        recorded = {k: v for k, v in recorded.items() if k not in skip}
        incoming = {k: v for k, v in incoming.items() if k not in skip}
    if recorded == incoming and _sorted_encoder.encode(recorded) == _sorted_encoder.encode(
        incoming
    ):
        return []
    return diff(recorded, incoming)
