"""The httpx flavour: `EchoTransport` and `AsyncEchoTransport` over `httpx` classes.

Only the classes are declared here; the behaviour is in `promptecho._adapter` and the
decisions in `promptecho._recorder`, shared with `promptecho.httpx2`.
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
    split_options,
)
from ._recorder import Replay
from ._types import Headers

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx.SyncByteStream, httpx.AsyncByteStream):
    _errors = httpx


class _RecordingStream(SyncRecordingTee, httpx.SyncByteStream):
    _errors = httpx


class _AsyncRecordingStream(AsyncRecordingTee, httpx.AsyncByteStream):
    _errors = httpx


class EchoTransport(SyncEcho[httpx.Response], httpx.BaseTransport):
    """An `httpx.BaseTransport` that replays from a cassette, or records into it.

    Parameters
    ----------
    cassette
        The cassette file. It is created when something is recorded.
    mode
        ``"once"`` (default), ``"none"``, ``"new_episodes"`` or ``"all"``, as in vcrpy.
    match_on
        The canonical request fields whose values decide the response; replaces
        `promptecho.DEFAULT_MATCH_ON` (extend it with ``DEFAULT_MATCH_ON + ["temperature"]``).
    transport
        The real transport to record through; an ``httpx.HTTPTransport()`` is created
        only when a request actually has to go upstream.
    allow_repeats
        Keep replaying the last recording of a request once every recording was played.
    replay_timing
        ``None`` replays streams as fast as possible, ``"recorded"`` reproduces the
        recorded gaps between events, a number scales them.

    Examples
    --------
    >>> import httpx, promptecho
    >>> client = httpx.Client(transport=promptecho.EchoTransport("cassettes/chat.json"))
    """

    _errors = httpx

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._handle(request)

    def _response(
        self, status: int, headers: Headers, stream: Any, extensions: Any
    ) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=stream, extensions=extensions)

    def _replay_stream(self, replay: Replay) -> _ReplayStream:
        return _ReplayStream(replay, self._timing)

    def _default_transport(self) -> httpx.HTTPTransport:
        return httpx.HTTPTransport()

    def _recording_stream(self, inner: Any, *args: Any) -> _RecordingStream:
        return _RecordingStream(inner, *args)


class AsyncEchoTransport(AsyncEcho[httpx.Response], httpx.AsyncBaseTransport):
    """The async twin of `EchoTransport`, an `httpx.AsyncBaseTransport`."""

    _errors = httpx

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._ahandle(request)

    def _response(
        self, status: int, headers: Headers, stream: Any, extensions: Any
    ) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=stream, extensions=extensions)

    def _replay_stream(self, replay: Replay) -> _ReplayStream:
        return _ReplayStream(replay, self._timing)

    def _default_transport(self) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport()

    def _recording_stream(self, inner: Any, *args: Any) -> _AsyncRecordingStream:
        return _AsyncRecordingStream(inner, *args)


def client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx.Client:
    """An `httpx.Client` whose transport is an `EchoTransport` on ``cassette``.

    Keyword arguments that `EchoTransport` takes go to it; the rest go to the client.
    """
    echo, rest = split_options(options)
    return httpx.Client(transport=EchoTransport(cassette, **echo), **rest)


def async_client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` whose transport is an `AsyncEchoTransport` on ``cassette``."""
    echo, rest = split_options(options)
    return httpx.AsyncClient(transport=AsyncEchoTransport(cassette, **echo), **rest)
