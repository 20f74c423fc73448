"""ollama (httpx): native /api/chat, JSON and NDJSON stream, record live and replay, equal, upstream stopped.

ollama 0.6.3 builds its own httpx client and passes every extra keyword to it
(`ollama/_client.py::BaseClient`), so the hook is ``ollama.Client(host=..., transport=EchoTransport(...))``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

import promptecho
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import areal, arecord_and_replay, dump, kwargs_of, real, record_and_replay, sample

STREAMS = ["chat-stream", "tools-stream"]


def opener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    """A fresh `ollama.Client` per mode, with a promptecho transport for its httpx client."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[ollama.Client]:
        with ollama.Client(
            host=up.url,
            transport=promptecho.EchoTransport(cassette, mode=mode, transport=real(httpx)),
        ) as c:
            yield c

    return open_client


def aopener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[ollama.AsyncClient]:
        transport = promptecho.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx))
        async with ollama.AsyncClient(host=up.url, transport=transport) as client:
            yield client

    return open_client


def test_chat_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("ollama", "chat")
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.chat(**body, stream=False))
    )
    assert replayed == live
    wire = json.loads(sample("ollama", "chat"))
    assert live["message"]["content"] == wire["message"]["content"]


async def test_async_chat_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("ollama", "chat")

    async def call(client: ollama.AsyncClient) -> Any:
        return dump(await client.chat(**body, stream=False))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


@pytest.mark.parametrize("scenario", STREAMS)
def test_chat_ndjson_stream_replays_every_part(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("ollama", scenario)
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(list(c.chat(**body, stream=True)))
    )
    assert replayed == live
    assert len(live) == len(sample("ollama", scenario).splitlines())


@pytest.mark.parametrize("scenario", STREAMS)
async def test_async_chat_ndjson_stream_replays_every_part(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("ollama", scenario)

    async def call(client: ollama.AsyncClient) -> list[Any]:
        return [dump(part) async for part in await client.chat(**body, stream=True)]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    assert live[-1]["done"] is True
