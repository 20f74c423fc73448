"""The httpx flavour: `EchoTransport` and `AsyncEchoTransport` over `httpx` classes.

Only the classes are declared here: which httpx classes they build on. The behaviour is
in `promptecho._adapter` and the decisions in `promptecho._recorder`, both shared with
the httpx2 flavour, so a cassette recorded with either flavour replays with the other.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ._adapter import (
    AsyncEcho,
    AsyncRecordingTee,
    ReplayChunks,
    SyncEcho,
    SyncRecordingTee,
    make_client,
)

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx.SyncByteStream, httpx.AsyncByteStream):
    _http = httpx


class _RecordingStream(SyncRecordingTee, httpx.SyncByteStream):
    _http = httpx


class _AsyncRecordingStream(AsyncRecordingTee, httpx.AsyncByteStream):
    _http = httpx


class EchoTransport(SyncEcho[httpx.Response], httpx.BaseTransport):
    """A `httpx.BaseTransport` that replays from a cassette, or records into it.

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
        The real transport to record through; a ``httpx.HTTPTransport()`` is created
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
    >>> import httpx, promptecho
    >>> client = httpx.Client(transport=promptecho.EchoTransport("cassettes/chat.json"))
    """

    _http = httpx
    _replay_class = _ReplayStream
    _recording_class = _RecordingStream

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._handle(request)


class AsyncEchoTransport(AsyncEcho[httpx.Response], httpx.AsyncBaseTransport):
    """The async twin of `EchoTransport`, a `httpx.AsyncBaseTransport`."""

    _http = httpx
    _replay_class = _ReplayStream
    _recording_class = _AsyncRecordingStream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._ahandle(request)


def client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx.Client:
    """A `httpx.Client` whose transport is an `EchoTransport` on ``cassette``.

    Keyword arguments that `EchoTransport` takes go to it; the rest go to the client.
    """
    return make_client(httpx.Client, EchoTransport, cassette, options)


def async_client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx.AsyncClient:
    """A `httpx.AsyncClient` whose transport is an `AsyncEchoTransport` on ``cassette``."""
    return make_client(httpx.AsyncClient, AsyncEchoTransport, cassette, options)
