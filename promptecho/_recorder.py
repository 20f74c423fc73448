"""The decisions: replay or record, which recording answers which request, what is kept.

Everything here is pure and flavour-neutral: it sees methods, URLs, header pairs, bytes
and Structs, never an httpx object, so both adapters (httpx and httpx2) share it and it
can be tested without a network.

State that many threads or tasks share (the replay queues, the list of misses) changes
only under one lock, and never across an ``await`` or a network call.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import types
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ._canonical import Canonical, canonicalize_request
from ._cassette import (
    Binary,
    Cassette,
    Empty,
    Failure,
    Interaction,
    Json,
    Ndjson,
    Pending,
    RecordedRequest,
    RecordedResponse,
    ReplayResponse,
    Sse,
    Text,
    decode_for_replay,
    decode_response,
    encode_interaction,
    index_from_bytes,
    read_if_exists,
)
from ._content import IncrementalDecoder, build_body, render_body, supports_encoding
from ._errors import CassetteError, CassetteMiss, Difference, invalid_mode
from ._match import describe, diff, select
from ._redact import (
    DEFAULT_REDACTION,
    Redaction,
    redact_request_headers,
    redact_response_headers,
    redact_url,
)
from ._store import append_journal, fold, has_journal, line_digest
from ._types import JSON, MODES, Headers, Mode

if TYPE_CHECKING:
    from ._types import HeaderSource

__all__ = ["HeaderList", "Record", "Recorder", "Replay"]

_Key = tuple[str, str, str, bool, bytes]
_sorted_encoder = msgspec.json.Encoder(order="sorted")

MAX_RECORDED_BODY = 32 * 1024 * 1024
"""A response body larger than this (as received) is refused, not recorded: a cassette is
reviewed and committed, and keeping a copy must not make a download's memory unbounded."""


# Plain classes with slots, not dataclasses: importing dataclasses and running the decorator
# cost more of `import promptecho` than these two lines of __init__ each save.
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


class _Entry:
    """A recorded interaction as the index holds it.

    Loaded from a file it is a `Pending`: its response is decoded on first use (and its
    replay rendered then, once).
    """

    __slots__ = ("_interaction", "_path", "_replay", "_source", "key", "number", "plays")

    def __init__(self, number: int, source: Interaction | Pending, key: _Key, path: str) -> None:
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


class Record:
    """Go upstream; hand the outcome back with `Recorder.complete` or `Recorder.fail`.

    ``secrets`` are the values redaction removed from the request (see `_secrets`).
    """

    __slots__ = ("request", "secrets")

    def __init__(self, request: RecordedRequest, secrets: list[str] | None = None) -> None:
        self.request = request
        self.secrets = [] if secrets is None else secrets


@functools.lru_cache(maxsize=1024)
def _endpoint(url: str) -> str:
    # The host is not part of the key: a cassette belongs to one client, and the same
    # recording must replay through a gateway, a proxy or a server on another port.
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    path = rest[slash:] if slash >= 0 else "/"
    path, _, _fragment = path.partition("#")
    path, sep, query = path.partition("?")
    if not sep:
        return path
    return f"{path}?{'&'.join(sorted(query.split('&')))}"


def _secrets() -> types.ModuleType:
    # Redaction rules and the secret scan load with the first recording or rule: a run that
    # only replays never needs them.
    from . import _secrets

    return _secrets


def _decoded(
    chunks: Sequence[tuple[float, bytes]], encoding: str | None
) -> list[tuple[float, bytes]] | None:
    """The chunks with their content-encoding undone, or None when that cannot be done."""
    if not supports_encoding(encoding):
        return None
    decoder = IncrementalDecoder(encoding)
    try:
        decoded = [(t, decoder.decode(chunk)) for t, chunk in chunks]
        tail = decoder.flush()
    except ValueError:
        return None
    if tail:
        decoded.append((decoded[-1][0], tail))
    return decoded


