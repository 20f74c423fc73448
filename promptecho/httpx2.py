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
    transport_doc,
)

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    _http = httpx2


class _RecordingStream(SyncRecordingTee, httpx2.SyncByteStream):
    _http = httpx2


class _AsyncRecordingStream(AsyncRecordingTee, httpx2.AsyncByteStream):
    _http = httpx2


class EchoTransport(SyncEcho[httpx2.Response], httpx2.BaseTransport):
    __doc__ = transport_doc("httpx2", "promptecho.httpx2")

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
