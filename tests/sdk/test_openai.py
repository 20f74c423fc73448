"""openai (httpx2): chat completions and the Responses API record live and replay, equal, with the upstream stopped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

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
    GREETING,
    areal,
    arecord_and_replay,
    dump,
    kwargs_of,
    real,
    record_and_replay,
    retryable,
    sample,
    stop_and_prove_down,
)

CHAT = ["text", "image-url", "developer-reasoning", "tool-result"]
RESPONSES = ["string-input", "items-tools-reasoning", "function-call-output"]


def opener(
    up: FakeUpstream, cassette: Path, *, path: str = "/v1", http: Any = httpx2, **options: Any
) -> Callable[[Mode], Any]:
    """A fresh `openai.OpenAI` per mode; ``http`` is the flavour of the client handed to it."""
    echo_cls = promptecho.httpx2.EchoTransport if http is httpx2 else promptecho.EchoTransport

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[openai.OpenAI]:
        http_client = http.Client(transport=echo_cls(cassette, mode=mode, transport=real(http)))
        options.setdefault("max_retries", 0)
        with openai.OpenAI(
            api_key=API_KEY, base_url=up.url + path, http_client=http_client, **options
        ) as client:
            yield client

    return open_client


def aopener(
    up: FakeUpstream, cassette: Path, *, path: str = "/v1", http: Any = httpx2, **options: Any
) -> Callable[[Mode], Any]:
    echo_cls = (
        promptecho.httpx2.AsyncEchoTransport if http is httpx2 else promptecho.AsyncEchoTransport
    )

    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[openai.AsyncOpenAI]:
        http_client = http.AsyncClient(
            transport=echo_cls(cassette, mode=mode, transport=areal(http))
        )
        options.setdefault("max_retries", 0)
        async with openai.AsyncOpenAI(
            api_key=API_KEY, base_url=up.url + path, http_client=http_client, **options
        ) as client:
            yield client

    return open_client


# Chat completions


@pytest.mark.parametrize("scenario", CHAT)
def test_chat_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-chat", scenario)
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.chat.completions.create(**body))
    )
    assert replayed == live
    wire = json.loads(sample("openai-chat", scenario))
    assert live["choices"][0]["message"]["content"] == wire["choices"][0]["message"]["content"]


@pytest.mark.parametrize("scenario", CHAT)
async def test_async_chat_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-chat", scenario)

    async def call(client: openai.AsyncOpenAI) -> Any:
        return dump(await client.chat.completions.create(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


def test_chat_stream_with_tool_calls_replays_every_event_and_the_final_completion(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "tools-stream")

    def call(client: openai.OpenAI) -> tuple[list[Any], Any]:
        with client.chat.completions.stream(**body) as stream:
            return [dump(e) for e in stream], dump(stream.get_final_completion())

    live, replayed = record_and_replay(up, opener(up, cassette), call)
    assert replayed == live
    calls = live[1]["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]


async def test_async_chat_stream_with_tool_calls_replays_every_event_and_the_final_completion(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "tools-stream")

    async def call(client: openai.AsyncOpenAI) -> tuple[list[Any], Any]:
        async with client.chat.completions.stream(**body) as stream:
            return [dump(e) async for e in stream], dump(await stream.get_final_completion())

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


@pytest.mark.parametrize("scenario", ["text-stream", "tools-stream"])
def test_chat_create_stream_true_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-chat", scenario)

    def call(client: openai.OpenAI) -> list[Any]:
        with client.chat.completions.create(**body, stream=True) as stream:
            return [dump(chunk) for chunk in stream]

    live, replayed = record_and_replay(up, opener(up, cassette), call)
    assert replayed == live
    assert len(live) == sample("openai-chat", scenario).count(b"data: {")


async def test_async_chat_create_stream_true_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "text-stream")

    async def call(client: openai.AsyncOpenAI) -> list[Any]:
        stream = await client.chat.completions.create(**body, stream=True)
        async with stream:
            return [dump(chunk) async for chunk in stream]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    assert len(live) == sample("openai-chat", "text-stream").count(b"data: {")


# The Responses API


@pytest.mark.parametrize("scenario", RESPONSES)
def test_responses_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-responses", scenario)
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.responses.create(**body))
    )
    assert replayed == live
    assert live["id"] == json.loads(sample("openai-responses", scenario))["id"]


@pytest.mark.parametrize("scenario", RESPONSES)
async def test_async_responses_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-responses", scenario)

    async def call(client: openai.AsyncOpenAI) -> Any:
        return dump(await client.responses.create(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


@pytest.mark.parametrize("scenario", ["stream", "function-call-stream"])
def test_responses_stream_replays_every_event_and_the_final_response(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-responses", scenario)

    def call(client: openai.OpenAI) -> tuple[list[Any], Any]:
        with client.responses.stream(**body) as stream:
            return [dump(e) for e in stream], dump(stream.get_final_response())

    live, replayed = record_and_replay(up, opener(up, cassette), call)
    assert replayed == live
    assert len(live[0]) == sample("openai-responses", scenario).count(b"data: {")


@pytest.mark.parametrize("scenario", ["stream", "function-call-stream"])
async def test_async_responses_stream_replays_every_event_and_the_final_response(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("openai-responses", scenario)

    async def call(client: openai.AsyncOpenAI) -> tuple[list[Any], Any]:
        async with client.responses.stream(**body) as stream:
            return [dump(e) async for e in stream], dump(await stream.get_final_response())

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live


# OpenAI-compatible gateways: the same SDK, another base URL


@pytest.mark.parametrize(
    ("path", "model"),
    [("/openai/v1", "llama-3.3-70b-versatile"), ("/v1", "llama3.2")],
    ids=["groq-gateway", "ollama-gateway"],
)
def test_chat_through_an_openai_compatible_gateway_replays(
    served: Callable[..., FakeUpstream], cassette: Path, path: str, model: str
) -> None:
    up = served()

    def call(client: openai.OpenAI) -> tuple[Any, list[Any]]:
        chat = dump(client.chat.completions.create(model=model, messages=GREETING))
        with client.chat.completions.create(model=model, messages=GREETING, stream=True) as s:
            return chat, [dump(chunk) for chunk in s]

    live, replayed = record_and_replay(up, opener(up, cassette, path=path), call)
    assert replayed == live
    assert [seen.path.split("?")[0] for seen in up.seen] == [f"{path}/chat/completions"] * 2


async def test_async_chat_through_an_openai_compatible_gateway_replays(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()

    async def call(client: openai.AsyncOpenAI) -> Any:
        return dump(await client.chat.completions.create(model="llama3.2", messages=GREETING))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    assert live["system_fingerprint"] == "fp_ollama"


# Retries, SDK headers, the other flavour


def test_a_429_then_a_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served(fail_first=retryable("openai-chat", "error-429", retry_after_ms="1"))
    body = kwargs_of("openai-chat", "text")
    live, replayed = record_and_replay(
        up, opener(up, cassette, max_retries=2), lambda c: dump(c.chat.completions.create(**body))
    )
    assert replayed == live
    assert [s.header("x-stainless-retry-count") for s in up.seen] == ["0", "1"]
    statuses = [i.response.status for i in Cassette.load(cassette).interactions if i.response]
    assert statuses == [429, 200]


async def test_async_a_429_then_a_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served(fail_first=retryable("openai-chat", "error-429", retry_after_ms="1"))
    body = kwargs_of("openai-responses", "string-input")

    async def call(client: openai.AsyncOpenAI) -> Any:
        return dump(await client.responses.create(**body))

    # The 429 sample is a chat error; any route gets it first, and the Responses retry succeeds.
    live, replayed = await arecord_and_replay(up, aopener(up, cassette, max_retries=2), call)
    assert replayed == live
    statuses = [i.response.status for i in Cassette.load(cassette).interactions if i.response]
    assert statuses == [429, 200]


def test_replay_ignores_other_default_headers_organization_and_retries(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "text")
    with opener(up, cassette, default_headers={"x-team": "a"})("once") as client:
        live = dump(client.chat.completions.create(**body))
    stop_and_prove_down(up)
    replaying = opener(
        up,
        cassette,
        default_headers={"x-team": "b", "Idempotency-Key": "other"},
        organization="org-other",
        max_retries=4,
        timeout=3.0,
    )
    with replaying("none") as client:
        assert dump(client.chat.completions.create(**body)) == live


@pytest.mark.parametrize(
    ("record_with", "replay_with"),
    [(httpx, httpx2), (httpx2, httpx)],
    ids=["httpx-to-httpx2", "httpx2-to-httpx"],
)
def test_a_cassette_recorded_with_one_flavour_replays_with_the_other(
    served: Callable[..., FakeUpstream], cassette: Path, record_with: Any, replay_with: Any
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "tools-stream")

    def call(client: openai.OpenAI) -> tuple[Any, Any]:
        chat = dump(client.chat.completions.create(**kwargs_of("openai-chat", "text")))
        with client.chat.completions.stream(**body) as stream:
            return chat, dump(stream.get_final_completion())

    with opener(up, cassette, http=record_with)("once") as client:
        live = call(client)
    stop_and_prove_down(up)
    with opener(up, cassette, http=replay_with)("none") as client:
        assert call(client) == live
