"""langchain-anthropic: it takes no client, so the recipe sets the two it would build.

langchain-anthropic 1.7.10 builds its anthropic clients lazily, in the cached properties
``_client`` and ``_async_client`` of `ChatAnthropic` (`langchain_anthropic/chat_models.py`), from
its own httpx2 client. Assigning them before the first call is the smallest workaround:
``llm._client = promptecho.sdk(anthropic.Anthropic, cassette, ...)``. It relies on a private
name, so this test is what tells when a release moves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import promptecho
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import EXTRA, KEY, arecord_then_replay, record_then_replay

pytest.importorskip("langchain_anthropic", reason=f"langchain-anthropic is not installed: {EXTRA}")

import anthropic
import httpx2
from langchain_anthropic import ChatAnthropic
from langchain_core.tools import tool

from tests.sdk.conftest import areal, real

MODEL = "claude-sonnet-4-6"
WEATHER = "What's the weather in Paris and in Tokyo?"


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city."""
    return f"{city}: 14 degrees {unit}"


def chat_model(url: str, cassette: Path, mode: Mode, *, is_async: bool) -> ChatAnthropic:
    """The recipe: a ChatAnthropic whose anthropic client is a promptecho one."""
    llm = ChatAnthropic(model_name=MODEL, api_key=KEY, base_url=url, max_tokens=1024)  # type: ignore[call-arg]
    sdk_class = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    transport = areal(httpx2) if is_async else real(httpx2)
    client = promptecho.sdk(
        sdk_class, cassette, mode=mode, transport=transport, api_key=KEY, base_url=url
    )
    if is_async:
        llm._async_client = client  # type: ignore[method-assign]
    else:
        llm._client = client  # type: ignore[method-assign]
    return llm


def message(value: Any) -> dict[str, Any]:
    return {
        "content": value.content,
        "tool_calls": value.tool_calls,
        "metadata": value.response_metadata,
    }


def run_sync(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    llm = chat_model(url, cassette, mode, is_async=False)
    with llm._client:
        answer = llm.invoke("Say hello.")
        chunks = [chunk.content for chunk in llm.stream("Say hello.")]
        tools = llm.bind_tools([get_weather]).invoke(WEATHER)
    return {"invoke": message(answer), "stream": chunks, "tools": message(tools)}


async def run_async(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    llm = chat_model(url, cassette, mode, is_async=True)
    async with llm._async_client:
        answer = await llm.ainvoke("Say hello.")
        chunks = [chunk.content async for chunk in llm.astream("Say hello.")]
        tools = await llm.bind_tools([get_weather]).ainvoke(WEATHER)
    return {"invoke": message(answer), "stream": chunks, "tools": message(tools)}


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
