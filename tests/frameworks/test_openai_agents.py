"""openai-agents: ``set_default_openai_client(...)`` with a promptecho client, tracing disabled.

openai-agents runs its models through the default ``AsyncOpenAI`` client, which the recipe sets to
``promptecho.sdk(openai.AsyncOpenAI, cassette)`` with ``use_for_tracing=False``; tracing is
disabled with ``set_tracing_disabled(True)``, because its exporter has a client of its own, pointed
at the live API. Both are process-wide settings: the fixture restores them. The agent calls the
Responses API: a tool call (the agent runs the tool between the two recorded calls) and a stream.

Tested with openai-agents 0.20.0 and openai 2.54.0, in the openai2 venv: its newer releases pin
``websockets<17``, which the dev extra's ``websockets==17.4`` excludes (0.24.0 passed this test
beside openai 3.57.0 before that pin came in). ``Runner.run_sync`` runs on the thread's default
event loop and leaves it open on purpose: the sync recipe gives it a loop it owns
(`own_event_loop`) and closes the client on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import promptecho
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import KEY, OWN_VENV, arecord_then_replay, own_event_loop, record_then_replay

pytest.importorskip("agents", reason=f"openai-agents is not installed: {OWN_VENV}")

import openai
from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)
from agents.models import _openai_shared

WEATHER = "What's the weather in Paris and in Tokyo?"


@pytest.fixture(autouse=True)
def process_wide_settings() -> Iterator[None]:
    before = _openai_shared.get_default_openai_client()
    set_tracing_disabled(True)
    try:
        yield
    finally:
        set_tracing_disabled(False)
        _openai_shared.set_default_openai_client(before)  # type: ignore[arg-type]


def use_cassette(url: str, cassette: Path, mode: Mode) -> openai.AsyncOpenAI:
    """The recipe: the agents' default client records into and replays from ``cassette``."""
    # No real transport given: sdk() picks the flavour of the installed openai (httpx for 2.x)
    client = promptecho.sdk(openai.AsyncOpenAI, cassette, mode=mode, api_key=KEY, base_url=url)
    set_default_openai_client(client, use_for_tracing=False)
    return client


def weather_agent() -> tuple[Agent[Any], list[str]]:
    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        asked.append(city)
        return f"{city}: 14 degrees"

    return Agent(name="weather", model="gpt-4.1-mini", tools=[get_weather]), asked


async def run_tools(url: str, cassette: Path, mode: Mode) -> tuple[str, list[str]]:
    async with use_cassette(url, cassette, mode):
        agent, asked = weather_agent()
        result = await Runner.run(agent, WEATHER)
        return result.final_output, sorted(asked)


def run_tools_sync(url: str, cassette: Path, mode: Mode) -> tuple[str, list[str]]:
    """The sync recipe: ``Runner.run_sync`` on a loop the caller owns, the client closed on it."""
    with own_event_loop() as loop:
        client = use_cassette(url, cassette, mode)
        agent, asked = weather_agent()
        result = Runner.run_sync(agent, WEATHER)
        loop.run_until_complete(client.close())
        return result.final_output, sorted(asked)


async def run_stream(url: str, cassette: Path, mode: Mode) -> tuple[list[str], str]:
    async with use_cassette(url, cassette, mode):
        agent = Agent(name="hello", model="gpt-4.1-mini")
        result = Runner.run_streamed(agent, "Say hello.")
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event"
            and event.data.type == "response.output_text.delta"
        ]
        return deltas, result.final_output


async def test_agent_with_a_tool_replays_its_answer_and_its_tool_calls(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda mode: run_tools(up.url + "/v1", cassette, mode)
    )
    assert live[1] == ["Paris", "Tokyo"]
    assert live[0].startswith("Paris")
    assert replayed == live


async def test_streamed_agent_replays_every_text_delta(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda mode: run_stream(up.url + "/v1", cassette, mode)
    )
    assert len(live[0]) > 1
    assert "".join(live[0]) == live[1]
    assert replayed == live


def test_run_sync_agent_with_a_tool_replays_its_answer_and_its_tool_calls(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = record_then_replay(
        up, lambda mode: run_tools_sync(up.url + "/v1", cassette, mode)
    )
    assert live[1] == ["Paris", "Tokyo"]
    assert live[0].startswith("Paris")
    assert replayed == live
