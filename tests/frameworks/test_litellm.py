"""litellm: a per-call ``client=`` for OpenAI-compatible models, its HTTP handlers for Anthropic.

litellm 1.110.2. ``litellm.completion(model="openai/...", client=...)`` uses the openai SDK client
it is given (`promptecho.sdk(openai.OpenAI, ...)`). Anthropic goes through litellm's own handlers:
``client=HTTPHandler(client=promptecho.client(cassette))`` (httpx) and
``client=AsyncHTTPHandler(transport=promptecho.AsyncEchoTransport(cassette))``, closed with
``await handler.close()``. ``import litellm`` fetches a cost map from the network unless
``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set first (`litellm_core_utils/get_model_cost_map.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import httpx
import httpx2

import promptecho
import promptecho.httpx2
from promptecho._types import Mode
from promptecho.testing import FakeUpstream
from tests.sdk.conftest import areal, real

from .conftest import EXTRA, KEY, arecord_then_replay, record_then_replay

litellm = pytest.importorskip("litellm", reason=f"litellm is not installed: {EXTRA}")

import openai  # noqa: E402
from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler, HTTPHandler  # noqa: E402

# litellm's own use of pydantic warns (ReadOnly TypedDicts, a deprecated attribute): not ours
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item.* `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER = [{"role": "user", "content": "What's the weather in Paris and in Tokyo?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def plain(response: Any) -> Any:
    """What a caller reads: the choices (messages or deltas) and the usage.

    Not the id nor ``created``: for Anthropic, litellm makes them up on each call.
    """
    value = response.model_dump()
    return {"choices": value["choices"], "usage": value.get("usage")}


def run_openai(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    with promptecho.sdk(
        openai.OpenAI, cassette, mode=mode, transport=real(httpx2), api_key=KEY, base_url=url
    ) as client:
        common = {"model": "openai/gpt-4.1-mini", "client": client, "api_key": KEY}
        answer = litellm.completion(messages=HELLO, **common)
        stream = [plain(c) for c in litellm.completion(messages=HELLO, stream=True, **common)]
        tools = [
            plain(c)
            for c in litellm.completion(messages=WEATHER, tools=TOOLS, stream=True, **common)
        ]
    return {"answer": plain(answer), "stream": stream, "tools": tools}


async def arun_openai(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    async with promptecho.sdk(
        openai.AsyncOpenAI, cassette, mode=mode, transport=areal(httpx2), api_key=KEY, base_url=url
    ) as client:
        common = {"model": "openai/gpt-4.1-mini", "client": client, "api_key": KEY}
        answer = await litellm.acompletion(messages=HELLO, **common)
        chunks = await litellm.acompletion(messages=HELLO, stream=True, **common)
        stream = [plain(c) async for c in chunks]
        chunks = await litellm.acompletion(messages=WEATHER, tools=TOOLS, stream=True, **common)
        tools = [plain(c) async for c in chunks]
    return {"answer": plain(answer), "stream": stream, "tools": tools}


def run_anthropic(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    with promptecho.client(cassette, mode=mode, transport=real(httpx)) as http:
        common = {
            "model": "anthropic/claude-sonnet-4-6",
            "client": HTTPHandler(client=http),
            "api_key": KEY,
            "api_base": url + "/v1/messages",
            "max_tokens": 1024,
        }
        answer = litellm.completion(messages=HELLO, **common)
        stream = [plain(c) for c in litellm.completion(messages=HELLO, stream=True, **common)]
        tools = litellm.completion(messages=WEATHER, tools=TOOLS, **common)
    return {"answer": plain(answer), "stream": stream, "tools": plain(tools)}


async def arun_anthropic(url: str, cassette: Path, mode: Mode) -> dict[str, Any]:
    transport = promptecho.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx))
    handler = AsyncHTTPHandler(transport=transport)
    common = {
        "model": "anthropic/claude-sonnet-4-6",
        "client": handler,
        "api_key": KEY,
        "api_base": url + "/v1/messages",
        "max_tokens": 1024,
    }
    try:
        answer = await litellm.acompletion(messages=HELLO, **common)
        chunks = await litellm.acompletion(messages=HELLO, stream=True, **common)
        stream = [plain(c) async for c in chunks]
        tools = await litellm.acompletion(messages=WEATHER, tools=TOOLS, **common)
    finally:
        await handler.close()  # closes its httpx client, and so the transport: the cassette
    return {"answer": plain(answer), "stream": stream, "tools": plain(tools)}


def cities(value: Any) -> list[str]:
    """The cities of the tool calls, from a message or from streamed deltas."""
    import json

    choices = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in choices:
        for choice in item["choices"]:
            part = choice.get("message") or choice.get("delta") or {}
            for call in part.get("tool_calls") or []:
                arguments = call["function"]["arguments"]
                if arguments and arguments.startswith("{"):
                    found.append(json.loads(arguments)["city"])
    return found


def check(live: dict[str, Any], streamed_tools: bool) -> None:
    assert live["answer"]["choices"][0]["message"]["content"]
    assert len(live["stream"]) > 2
    if streamed_tools:  # streamed OpenAI tool arguments arrive in pieces: check the names
        names = [
            call["function"]["name"]
            for chunk in live["tools"]
            for call in chunk["choices"][0]["delta"].get("tool_calls") or []
            if call["function"].get("name")
        ]
        assert names == ["get_weather", "get_weather"]
    else:
        assert cities(live["tools"]) == ["Paris", "Tokyo"]


def test_openai_compatible_model_replays_with_a_per_call_client(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = record_then_replay(up, lambda m: run_openai(up.url + "/v1", cassette, m))
    check(live, streamed_tools=True)
    assert replayed == live


async def test_async_openai_compatible_model_replays_with_a_per_call_client(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(
        up, lambda m: arun_openai(up.url + "/v1", cassette, m)
    )
    check(live, streamed_tools=True)
    assert replayed == live


def test_anthropic_model_replays_through_litellms_http_handler(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = record_then_replay(up, lambda m: run_anthropic(up.url, cassette, m))
    check(live, streamed_tools=False)
    assert replayed == live


async def test_async_anthropic_model_replays_through_litellms_async_http_handler(
    up: FakeUpstream, cassette: Path
) -> None:
    live, replayed = await arecord_then_replay(up, lambda m: arun_anthropic(up.url, cassette, m))
    check(live, streamed_tools=False)
    assert replayed == live
