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
    transport_doc,
)

__all__ = ["AsyncEchoTransport", "EchoTransport", "async_client", "client"]


class _ReplayStream(ReplayChunks, httpx.SyncByteStream, httpx.AsyncByteStream):
    _http = httpx


class _RecordingStream(SyncRecordingTee, httpx.SyncByteStream):
    _http = httpx


class _AsyncRecordingStream(AsyncRecordingTee, httpx.AsyncByteStream):
    _http = httpx


class EchoTransport(SyncEcho[httpx.Response], httpx.BaseTransport):
    __doc__ = transport_doc("httpx", "promptecho")

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
