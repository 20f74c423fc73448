"""instructor over openai and anthropic clients built by `promptecho.sdk`.

instructor 1.17.0 pins openai 2.x, so it runs in the environment ``.ci/run`` builds for it (openai
2.54.0 on httpx, anthropic 2.14.0 on httpx2): ``instructor.from_openai(promptecho.sdk(openai.OpenAI,
cassette))`` and ``instructor.from_anthropic(promptecho.sdk(anthropic.Anthropic, cassette))``.
`promptecho.sdk` picks httpx for that openai and httpx2 for anthropic from their constructors.
The samples answer with two ``get_weather`` tool calls, so the response model is named after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import promptecho
from promptecho._types import Mode
from promptecho.testing import FakeUpstream

from .conftest import KEY, OWN_VENV, arecord_then_replay, record_then_replay

instructor = pytest.importorskip("instructor", reason=f"instructor is not installed: {OWN_VENV}")

import anthropic  # noqa: E402
import httpx  # noqa: E402
import httpx2  # noqa: E402
import openai  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from tests.sdk.conftest import areal, real  # noqa: E402

MESSAGES = [{"role": "user", "content": "What's the weather in Paris and in Tokyo?"}]


class get_weather(BaseModel):
    city: str


def dumped(items: Iterable[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def run_openai(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    sdk = promptecho.sdk(
        openai.OpenAI, cassette, mode=mode, transport=real(httpx), api_key=KEY, base_url=url
    )
    with sdk:
        client = instructor.from_openai(sdk)
        common = {"model": "gpt-4.1-mini", "response_model": get_weather, "messages": MESSAGES}
        return {
            "iterable": dumped(client.chat.completions.create_iterable(**common)),
            "partial": dumped(client.chat.completions.create_partial(**common)),
        }


async def arun_openai(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    sdk = promptecho.sdk(
        openai.AsyncOpenAI, cassette, mode=mode, transport=areal(httpx), api_key=KEY, base_url=url
    )
    async with sdk:
        client = instructor.from_openai(sdk)
        common = {"model": "gpt-4.1-mini", "response_model": get_weather, "messages": MESSAGES}
        iterable = [x async for x in client.chat.completions.create_iterable(**common)]
        partial = [x async for x in client.chat.completions.create_partial(**common)]
        return {"iterable": dumped(iterable), "partial": dumped(partial)}


def anthropic_arguments() -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "max_tokens": 1024, "messages": MESSAGES}


def run_anthropic(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    sdk = promptecho.sdk(
        anthropic.Anthropic, cassette, mode=mode, transport=real(httpx2), api_key=KEY, base_url=url
    )
    with sdk:
        tools = instructor.from_anthropic(sdk, mode=instructor.Mode.PARALLEL_TOOLS)
        called = tools.messages.create(
            response_model=Iterable[get_weather], **anthropic_arguments()
        )
        streamed = instructor.from_anthropic(sdk).messages.create_iterable(
            response_model=get_weather, **anthropic_arguments()
        )
        return {"tools": dumped(called), "stream": dumped(streamed)}


async def arun_anthropic(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    sdk = promptecho.sdk(
        anthropic.AsyncAnthropic,
        cassette,
        mode=mode,
        transport=areal(httpx2),
        api_key=KEY,
        base_url=url,
    )
    async with sdk:
        tools = instructor.from_anthropic(sdk, mode=instructor.Mode.PARALLEL_TOOLS)
        called = await tools.messages.create(
            response_model=Iterable[get_weather], **anthropic_arguments()
        )
        streamed = instructor.from_anthropic(sdk).messages.create_iterable(
            response_model=get_weather, **anthropic_arguments()
        )
        return {"tools": dumped(called), "stream": dumped([x async for x in streamed])}


PARIS_TOKYO = [{"city": "Paris"}, {"city": "Tokyo"}]


def test_openai_streamed_tool_calls_replay_as_recorded(up: FakeUpstream, cassette: Path) -> None:
    live, replayed = record_then_replay(up, lambda m: run_openai(up.url + "/v1", cassette, m))
    assert live["iterable"] == PARIS_TOKYO
    assert live["partial"][-1] == {"city": "Paris"}
    assert replayed == live


async def test_async_openai_streamed_tool_calls_replay_as_recorded(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda m: arun_openai(up.url + "/v1", cassette, m)
    )
    assert live["iterable"] == PARIS_TOKYO
    assert replayed == live


def test_anthropic_tool_calls_and_their_stream_replay_as_recorded(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = record_then_replay(up, lambda m: run_anthropic(up.url, cassette, m))
    assert live == {"tools": PARIS_TOKYO, "stream": PARIS_TOKYO}
    assert replayed == live


async def test_async_anthropic_tool_calls_and_their_stream_replay_as_recorded(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(up, lambda m: arun_anthropic(up.url, cassette, m))
    assert live == {"tools": PARIS_TOKYO, "stream": PARIS_TOKYO}
    assert replayed == live
