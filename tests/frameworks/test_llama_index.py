"""llama-index-llms-openai: ``OpenAI(http_client=..., async_http_client=...)`` with promptecho clients.

llama-index-llms-openai 0.8.3 pins openai 2.x (httpx), so it runs in the environment ``.ci/run``
builds for it. It does not close the clients it was given; the recipe does. A chat, a streamed
chat, and a streamed chat with a tool whose calls llama-index parses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import promptecho
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import KEY, OWN_VENV, arecord_then_replay, record_then_replay

pytest.importorskip("llama_index.llms.openai", reason=f"llama-index is not installed: {OWN_VENV}")

import httpx
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai import OpenAI

from tests.sdk.conftest import areal, real

HELLO = [ChatMessage(role="user", content="Say hello.")]
WEATHER = "What's the weather in Paris and in Tokyo?"


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"{city}: 14 degrees"


TOOL = FunctionTool.from_defaults(fn=get_weather)


def llm(url: str, http: Any = None, async_http: Any = None) -> OpenAI:
    return OpenAI(
        model="gpt-4.1-mini",
        api_key=KEY,
        api_base=url,
        http_client=http,
        async_http_client=async_http,
    )


def tool_calls(model: OpenAI, response: Any) -> list[tuple[str, dict[str, Any]]]:
    calls = model.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    return [(call.tool_name, call.tool_kwargs) for call in calls]


def run_sync(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    with promptecho.client(cassette, mode=mode, transport=real(httpx)) as http:
        model = llm(url, http=http)
        chat = model.chat(HELLO).message.content
        deltas = [r.delta for r in model.stream_chat(HELLO)]
        *_, last = model.stream_chat_with_tools([TOOL], user_msg=WEATHER)
        return {"chat": chat, "stream": deltas, "tools": tool_calls(model, last)}


async def run_async(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    async with promptecho.async_client(cassette, mode=mode, transport=areal(httpx)) as http:
        model = llm(url, async_http=http)
        chat = (await model.achat(HELLO)).message.content
        deltas = [r.delta async for r in await model.astream_chat(HELLO)]
        last = None
        async for last in await model.astream_chat_with_tools([TOOL], user_msg=WEATHER):  # noqa: B007
            pass
        return {"chat": chat, "stream": deltas, "tools": tool_calls(model, last)}


EXPECTED_TOOLS = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]


def test_chat_stream_and_tool_calls_replay_as_recorded(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = record_then_replay(up, lambda m: run_sync(up.url + "/v1", cassette, m))
    assert live["chat"]
    assert len(live["stream"]) > 2
    assert live["tools"] == EXPECTED_TOOLS
    assert replayed == live


async def test_async_chat_stream_and_tool_calls_replay_as_recorded(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(up, lambda m: run_async(up.url + "/v1", cassette, m))
    assert live["tools"] == EXPECTED_TOOLS
    assert replayed == live
