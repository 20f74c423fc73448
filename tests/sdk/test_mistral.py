"""mistralai (httpx2): chat.complete and chat.stream record live and replay, equal, with the upstream stopped.

mistralai 3.7.0 takes ``Mistral(client=httpx2.Client(...), async_client=httpx2.AsyncClient(...))``
(`mistralai/client/sdk.py`); its HTTP layer imports ``httpx2 as httpx``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mistralai.client import Mistral

import promptecho.httpx2
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import (
    API_KEY,
    areal,
    arecord_and_replay,
    dump,
    kwargs_of,
    real,
    record_and_replay,
    sample,
)

STREAMS = ["chat-stream", "tools-stream"]


def opener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    """A fresh `Mistral` per mode, its sync httpx2 client on a promptecho transport."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[Mistral]:
        http_client = httpx2.Client(
            transport=promptecho.httpx2.EchoTransport(cassette, mode=mode, transport=real(httpx2))
        )
        with http_client, Mistral(api_key=API_KEY, server_url=up.url, client=http_client) as client:
            yield client

    return open_client


def aopener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[Mistral]:
        echo = promptecho.httpx2.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx2))
        async with (
            httpx2.AsyncClient(transport=echo) as http_client,
            Mistral(api_key=API_KEY, server_url=up.url, async_client=http_client) as client,
        ):
            yield client

    return open_client


def test_chat_complete_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("mistral", "chat")
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.chat.complete(**body))
    )
    assert replayed == live
    wire = json.loads(sample("mistral", "chat"))
    assert live["choices"][0]["message"]["content"] == wire["choices"][0]["message"]["content"]


async def test_async_chat_complete_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("mistral", "chat")

    async def call(client: Mistral) -> Any:
        return dump(await client.chat.complete_async(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


@pytest.mark.parametrize("scenario", STREAMS)
def test_chat_stream_replays_every_event(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("mistral", scenario)

    def call(client: Mistral) -> list[Any]:
        with client.chat.stream(**body) as events:
            return [dump(event) for event in events]

    live, replayed = record_and_replay(up, opener(up, cassette), call)
    assert replayed == live
    assert len(live) == sample("mistral", scenario).count(b"data: {")


@pytest.mark.parametrize("scenario", STREAMS)
async def test_async_chat_stream_replays_every_event(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("mistral", scenario)

    async def call(client: Mistral) -> list[Any]:
        async with await client.chat.stream_async(**body) as events:
            return [dump(event) async for event in events]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    assert len(live) == sample("mistral", scenario).count(b"data: {")
