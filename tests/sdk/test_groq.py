"""groq (httpx): chat completions record live and replay, equal, with the upstream stopped; and across flavours.

groq 1.7.0 is built on httpx: ``Groq(http_client=httpx.Client(transport=promptecho.EchoTransport(...)))``.
Its requests go to ``/openai/v1/chat/completions``, the same wire format as OpenAI's chat, so a
cassette it records (httpx flavour) replays through the openai SDK (httpx2 flavour) and back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import groq
import httpx
import httpx2
import openai
import pytest

import promptecho
import promptecho.httpx2
from promptecho import Cassette
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import (
    API_KEY,
    areal,
    arecord_and_replay,
    dump,
    error_reply,
    kwargs_of,
    real,
    record_and_replay,
    sample,
    stop_and_prove_down,
)


def opener(up: FakeUpstream, cassette: Path, **options: Any) -> Callable[[Mode], Any]:
    """A fresh `groq.Groq` per mode, its httpx client on a promptecho transport."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[groq.Groq]:
        http_client = httpx.Client(
            transport=promptecho.EchoTransport(cassette, mode=mode, transport=real(httpx))
        )
        options.setdefault("max_retries", 0)
        with groq.Groq(
            api_key=API_KEY, base_url=up.url, http_client=http_client, **options
        ) as client:
            yield client

    return open_client


def aopener(up: FakeUpstream, cassette: Path, **options: Any) -> Callable[[Mode], Any]:
    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[groq.AsyncGroq]:
        http_client = httpx.AsyncClient(
            transport=promptecho.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx))
        )
        options.setdefault("max_retries", 0)
        async with groq.AsyncGroq(
            api_key=API_KEY, base_url=up.url, http_client=http_client, **options
        ) as client:
            yield client

    return open_client


def openai_opener(up: FakeUpstream, cassette: Path) -> Callable[[Mode], Any]:
    """The openai SDK (httpx2) pointed at Groq's OpenAI-compatible path."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[openai.OpenAI]:
        echo = promptecho.httpx2.EchoTransport(cassette, mode=mode, transport=real(httpx2))
        with openai.OpenAI(
            api_key=API_KEY,
            base_url=up.url + "/openai/v1",
            http_client=httpx2.Client(transport=echo),
            max_retries=0,
        ) as client:
            yield client

    return open_client


def streamed(client: Any, body: dict[str, Any]) -> list[Any]:
    with client.chat.completions.create(**body, stream=True) as stream:
        return [dump(chunk) for chunk in stream]


def test_chat_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.chat.completions.create(**body))
    )
    assert replayed == live
    wire = json.loads(sample("groq", "chat"))
    assert live["choices"][0]["message"]["content"] == wire["choices"][0]["message"]["content"]


async def test_async_chat_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")

    async def call(client: groq.AsyncGroq) -> Any:
        return dump(await client.chat.completions.create(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


def test_chat_stream_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat-stream")
    live, replayed = record_and_replay(up, opener(up, cassette), lambda c: streamed(c, body))
    assert replayed == live
    assert len(live) == sample("groq", "chat-stream").count(b"data: {")


async def test_async_chat_stream_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat-stream")

    async def call(client: groq.AsyncGroq) -> list[Any]:
        stream = await client.chat.completions.create(**body, stream=True)
        async with stream:
            return [dump(chunk) async for chunk in stream]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


def test_a_503_then_a_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    busy = error_reply(
        503, b'{"error":{"message":"busy","type":"internal_server_error"}}', retry_after_ms="1"
    )
    up = served(fail_first=busy)
    body = kwargs_of("groq", "chat")
    live, replayed = record_and_replay(
        up, opener(up, cassette, max_retries=2), lambda c: dump(c.chat.completions.create(**body))
    )
    assert replayed == live
    assert [s.header("x-stainless-retry-count") for s in up.seen] == ["0", "1"]
    statuses = [i.response.status for i in Cassette.load(cassette).interactions if i.response]
    assert statuses == [503, 200]


def test_recorded_with_groq_on_httpx_replays_through_openai_on_httpx2(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")
    stream_body = kwargs_of("groq", "chat-stream")
    with opener(up, cassette)("once") as client:
        live = dump(client.chat.completions.create(**body)), streamed(client, stream_body)
    stop_and_prove_down(up)
    with openai_opener(up, cassette)("none") as other:
        chat = other.chat.completions.create(**body)
        chunks = streamed(other, stream_body)
    assert chat.choices[0].message.content == live[0]["choices"][0]["message"]["content"]
    assert chat.id == live[0]["id"]
    texts = [c["choices"][0]["delta"]["content"] for c in chunks if c["choices"]]
    assert texts == [c["choices"][0]["delta"]["content"] for c in live[1] if c["choices"]]


def test_recorded_with_openai_on_httpx2_replays_through_groq_on_httpx(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")
    with openai_opener(up, cassette)("once") as other:
        live = other.chat.completions.create(**body)
    stop_and_prove_down(up)
    with opener(up, cassette)("none") as client:
        replayed = client.chat.completions.create(**body)
    assert (replayed.id, replayed.choices[0].message.content) == (
        live.id,
        live.choices[0].message.content,
    )


def test_an_httpx2_client_is_refused_with_a_type_error(cassette: Path) -> None:
    wrong = httpx2.Client(transport=promptecho.httpx2.EchoTransport(cassette))
    with wrong, pytest.raises(TypeError, match=r"Expected an instance of `httpx\.Client`"):
        groq.Groq(api_key=API_KEY, http_client=wrong)
