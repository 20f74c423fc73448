"""Every SDK's calls, sync and async: recorded live, replayed with the upstream stopped, equal.

One row a call: which SDK, which wire sample it asks for, the call in each direction, and a fact
of the wire sample the live result must show (so the comparison is not of two empty results). Each
row runs twice, through the sync client and through the async one. Two more tables take rows of the
first: a failure the SDK retries, and SDK options that must not change the match. What only one
SDK does (flavours, gateways, raw events) is in that SDK's own file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from promptecho import Cassette
from promptecho.testing import FakeUpstream
from tests.upstream import response_path

from .clients import (
    ANTHROPIC,
    COHERE,
    GEMINI,
    GEMINI_MODEL,
    GROQ,
    MISTRAL,
    OLLAMA,
    OPENAI,
    Sdk,
    aopener,
    gemini_arguments,
    opener,
)
from .conftest import (
    arecord_and_replay,
    dump,
    error_reply,
    kwargs_of,
    record_and_replay,
    retryable,
    stop_and_prove_down,
)

Call = Callable[[Any, dict[str, Any]], Any]
ACall = Callable[[Any, dict[str, Any]], Awaitable[Any]]
Check = Callable[[Any, bytes], bool]

# genai copies the raw response headers into every result. The cassette stores bodies decoded and
# unframed, so a replay has no content-encoding/transfer-encoding/content-length (promptecho drops
# them on purpose); every other header must be as recorded.
FRAMING = ("content-encoding", "transfer-encoding", "content-length")


@dataclasses.dataclass(frozen=True)
class Round:
    """One call of one SDK, in both directions, and what its live result must show of the wire."""

    sdk: Sdk
    provider: str  # the wire samples' folder
    scenario: str
    call: Call
    acall: ACall
    check: Check
    http: ModuleType | None = None  # another flavour than the SDK's default
    path: str | None = None  # the path the SDK must have asked for
    label: str = ""  # the test id's word for the call, where one scenario has two calls

    @property
    def id(self) -> str:
        flavour = f"-{self.http.__name__}" if self.http is not None else ""
        return f"{self.sdk.name}-{self.label or self.scenario}{flavour}"

    def arguments(self) -> dict[str, Any]:
        if self.sdk is GEMINI:
            return gemini_arguments(self.scenario)
        return kwargs_of(self.provider, self.scenario)


# The calls, each in its two directions


async def awaited(result: Awaitable[Any]) -> Any:
    return dump(await result)


def each(stream: Any) -> list[Any]:
    """Every event of a stream the SDK opens as a context manager."""
    with stream as events:
        return [dump(event) for event in events]


async def aeach(stream: Any) -> list[Any]:
    """Every event of an async stream; ``stream`` may be awaitable first (``create(stream=True)``)."""
    opened = await stream if isinstance(stream, Awaitable) else stream
    async with opened as events:
        return [dump(event) async for event in events]


async def aiterate(events: Any) -> list[Any]:
    """Every item of an async iterator, or of the awaitable that gives one."""
    iterator = await events if isinstance(events, Awaitable) else events
    return [dump(event) async for event in iterator]


def with_final(stream: Any, final: str) -> tuple[list[Any], Any]:
    """The events of a helper stream, then its ``final()`` (``get_final_message`` and the like)."""
    with stream as events:
        return [dump(event) for event in events], dump(getattr(events, final)())


async def awith_final(stream: Any, final: str) -> tuple[list[Any], Any]:
    async with stream as events:
        return [dump(event) async for event in events], dump(await getattr(events, final)())


def gemini_parsed(response: Any) -> Any:
    """The dumped response, its ``sdk_http_response.headers`` without the framing headers."""
    value = dump(response)
    headers = (value.get("sdk_http_response") or {}).get("headers") or {}
    for name in FRAMING:
        headers.pop(name, None)
    return value


async def agemini(client: Any, arguments: dict[str, Any]) -> Any:
    return gemini_parsed(await client.models.generate_content(**arguments))


async def agemini_stream(client: Any, arguments: dict[str, Any]) -> list[Any]:
    stream = await client.models.generate_content_stream(**arguments)
    return [gemini_parsed(chunk) async for chunk in stream]


# What the live result must show of the wire sample


def wire(raw: bytes) -> Any:
    return json.loads(raw)


def anthropic_blocks(live: Any, raw: bytes) -> bool:
    answer = wire(raw)
    return (live["id"], [b["type"] for b in live["content"]]) == (
        answer["id"],
        [b["type"] for b in answer["content"]],
    )


def anthropic_stream(live: Any, raw: bytes) -> bool:
    events, final = live
    return len(events) >= raw.count(b"event: ") and final["stop_reason"] is not None


def chat_text(live: Any, raw: bytes) -> bool:
    return bool(
        live["choices"][0]["message"]["content"] == wire(raw)["choices"][0]["message"]["content"]
    )


def counted(marker: bytes) -> Check:
    """As many events parsed as the sample holds ``marker``s."""

    def check(live: Any, raw: bytes) -> bool:
        return len(live) == raw.count(marker)

    return check


def openai_tool_calls(live: Any, raw: bytes) -> bool:
    calls = live[1]["choices"][0]["message"]["tool_calls"]
    return [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]


def responses_stream(live: Any, raw: bytes) -> bool:
    return len(live[0]) == raw.count(b"data: {")


ROUNDS = [
    *(
        Round(
            ANTHROPIC,
            "anthropic",
            scenario,
            lambda c, a: dump(c.messages.create(**a)),
            lambda c, a: awaited(c.messages.create(**a)),
            anthropic_blocks,
            path="/v1/messages",
        )
        for scenario in ["text", "image-input", "tool-use", "tool-result", "thinking"]
    ),
    *(
        Round(
            ANTHROPIC,
            "anthropic",
            scenario,
            lambda c, a: with_final(c.messages.stream(**a), "get_final_message"),
            lambda c, a: awith_final(c.messages.stream(**a), "get_final_message"),
            anthropic_stream,
        )
        for scenario in ["text-stream", "tool-use-stream", "thinking-stream"]
    ),
    *(
        Round(
            OPENAI,
            "openai-chat",
            scenario,
            lambda c, a: dump(c.chat.completions.create(**a)),
            lambda c, a: awaited(c.chat.completions.create(**a)),
            chat_text,
            path="/v1/chat/completions",
        )
        for scenario in ["text", "image-url", "developer-reasoning", "tool-result"]
    ),
    *(
        Round(
            OPENAI,
            "openai-chat",
            scenario,
            lambda c, a: each(c.chat.completions.create(**a, stream=True)),
            lambda c, a: aeach(c.chat.completions.create(**a, stream=True)),
            counted(b"data: {"),
        )
        for scenario in ["text-stream", "tools-stream"]
    ),
    Round(
        OPENAI,
        "openai-chat",
        "tools-stream",
        lambda c, a: with_final(c.chat.completions.stream(**a), "get_final_completion"),
        lambda c, a: awith_final(c.chat.completions.stream(**a), "get_final_completion"),
        openai_tool_calls,
        label="tools-stream-helper",
    ),
    *(
        Round(
            OPENAI,
            "openai-responses",
            scenario,
            lambda c, a: dump(c.responses.create(**a)),
            lambda c, a: awaited(c.responses.create(**a)),
            lambda live, raw: bool(live["id"] == wire(raw)["id"]),
            path="/v1/responses",
        )
        for scenario in ["string-input", "items-tools-reasoning", "function-call-output"]
    ),
    *(
        Round(
            OPENAI,
            "openai-responses",
            scenario,
            lambda c, a: with_final(c.responses.stream(**a), "get_final_response"),
            lambda c, a: awith_final(c.responses.stream(**a), "get_final_response"),
            responses_stream,
        )
        for scenario in ["stream", "function-call-stream"]
    ),
    Round(
        GROQ,
        "groq",
        "chat",
        lambda c, a: dump(c.chat.completions.create(**a)),
        lambda c, a: awaited(c.chat.completions.create(**a)),
        chat_text,
        path="/openai/v1/chat/completions",
    ),
    Round(
        GROQ,
        "groq",
        "chat-stream",
        lambda c, a: each(c.chat.completions.create(**a, stream=True)),
        lambda c, a: aeach(c.chat.completions.create(**a, stream=True)),
        counted(b"data: {"),
    ),
    Round(
        COHERE,
        "cohere",
        "chat",
        lambda c, a: dump(c.chat(**a)),
        lambda c, a: awaited(c.chat(**a)),
        lambda live, raw: bool(
            live["message"]["content"][0]["text"] == wire(raw)["message"]["content"][0]["text"]
        ),
        path="/v2/chat",
    ),
    *(
        Round(
            COHERE,
            "cohere",
            scenario,
            lambda c, a: dump(list(c.chat_stream(**a))),
            lambda c, a: aiterate(c.chat_stream(**a)),
            counted(b"event: "),
        )
        for scenario in ["chat-stream", "tools-stream"]
    ),
    Round(
        MISTRAL,
        "mistral",
        "chat",
        lambda c, a: dump(c.chat.complete(**a)),
        lambda c, a: awaited(c.chat.complete_async(**a)),
        chat_text,
        path="/v1/chat/completions",
    ),
    *(
        Round(
            MISTRAL,
            "mistral",
            scenario,
            lambda c, a: each(c.chat.stream(**a)),
            lambda c, a: aeach(c.chat.stream_async(**a)),
            counted(b"data: {"),
        )
        for scenario in ["chat-stream", "tools-stream"]
    ),
    Round(
        OLLAMA,
        "ollama",
        "chat",
        lambda c, a: dump(c.chat(**a, stream=False)),
        lambda c, a: awaited(c.chat(**a, stream=False)),
        lambda live, raw: bool(live["message"]["content"] == wire(raw)["message"]["content"]),
        path="/api/chat",
    ),
    *(
        Round(
            OLLAMA,
            "ollama",
            scenario,
            lambda c, a: dump(list(c.chat(**a, stream=True))),
            lambda c, a: aiterate(c.chat(**a, stream=True)),
            lambda live, raw: len(live) == len(raw.splitlines()) and live[-1]["done"] is True,
        )
        for scenario in ["chat-stream", "tools-stream"]
    ),
    *(
        Round(
            GEMINI,
            "gemini",
            scenario,
            lambda c, a: gemini_parsed(c.models.generate_content(**a)),
            agemini,
            lambda live, raw: bool(live["response_id"] == wire(raw)["responseId"]),
            http=http,
            path=f"/v1/models/{GEMINI_MODEL}:generateContent",
        )
        for scenario in ["generate", "tools-thinking", "function-response", "image-input"]
        for http in (None, httpx)
    ),
    *(
        Round(
            GEMINI,
            "gemini",
            "stream",
            lambda c, a: [gemini_parsed(r) for r in c.models.generate_content_stream(**a)],
            agemini_stream,
            counted(b"data: "),
            http=http,
            path=f"/v1/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse",
        )
        for http in (None, httpx)
    ),
]


def sample_of(case: Round) -> bytes:
    return response_path(case.provider, case.scenario).read_bytes()


def test_every_sdk_and_every_sample_scenario_the_rounds_name_exist() -> None:
    assert {case.sdk.name for case in ROUNDS} == {
        "anthropic",
        "openai",
        "groq",
        "cohere",
        "mistral",
        "ollama",
        "gemini",
    }
    assert all(sample_of(case) for case in ROUNDS)


@pytest.mark.parametrize("case", ROUNDS, ids=lambda case: case.id)
def test_a_call_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, case: Round
) -> None:
    up = served()
    arguments = case.arguments()
    live, replayed = record_and_replay(
        up, opener(case.sdk, up, cassette, http=case.http), lambda c: case.call(c, arguments)
    )
    assert replayed == live
    assert case.check(live, sample_of(case))
    if case.path is not None:
        assert up.seen[0].path == case.path


@pytest.mark.parametrize("case", ROUNDS, ids=lambda case: case.id)
async def test_an_async_call_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, case: Round
) -> None:
    up = served()
    arguments = case.arguments()
    live, replayed = await arecord_and_replay(
        up, aopener(case.sdk, up, cassette, http=case.http), lambda c: case.acall(c, arguments)
    )
    assert replayed == live
    assert case.check(live, sample_of(case))
    if case.path is not None:
        assert up.seen[0].path == case.path


# A failure, then the SDK's retry: both recorded, both replayed in order

BY_ID = {case.id: case for case in ROUNDS}
RETRIES = {
    "anthropic-text": retryable("anthropic", "error-529", retry_after_ms="1"),
    "openai-text": retryable("openai-chat", "error-429", retry_after_ms="1"),
    # The 429 sample is a chat error; any route gets it first, and the Responses retry succeeds.
    "openai-string-input": retryable("openai-chat", "error-429", retry_after_ms="1"),
    "groq-chat": error_reply(
        503, b'{"error":{"message":"busy","type":"internal_server_error"}}', retry_after_ms="1"
    ),
}


def recorded_statuses(cassette: Path) -> list[int]:
    return [i.response.status for i in Cassette.load(cassette).interactions if i.response]


@pytest.mark.parametrize("name", RETRIES)
def test_a_failure_then_the_sdk_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path, name: str
) -> None:
    case, failure = BY_ID[name], RETRIES[name]
    up = served(fail_first=failure)
    arguments = case.arguments()
    live, replayed = record_and_replay(
        up, opener(case.sdk, up, cassette, max_retries=2), lambda c: case.call(c, arguments)
    )
    assert replayed == live
    assert case.check(live, sample_of(case))
    assert [s.header("x-stainless-retry-count") for s in up.seen] == ["0", "1"]
    assert recorded_statuses(cassette) == [failure.status, 200]


@pytest.mark.parametrize("name", RETRIES)
async def test_an_async_failure_then_the_sdk_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path, name: str
) -> None:
    case, failure = BY_ID[name], RETRIES[name]
    up = served(fail_first=failure)
    arguments = case.arguments()
    live, replayed = await arecord_and_replay(
        up, aopener(case.sdk, up, cassette, max_retries=2), lambda c: case.acall(c, arguments)
    )
    assert replayed == live
    assert [s.header("x-stainless-retry-count") for s in up.seen] == ["0", "1"]
    assert recorded_statuses(cassette) == [failure.status, 200]


# SDK options that change headers, retries and timeouts, not the question: the replay still matches

OTHER_OPTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "anthropic-tool-use": (
        {"default_headers": {"x-team": "a"}},
        {
            "default_headers": {"x-team": "b", "anthropic-beta": "x"},
            "max_retries": 5,
            "timeout": 3.0,
        },
    ),
    "openai-text": (
        {"default_headers": {"x-team": "a"}},
        {
            "default_headers": {"x-team": "b", "Idempotency-Key": "other"},
            "organization": "org-other",
            "max_retries": 4,
            "timeout": 3.0,
        },
    ),
    "groq-chat": (
        {"default_headers": {"x-team": "a"}},
        {"default_headers": {"x-team": "b"}, "max_retries": 3, "timeout": 3.0},
    ),
}


@pytest.mark.parametrize("name", OTHER_OPTIONS)
def test_replay_ignores_other_default_headers_retries_and_timeouts(
    served: Callable[..., FakeUpstream], cassette: Path, name: str
) -> None:
    case, (recording, replaying) = BY_ID[name], OTHER_OPTIONS[name]
    up = served()
    arguments = case.arguments()
    with opener(case.sdk, up, cassette, **recording)("once") as client:
        live = case.call(client, arguments)
    stop_and_prove_down(up)
    assert up.seen[0].header("x-team") == "a"
    with opener(case.sdk, up, cassette, **replaying)("none") as client:
        assert case.call(client, arguments) == live
