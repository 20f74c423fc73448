"""cohere v2 (httpx): chat and chat_stream record live and replay, equal, with the upstream stopped.

cohere 7.3.1 takes ``ClientV2(httpx_client=httpx.Client(...))`` and
``AsyncClientV2(httpx_client=httpx.AsyncClient(...))`` (`cohere/client_v2.py`); it has no ``close()``,
so the caller closes the httpx client it passed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest

import promptecho
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
    """A fresh `cohere.ClientV2` per mode, its httpx client on a promptecho transport."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[cohere.ClientV2]:
        transport = promptecho.EchoTransport(cassette, mode=mode, transport=real(httpx))
        with httpx.Client(transport=transport) as http_client:
            yield cohere.ClientV2(api_key=API_KEY, base_url=up.url, httpx_client=http_client)

    return open_client


def aopener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[cohere.AsyncClientV2]:
        transport = promptecho.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx))
        async with httpx.AsyncClient(transport=transport) as http_client:
            yield cohere.AsyncClientV2(api_key=API_KEY, base_url=up.url, httpx_client=http_client)

    return open_client


def test_chat_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("cohere", "chat")
    live, replayed = record_and_replay(up, opener(up, cassette), lambda c: dump(c.chat(**body)))
    assert replayed == live
    wire = json.loads(sample("cohere", "chat"))
    assert live["message"]["content"][0]["text"] == wire["message"]["content"][0]["text"]


async def test_async_chat_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("cohere", "chat")

    async def call(client: cohere.AsyncClientV2) -> Any:
        return dump(await client.chat(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


@pytest.mark.parametrize("scenario", STREAMS)
def test_chat_stream_replays_every_event(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("cohere", scenario)
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(list(c.chat_stream(**body)))
    )
    assert replayed == live
    assert len(live) == sample("cohere", scenario).count(b"event: ")


@pytest.mark.parametrize("scenario", STREAMS)
async def test_async_chat_stream_replays_every_event(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("cohere", scenario)

    async def call(client: cohere.AsyncClientV2) -> list[Any]:
        return [dump(event) async for event in client.chat_stream(**body)]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
