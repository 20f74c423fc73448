"""pydantic-ai: its OpenAI, Anthropic and Google providers take a promptecho httpx2 async client.

``OpenAIProvider(http_client=...)``, ``AnthropicProvider(http_client=...)`` and
``GoogleProvider(http_client=...)`` each take an ``httpx2.AsyncClient`` (pydantic-ai-slim 2.66.0,
`pydantic_ai/providers/`); the Google provider warns about httpx's default 5-second timeout, so the
client gets a timeout. The agent runs its tools between the recorded calls, on replay as live.
``run_sync`` and ``run_stream_sync`` run on the thread's default event loop and leave it open: the
sync recipe gives them a loop it owns (`own_event_loop`) and closes the client on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import EXTRA, KEY, arecord_then_replay, own_event_loop, record_then_replay

pytest.importorskip("pydantic_ai", reason=f"pydantic-ai is not installed: {EXTRA}")

import httpx2
from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.google import GoogleProvider
from pydantic_ai.providers.openai import OpenAIProvider

import promptecho.httpx2
from tests.sdk.conftest import areal


def http_client(cassette: Path, mode: Mode) -> httpx2.AsyncClient:
    """The recipe: a promptecho httpx2 async client (the timeout keeps GoogleProvider quiet)."""
    return promptecho.httpx2.async_client(cassette, mode=mode, transport=areal(httpx2), timeout=60)


def weather_agent(model: Any) -> tuple[Agent[None, str], list[str]]:
    asked: list[str] = []
    agent: Agent[None, str] = Agent(model)

    @agent.tool_plain
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Get the current weather in a city."""
        asked.append(city)
        return f"{city}: 14 degrees {unit}"

    return agent, asked


def anthropic_model(url: str, http: httpx2.AsyncClient) -> AnthropicModel:
    return AnthropicModel(
        "claude-sonnet-4-6", provider=AnthropicProvider(api_key=KEY, base_url=url, http_client=http)
    )


async def run_anthropic_tools(url: str, cassette: Path, mode: Mode) -> tuple[str, list[str]]:
    async with http_client(cassette, mode) as http:
        agent, asked = weather_agent(anthropic_model(url, http))
        result = await agent.run("What's the weather in Paris and in Tokyo?")
        return result.output, sorted(asked)  # the agent runs its tools concurrently


def run_anthropic_tools_sync(url: str, cassette: Path, mode: Mode) -> tuple[str, list[str]]:
    """The sync recipe: ``run_sync`` on a loop the caller owns, the client closed on it."""
    with own_event_loop() as loop:
        http = http_client(cassette, mode)
        agent, asked = weather_agent(anthropic_model(url, http))
        result = agent.run_sync("What's the weather in Paris and in Tokyo?")
        loop.run_until_complete(http.aclose())
        return result.output, sorted(asked)


def openai_stream_sync(url: str, cassette: Path, mode: Mode) -> list[str]:
    with own_event_loop() as loop:
        http = http_client(cassette, mode)
        provider = OpenAIProvider(api_key=KEY, base_url=url + "/v1", http_client=http)
        agent: Agent[None, str] = Agent(OpenAIChatModel("gpt-4.1-mini", provider=provider))
        result = agent.run_stream_sync("Say hello.")
        deltas = list(result.stream_text(delta=True, debounce_by=None))
        loop.run_until_complete(http.aclose())
        return deltas


async def run_openai_stream(url: str, cassette: Path, mode: Mode) -> list[str]:
    async with http_client(cassette, mode) as http:
        provider = OpenAIProvider(api_key=KEY, base_url=url + "/v1", http_client=http)
        agent: Agent[None, str] = Agent(OpenAIChatModel("gpt-4.1-mini", provider=provider))
        async with agent.run_stream("Say hello.") as result:
            return [delta async for delta in result.stream_text(delta=True, debounce_by=None)]


async def run_google_tools(url: str, cassette: Path, mode: Mode) -> tuple[str, list[str]]:
    async with http_client(cassette, mode) as http:
        provider = GoogleProvider(api_key=KEY, base_url=url, http_client=http)
        agent, asked = weather_agent(GoogleModel("gemini-2.5-flash", provider=provider))
        result = await agent.run("What's the weather in Paris and in Tokyo?")
        return result.output, sorted(asked)  # the agent runs its tools concurrently


async def test_anthropic_agent_with_tools_replays_its_answer_and_tool_calls(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda mode: run_anthropic_tools(up.url, cassette, mode)
    )
    # pydantic-ai streams from Anthropic: a tool-use stream, then (tools run) a text stream
    assert live[1] == ["Paris", "Tokyo"]
    assert live[0].startswith("Bonjour")
    assert replayed == live


async def test_openai_streamed_agent_replays_every_delta(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda mode: run_openai_stream(up.url, cassette, mode)
    )
    assert len(live) > 1
    assert replayed == live


async def test_google_agent_with_tools_replays_its_answer_and_tool_calls(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda mode: run_google_tools(up.url, cassette, mode)
    )
    assert "Paris" in live[1]
    assert replayed == live


def test_run_sync_agent_with_tools_replays_its_answer_and_tool_calls(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = record_then_replay(
        up, lambda mode: run_anthropic_tools_sync(up.url, cassette, mode)
    )
    assert live[1] == ["Paris", "Tokyo"]
    assert live[0].startswith("Bonjour")
    assert replayed == live


def test_run_stream_sync_replays_every_delta(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = record_then_replay(up, lambda mode: openai_stream_sync(up.url, cassette, mode))
    assert len(live) > 1
    assert replayed == live