class HeaderList:
    """A `HeaderSource` over plain header pairs (names in any case, duplicates kept)."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Headers) -> None:
        self._pairs = pairs

    def get(self, key: str, /) -> str | None:
        values = [v for k, v in self._pairs if k.lower() == key]
        return ", ".join(values) if values else None

    def multi_items(self) -> Headers:
        return list(self._pairs)


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class Recorder:
    """One cassette's record-and-replay state.

    Parameters mirror `promptecho.EchoTransport`; ``path`` is the cassette file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: Mode = "once",
        match_on: Sequence[str] | None = None,
        allow_repeats: bool = False,
        redaction: Redaction | None = None,
        before_record: Callable[[Interaction], Interaction | None] | None = None,
        fsync: bool = False,
        allow_secrets: bool = False,
    ) -> None:
        if mode not in MODES:
            raise invalid_mode(mode)
        if isinstance(match_on, str):
            raise ValueError(
                f"match_on must be a sequence of field names, not the string {match_on!r}"
            )
        file = os.fspath(path)
        if not isinstance(file, str):
            raise TypeError(f"a cassette path must be a str or a path, not {path!r}")
        # A string: a transport is built per test, and a Path costs more to build than the
        # syscalls it is used for. `path` builds the Path when someone asks.
        self._file = file
        self._path = path if isinstance(path, Path) else None
        self.mode: Mode = mode
        self.match_on = tuple(match_on) if match_on is not None else None
        self.allow_repeats = allow_repeats
        self.redaction = redaction or DEFAULT_REDACTION
        self.before_record = before_record
        self.fsync = fsync
        self.allow_secrets = allow_secrets
        self.misses: list[CassetteMiss] = []
        self.recorded = 0
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._index: dict[_Key, deque[_Entry]] = {}
        self._replaced: set[bytes] = set()
        self._appended: set[bytes] = set()  # line_digest of each line this recorder appended
        # A journal left by a killed process is folded in first, so it is never lost.
        data = fold(self.path, fsync=fsync) if has_journal(file) else None
        if data is None:
            data = read_if_exists(file)
        loaded: Sequence[Interaction | Pending] | None = None
        if data is not None:
            # Mode "all" compares whole interactions; the others decode responses lazily.
            loaded = (
                Cassette.from_bytes(data, file).interactions
                if mode == "all"
                else index_from_bytes(data, file)
            )
        self.existed = loaded is not None
        if loaded is not None:
            self._load(loaded)

    @property
    def path(self) -> Path:
        """The cassette file."""
        if self._path is None:
            self._path = Path(self._file)
        return self._path

    # -- loading ----------------------------------------------------------------------

    def _load(self, interactions: Sequence[Interaction | Pending]) -> None:
        paths = self.redaction.request_paths
        for number, interaction in enumerate(interactions):
            request = interaction.request
            body = request.body
            if paths:
                # Idempotent on a redacted body; lets a cassette recorded before a
                # `request:` rule was added still match.
                body = _secrets().redact_json(body, paths)
            key = self._key_of(request.method, request.url, request.api, request.stream, body)
            entry = _Entry(number, interaction, key, self._file)
            self._entries.append(entry)
            self._index.setdefault(entry.key, deque()).append(entry)
        if self.mode == "all":
            self._replaced = {msgspec.json.encode(i) for i in interactions}

    def _key_of(self, method: str, url: str, api: str, stream: bool, body: JSON) -> _Key:
        digest = hashlib.sha256(_sorted_encoder.encode(select(body, api, self.match_on))).digest()
        return (method.upper(), _endpoint(url), api, stream, digest)

    # -- the decision -----------------------------------------------------------------

    def decide(
        self, method: str, url: str, headers: Headers | HeaderSource, body: bytes
    ) -> Replay | Record:
        """Replay a recording, or say that the request must go upstream; raise on a miss.

        ``headers`` are pairs, or (from the adapters) the flavour's ``Headers``, read only
        as far as needed: a replay looks up two of them.
        """
        if isinstance(headers, list | tuple):
            headers = HeaderList(list(headers))
        upgrade = headers.get("upgrade")
        if upgrade:
            raise CassetteError(
                self.path,
                f"cannot record or replay {method.upper()} {url}: it asks to switch the "
                f"connection to {upgrade!r} (Upgrade header), and a cassette holds HTTP "
                "request/response pairs, not the protocol that follows a 101",
            )
        secrets: list[str] = []
        stored_url = redact_url(url, self.redaction, secrets)
        canonical = canonicalize_request(method, url, body, headers.get("content-type"))
        if self.redaction.request_paths:
            # Before the key: the incoming request must match its redacted recording.
            canonical = msgspec.structs.replace(
                canonical, body=_secrets().redact_json(canonical.body, self.redaction.request_paths)
            )
        key = self._key_of(method, stored_url, canonical.api, canonical.stream, canonical.body)
        with self._lock:
            entry = None if self.mode == "all" else self._take(key)
            if entry is not None:
                return entry.replay()
            if self.mode == "none" or (self.mode == "once" and self.existed):
                miss = self._miss(method, stored_url, key, canonical)
                self.misses.append(miss)
                raise miss
        request = RecordedRequest(
            method=method.upper(),
            url=stored_url,
            api=canonical.api,
            stream=canonical.stream,
            headers=redact_request_headers(headers.multi_items(), self.redaction, secrets),
            body=canonical.body,
        )
        return Record(request, secrets)

    def _take(self, key: _Key) -> _Entry | None:
        queue = self._index.get(key)
        if not queue:
            return None
        for entry in queue:
            if entry.plays == 0:
                entry.plays = 1
                return entry
        if self.allow_repeats:
            last = queue[-1]
            last.plays += 1
            return last
        return None

    # -- recording --------------------------------------------------------------------

    def complete(
        self,
        record: Record,
        status: int,
        headers: Headers,
        chunks: Sequence[tuple[float, bytes]],
        *,
        started: float,
        error: Failure | None = None,
    ) -> None:
        """Keep a response whose body was read to its end (or cut short by ``error``).

        ``chunks`` are the body bytes as they came off the wire (still compressed if the
        server compressed them), each with its arrival time (``time.perf_counter``).
        """
        stored_headers = redact_response_headers(headers, self.redaction)
        encoding = _header(headers, "content-encoding")
        body: Empty | Json | Text | Sse | Ndjson | Binary
        decoded = _decoded(chunks, encoding) if chunks else []
        if not chunks:
            body = Empty()
        elif decoded is not None:
            body = build_body(_header(headers, "content-type"), decoded, stream_started=started)
        else:
            # An encoding we cannot decode (unknown, or corrupt bytes): keep the bytes as
            # they came and the header that explains them, so replay hands over the same.
            body = Binary(data=b"".join(chunk for _, chunk in chunks))
            stored_headers["content-encoding"] = encoding or ""
        if self.redaction.response_paths:
            body = _secrets().redact_response_body(body, self.redaction.response_paths)
        response = RecordedResponse(status=status, headers=stored_headers, body=body)
        self._keep(Interaction(request=record.request, response=response, error=error), record)

    def fail(self, record: Record, error: Failure) -> None:
        """Keep a request that failed before any response (connect error, timeout)."""
        self._keep(Interaction(request=record.request, error=error), record)

    def admit(self, record: Record, size: int) -> None:
        """Refuse a response body that has grown past `MAX_RECORDED_BODY` while recording."""
        if size > MAX_RECORDED_BODY:
            request = record.request
            raise CassetteError(
                self.path,
                f"refusing to record {request.method} {request.url}: its response body passed "
                f"{MAX_RECORDED_BODY} bytes ({size} read so far). A cassette is meant to be "
                "reviewed and committed; call this endpoint without promptecho, or stub it.",
            )

    def _keep(self, interaction: Interaction, record: Record) -> None:
        if self.before_record is not None:
            changed = self.before_record(interaction)
            if changed is None:
                return
            interaction = changed
        line = encode_interaction(interaction)  # scanned, then appended: encoded once
        if not self.allow_secrets:
            hit = _secrets().find_secret(interaction, record.secrets, encoded=line)
            if hit is not None:
                raise CassetteError(
                    self.path,
                    f"refusing to write a secret ({hit.kind}) found at {hit.path} of "
                    f"{interaction.request.method} {interaction.request.url}. Redact it "
                    "(redact=[...] or before_record), or pass allow_secrets=True if it is fake.",
                )
        append_journal(self.path, line, fsync=self.fsync)
        digest = line_digest(line)
        with self._lock:
            self.recorded += 1
            self._appended.add(digest)

    # -- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """Fold this run's recordings into the cassette file."""
        if self.mode == "all" and self.recorded:
            replaced = self._replaced
            fold(
                self.path,
                keep=lambda old: [i for i in old if msgspec.json.encode(i) not in replaced],
                fsync=self.fsync,
                trusted=self._appended,
            )
        elif self.recorded:
            # Nothing recorded, nothing to fold: a journal another process appends to is
            # folded when that process closes (or, if it dies, by the next load).
            fold(self.path, fsync=self.fsync, trusted=self._appended)

    def unplayed(self) -> list[Interaction]:
        """Recorded interactions this run never replayed (stale recordings)."""
        if self.mode == "all":
            return []
        return [e.interaction for e in self._entries if e.plays == 0]

    # -- misses -------------------------------------------------------------------------

    def _miss(self, method: str, url: str, key: _Key, canonical: Canonical) -> CassetteMiss:
        if not self.existed:
            return CassetteMiss(
                self.path,
                method,
                url,
                self.mode,
                reason=f"The cassette does not exist, and mode {self.mode!r} does not record.",
            )
        same = [e for e in self._entries if e.key[:3] == key[:3]]
        if not same:
            recorded = sorted({f"{e.key[0]} {e.key[1]}" for e in self._entries})
            listing = ", ".join(recorded) if recorded else "nothing"
            return CassetteMiss(
                self.path,
                method,
                url,
                self.mode,
                reason=f"Nothing was recorded for this endpoint; the cassette holds: {listing}.",
            )
        if any(e.key == key for e in same):
            plays = sum(e.plays for e in same if e.key == key)
            return CassetteMiss(
                self.path,
                method,
                url,
                self.mode,
                reason=f"An identical request was recorded and has already been replayed "
                f"({plays} time(s)); pass allow_repeats=True to replay it again.",
            )
        incoming = select(canonical.body, canonical.api, self.match_on)
        best: tuple[int, _Entry, list[Difference]] | None = None
        for entry in same:
            request = entry.request
            recorded = select(request.body, request.api, self.match_on)
            differences = diff(recorded, incoming)
            if request.stream != canonical.stream:
                differences.append(Difference("stream", request.stream, canonical.stream))
            if best is None or len(differences) < best[0]:
                best = (len(differences), entry, differences)
        assert best is not None
        _, entry, differences = best
        return CassetteMiss(
            self.path,
            method,
            url,
            self.mode,
            closest=entry.number,
            differences=differences,
            detail=describe(differences),
        )
