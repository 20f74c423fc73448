"""The httpx2 flavour: `EchoTransport` and `AsyncEchoTransport` over `httpx2` classes.

Only the classes are declared here: which httpx2 classes they build on. The behaviour is
in `promptecho._adapter` and the decisions in `promptecho._recorder`, both shared with
the httpx flavour, so a cassette recorded with either flavour replays with the other.
"""

from __future__ import annotations

import os
from typing import Any

try:
    import httpx2
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'promptecho.httpx2 needs the httpx2 package: pip install "promptecho[httpx2]"'
    ) from err

from ._adapter import (
    AsyncEcho,
    AsyncRecordingTee,
    ReplayChunks,
    SyncEcho,
    SyncRecordingTee,
    make_client,
)

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    _http = httpx2


class _RecordingStream(SyncRecordingTee, httpx2.SyncByteStream):
    _http = httpx2


class _AsyncRecordingStream(AsyncRecordingTee, httpx2.AsyncByteStream):
    _http = httpx2


class EchoTransport(SyncEcho[httpx2.Response], httpx2.BaseTransport):
    """A `httpx2.BaseTransport` that replays from a cassette, or records into it.

    Parameters
    ----------
    cassette
        The cassette file. It is created when something is recorded.
    mode
        ``"once"`` (default), ``"none"``, ``"new_episodes"`` or ``"all"``, as in vcrpy, or
        ``"rewrite"`` (delete the cassette, then record everything).
    match_on
        The canonical request fields whose values decide the response; replaces
        `promptecho.DEFAULT_MATCH_ON` (extend it with ``DEFAULT_MATCH_ON + ["temperature"]``).
    transport
        The real transport to record through; a ``httpx2.HTTPTransport()`` is created
        only when a request actually has to go upstream.
    allow_repeats
        Keep replaying the last recording of a request once every recording was played.
    replay_timing
        ``None`` replays streams as fast as possible, ``"recorded"`` reproduces the
        recorded gaps between events, a number scales them.
    redact_headers, redact_query, redact
        More names to redact: header names, query parameter names, and rules such as
        ``"request:messages[*].content"`` or ``"response:choices[*].message.content"``.
    before_record
        Called with each interaction before it is written; returns it (changed) or None.
    fsync
        Flush to the disk before every journal append and rename.
    on_miss
        Called with each `promptecho.CassetteMiss` before it is raised.
    allow_secrets
        Write a cassette even when it holds something shaped like an API key.
    max_age, on_expiry
        A cassette whose oldest recording is older than ``max_age`` (``"12h"``, ``"30d"``,
        ``"4w"`` or a ``timedelta``) has expired: ``on_expiry`` ``"warn"`` (default),
        ``"fail"`` (`promptecho.CassetteExpired`) or ``"rerecord"``.

    Examples
    --------
    >>> import httpx2, promptecho.httpx2
    >>> client = httpx2.Client(transport=promptecho.httpx2.EchoTransport("cassettes/chat.json"))
    """

    _http = httpx2
    _replay_class = _ReplayStream
    _recording_class = _RecordingStream

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._handle(request)


class AsyncEchoTransport(AsyncEcho[httpx2.Response], httpx2.AsyncBaseTransport):
    """The async twin of `EchoTransport`, a `httpx2.AsyncBaseTransport`."""

    _http = httpx2
    _replay_class = _ReplayStream
    _recording_class = _AsyncRecordingStream

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._ahandle(request)


def client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx2.Client:
    """A `httpx2.Client` whose transport is an `EchoTransport` on ``cassette``.

    Keyword arguments that `EchoTransport` takes go to it; the rest go to the client.
    """
    return make_client(httpx2.Client, EchoTransport, cassette, options)


def async_client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx2.AsyncClient:
    """A `httpx2.AsyncClient` whose transport is an `AsyncEchoTransport` on ``cassette``."""
    return make_client(httpx2.AsyncClient, AsyncEchoTransport, cassette, options)
