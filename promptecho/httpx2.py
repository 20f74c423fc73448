"""The httpx2 flavour: `EchoTransport` and `AsyncEchoTransport` over `httpx2` classes.

Only the classes are declared here; the behaviour is in `promptecho._adapter` and the
decisions in `promptecho._recorder`, shared with the httpx flavour (`promptecho.EchoTransport`). A cassette recorded
with either flavour replays with the other.
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
    split_options,
)
from ._recorder import Replay
from ._types import Headers

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    _errors = httpx2


class _RecordingStream(SyncRecordingTee, httpx2.SyncByteStream):
    _errors = httpx2


class _AsyncRecordingStream(AsyncRecordingTee, httpx2.AsyncByteStream):
    _errors = httpx2


class EchoTransport(SyncEcho[httpx2.Response], httpx2.BaseTransport):
    """An `httpx2.BaseTransport` that replays from a cassette, or records into it.

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
        The real transport to record through; an ``httpx2.HTTPTransport()`` is created
        only when a request actually has to go upstream.
    allow_repeats
        Keep replaying the last recording of a request once every recording was played.
    replay_timing
        ``None`` replays streams as fast as possible, ``"recorded"`` reproduces the
        recorded gaps between events, a number scales them.

    Examples
    --------
    >>> import httpx2, promptecho.httpx2
    >>> client = httpx2.Client(transport=promptecho.httpx2.EchoTransport("cassettes/chat.json"))
    """

    _errors = httpx2

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._handle(request)

    def _response(
        self, status: int, headers: Headers, stream: Any, extensions: Any
    ) -> httpx2.Response:
        return httpx2.Response(status, headers=headers, stream=stream, extensions=extensions)

    def _replay_stream(self, replay: Replay) -> _ReplayStream:
        return _ReplayStream(replay, self._timing)

    def _default_transport(self) -> httpx2.HTTPTransport:
        return httpx2.HTTPTransport()

    def _recording_stream(self, inner: Any, *args: Any) -> _RecordingStream:
        return _RecordingStream(inner, *args)


class AsyncEchoTransport(AsyncEcho[httpx2.Response], httpx2.AsyncBaseTransport):
    """The async twin of `EchoTransport`, an `httpx2.AsyncBaseTransport`."""

    _errors = httpx2

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._ahandle(request)

    def _response(
        self, status: int, headers: Headers, stream: Any, extensions: Any
    ) -> httpx2.Response:
        return httpx2.Response(status, headers=headers, stream=stream, extensions=extensions)

    def _replay_stream(self, replay: Replay) -> _ReplayStream:
        return _ReplayStream(replay, self._timing)

    def _default_transport(self) -> httpx2.AsyncHTTPTransport:
        return httpx2.AsyncHTTPTransport()

    def _recording_stream(self, inner: Any, *args: Any) -> _AsyncRecordingStream:
        return _AsyncRecordingStream(inner, *args)


def client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx2.Client:
    """An `httpx2.Client` whose transport is an `EchoTransport` on ``cassette``.

    Keyword arguments that `EchoTransport` takes go to it; the rest go to the client.
    """
    echo, rest = split_options(options)
    return httpx2.Client(transport=EchoTransport(cassette, **echo), **rest)


def async_client(cassette: str | os.PathLike[str], /, **options: Any) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` whose transport is an `AsyncEchoTransport` on ``cassette``."""
    echo, rest = split_options(options)
    return httpx2.AsyncClient(transport=AsyncEchoTransport(cassette, **echo), **rest)
