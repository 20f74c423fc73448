"""langchain-openai: ``ChatOpenAI(http_client=..., http_async_client=...)``, both on one cassette.

langchain-openai 1.8.1 hands both clients to the openai SDK it builds (httpx2 with openai 3.57). It
does not close clients it was given, so the recipe closes them. Sync and async, a plain call, a
stream, and a streamed tool call (bound with ``bind_tools``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import EXTRA, KEY, arecord_then_replay, record_then_replay

pytest.importorskip("langchain_openai", reason=f"langchain-openai is not installed: {EXTRA}")

import httpx2
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import promptecho.httpx2
from tests.sdk.conftest import areal, real

WEATHER = "What's the weather in Paris and in Tokyo?"


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city."""
    return f"{city}: 14 degrees {unit}"


def clients(cassette: Path, mode: Mode) -> tuple[httpx2.Client, httpx2.AsyncClient]:
    """The recipe's two promptecho clients, on one cassette."""
    return (
        promptecho.httpx2.client(cassette, mode=mode, transport=real(httpx2)),
        promptecho.httpx2.async_client(cassette, mode=mode, transport=areal(httpx2)),
    )


def openai_chat(url: str, sync: httpx2.Client, async_: httpx2.AsyncClient) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4.1-mini",
        api_key=KEY,  # type: ignore[arg-type]
        base_url=url + "/v1",
        http_client=sync,
        http_async_client=async_,
    )


@contextlib.contextmanager
def chat_model(url: str, cassette: Path, mode: Mode) -> Iterator[ChatOpenAI]:
    """A ChatOpenAI on both clients; the caller (the recipe) closes them."""
    sync, async_ = clients(cassette, mode)
    with sync:
        yield openai_chat(url, sync, async_)
    # the async client was not used by a sync test: closing it only folds what it recorded
    asyncio.run(async_.aclose())


@contextlib.asynccontextmanager
async def achat_model(url: str, cassette: Path, mode: Mode) -> AsyncIterator[ChatOpenAI]:
    sync, async_ = clients(cassette, mode)
    async with async_:
        with sync:
            yield openai_chat(url, sync, async_)


def message(value: Any) -> dict[str, Any]:
    """What a caller reads from an AIMessage(Chunk): content, tool calls, the response's metadata."""
    return {
        "content": value.content,
        "tool_calls": value.tool_calls,
        "metadata": value.response_metadata,
    }


def run_sync(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    with chat_model(url, cassette, mode) as llm:
        answer = llm.invoke("Say hello.")
        chunks = [chunk.content for chunk in llm.stream([("user", "Say hello.")])]
        streamed_tools: Any = None
        for chunk in llm.bind_tools([get_weather]).stream(WEATHER):
            streamed_tools = chunk if streamed_tools is None else streamed_tools + chunk
        return {"invoke": message(answer), "stream": chunks, "tools": message(streamed_tools)}


async def run_async(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    async with achat_model(url, cassette, mode) as llm:
        answer = await llm.ainvoke("Say hello.")
        chunks = [chunk.content async for chunk in llm.astream([("user", "Say hello.")])]
        streamed_tools: Any = None
        async for chunk in llm.bind_tools([get_weather]).astream(WEATHER):
            streamed_tools = chunk if streamed_tools is None else streamed_tools + chunk
        return {"invoke": message(answer), "stream": chunks, "tools": message(streamed_tools)}


def check(live: dict[str, Any]) -> None:
    assert live["invoke"]["content"]
    assert len(live["stream"]) > 2
    assert [c["args"]["city"] for c in live["tools"]["tool_calls"]] == ["Paris", "Tokyo"]


def test_invoke_stream_and_tools_replay_what_was_recorded(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = record_then_replay(up, lambda mode: run_sync(up.url, cassette, mode))
    check(live)
    assert replayed == live


async def test_async_invoke_stream_and_tools_replay_what_was_recorded(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(up, lambda mode: run_async(up.url, cassette, mode))
    check(live)
    assert replayed == live


def test_a_call_recorded_through_the_async_client_replays_through_the_sync_one(
    up: FakeUpstream, cassette: Path
) -> None:
    async def record() -> dict[str, Any]:
        async with achat_model(up.url, cassette, "once") as llm:
            return message(await llm.ainvoke("Say hello."))

    live = asyncio.run(record())
    up.stop()
    with chat_model(up.url, cassette, "none") as llm:
        assert message(llm.invoke("Say hello.")) == live
