"""The keeper of one cassette: what of a recording may be written, and writing it.

A finished response becomes an `Interaction`: headers thinned and redacted, the body
decoded (``content-encoding`` undone) and shaped (JSON value, events, text, bytes), the
user's ``redact`` rules and ``before_record`` hook applied, then the secret scan, then one
append to the journal. `Keeper.close` folds the journal into the cassette file.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from ._cassette import (
    Binary,
    Empty,
    Failure,
    Interaction,
    Json,
    Ndjson,
    RecordedRequest,
    RecordedResponse,
    Sse,
    Text,
    Usage,
    encode_interaction,
)
from ._content import IncrementalDecoder, build_body, supports_encoding
from ._errors import CassetteError
from ._options import Options
from ._redact import redact_response_headers
from ._store import append_journal, fold, line_digest
from ._types import Headers

__all__ = ["MAX_RECORDED_BODY", "HeaderList", "Keeper", "Record", "secrets_module"]

MAX_RECORDED_BODY = 32 * 1024 * 1024
"""A response body larger than this (decoded: content-encoding undone) is refused, not
recorded: a cassette is reviewed and committed, and keeping a copy must not make a
download's memory unbounded (nor a small compressed body that inflates to gigabytes)."""


class Record:
    """Go upstream; hand the outcome back with `Keeper.complete` or `Keeper.fail`.

    ``secrets`` are the values redaction removed from the request (see `_secrets`).
    """

    __slots__ = ("compare_to", "request", "secrets")

    def __init__(
        self,
        request: RecordedRequest,
        secrets: list[str] | None = None,
        compare_to: Interaction | None = None,
    ) -> None:
        self.request = request
        self.secrets = [] if secrets is None else secrets
        self.compare_to = compare_to  # verify mode: the recording the live answer is held to


def secrets_module() -> types.ModuleType:
    # Redaction rules and the secret scan load with the first recording or rule: a run that
    # only replays never needs them.
    from . import _secrets

    return _secrets


class Keeper:
    """Writes one cassette's new interactions; ``replaced`` are the old ones a re-record drops."""

    def __init__(self, file: str, path: Callable[[], Path], options: Options, version: str) -> None:
        self._file = file
        self._path = path  # the cassette's Path, built on demand (for errors and the store)
        self._options = options
        self._version = version
        self.recorded = 0
        self._closed = False
        self._lock = threading.Lock()  # threads sharing a transport record concurrently
        self.replaced: set[bytes] | None = None  # set by a mode that re-records everything
        # Set by verify mode: each finished interaction goes there, and nothing is written.
        self.sink: Callable[[Interaction, Record], None] | None = None
        self._appended: set[bytes] = set()  # line_digest of each line this keeper appended

    def complete(
        self,
        record: Record,
        status: int,
        headers: Headers,
        chunks: list[tuple[float, bytes]],
        *,
        started: float,
        error: Failure | None = None,
    ) -> None:
        """Keep a response whose body was read to its end (or cut short by ``error``).

        ``chunks`` are the body bytes as they came off the wire (still compressed if the
        server compressed them), each with its arrival time (``time.perf_counter``). The list
        is emptied once the body is built: a large body is not held twice while it is
        encoded, scanned and appended.
        """
        redaction = self._options.redaction
        stored_headers = redact_response_headers(headers, redaction)
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
        chunks.clear()
        decoded = None
        if redaction.response_paths:
            body = secrets_module().redact_response_body(body, redaction.response_paths)
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
                self._file,
                f"refusing to record {request.method} {request.url}: its response body passed "
                f"{MAX_RECORDED_BODY} bytes decoded ({size} so far). A cassette is meant to be "
                "reviewed and committed; call this endpoint without promptecho, or stub it.",
            )

    def _keep(self, interaction: Interaction, record: Record) -> None:
        interaction = msgspec.structs.replace(
            interaction, recorded_at=_now(), recorded_by=self._version, usage=_usage(interaction)
        )
        if self.sink is not None:
            self.sink(interaction, record)
            return
        before_record = self._options.before_record
        if before_record is not None:
            changed = before_record(interaction)
            if changed is None:
                return
            interaction = changed
        line = encode_interaction(interaction)  # scanned, then appended: encoded once
        if not self._options.allow_secrets:
            hit = secrets_module().find_secret(interaction, record.secrets, encoded=line)
            if hit is not None:
                raise CassetteError(
                    self._file,
                    f"refusing to write a secret ({hit.kind}) found at {hit.path} of "
                    f"{interaction.request.method} {hit.url}. Redact it "
                    "(redact=[...] or before_record), or pass allow_secrets=True if it is fake.",
                )
        path = self._path()
        append_journal(path, line, fsync=self._options.fsync)
        digest = line_digest(line)
        with self._lock:
            self.recorded += 1
            self._appended.add(digest)

    def close(self) -> None:
        """Fold this run's recordings into the cassette file (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        if not self.recorded:
            # Nothing recorded, nothing to fold: a journal another process appends to is
            # folded when that process closes (or, if it dies, by the next load).
            return
        path = self._path()
        replaced = self.replaced
        fold(
            path,
            keep=None
            if replaced is None
            else lambda old: [i for i in old if msgspec.json.encode(i) not in replaced],
            fsync=self._options.fsync,
            trusted=self._appended,
        )


def _usage(interaction: Interaction) -> Usage | None:
    """The tokens the provider's answer says the call used, from its own usage fields."""
    if interaction.response is None:
        return None
    from ._answer import answer_of  # read only when recording

    answer = answer_of(interaction.request.api, interaction.response)
    spent_in, spent_out = answer.input_tokens, answer.output_tokens
    if spent_in is None and spent_out is None:
        return None
    return Usage(input_tokens=spent_in or 0, output_tokens=spent_out or 0)


def _now() -> str:
    import datetime  # recording only

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HeaderList:
    """A `HeaderSource` over plain header pairs (names in any case, duplicates kept).

    A header sent several times reads as its values joined by ", ", as HTTP defines it
    and as httpx's ``Headers.get`` does.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Headers) -> None:
        self._pairs = pairs

    def get(self, key: str, /) -> str | None:
        values = [v for k, v in self._pairs if k.lower() == key]
        return ", ".join(values) if values else None

    def multi_items(self) -> Headers:
        return list(self._pairs)


def _header(headers: Headers, name: str) -> str | None:
    return HeaderList(headers).get(name)


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
