"""anthropic (httpx2): messages record through a live upstream and replay, equal, with the upstream stopped."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
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
    kwargs_of,
    real,
    record_and_replay,
    retryable,
    sample,
    stop_and_prove_down,
)

SCENARIOS = ["text", "image-input", "tool-use", "tool-result", "thinking"]
STREAMS = ["text-stream", "tool-use-stream", "thinking-stream"]


def opener(up: FakeUpstream, cassette: Path, **options: Any) -> Callable[[Mode], Any]:
    """A fresh `anthropic.Anthropic` per mode, its httpx2 client on a promptecho transport."""

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[anthropic.Anthropic]:
        echo = promptecho.httpx2.EchoTransport(cassette, mode=mode, transport=real(httpx2))
        options.setdefault("max_retries", 0)
        with anthropic.Anthropic(
            api_key=API_KEY, base_url=up.url, http_client=httpx2.Client(transport=echo), **options
        ) as client:
            yield client

    return open_client


def aopener(up: FakeUpstream, cassette: Path, **options: Any) -> Callable[[Mode], Any]:
    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[anthropic.AsyncAnthropic]:
        echo = promptecho.httpx2.AsyncEchoTransport(cassette, mode=mode, transport=areal(httpx2))
        options.setdefault("max_retries", 0)
        async with anthropic.AsyncAnthropic(
            api_key=API_KEY,
            base_url=up.url,
            http_client=httpx2.AsyncClient(transport=echo),
            **options,
        ) as client:
            yield client

    return open_client


def streamed(client: anthropic.Anthropic, body: dict[str, Any]) -> tuple[list[Any], Any]:
    with client.messages.stream(**body) as stream:
        events = [dump(event) for event in stream]
        return events, dump(stream.get_final_message())


async def astreamed(
    client: anthropic.AsyncAnthropic, body: dict[str, Any]
) -> tuple[list[Any], Any]:
    async with client.messages.stream(**body) as stream:
        events = [dump(event) async for event in stream]
        return events, dump(await stream.get_final_message())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_messages_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("anthropic", scenario)
    live, replayed = record_and_replay(
        up, opener(up, cassette), lambda c: dump(c.messages.create(**body))
    )
    assert replayed == live
    wire = json.loads(sample("anthropic", scenario))
    assert (live["id"], [b["type"] for b in live["content"]]) == (
        wire["id"],
        [b["type"] for b in wire["content"]],
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_async_messages_create_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("anthropic", scenario)

    async def call(client: anthropic.AsyncAnthropic) -> Any:
        return dump(await client.messages.create(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    wire = json.loads(sample("anthropic", scenario))
    assert (live["id"], [b["type"] for b in live["content"]]) == (
        wire["id"],
        [b["type"] for b in wire["content"]],
    )


@pytest.mark.parametrize("scenario", STREAMS)
def test_messages_stream_replays_every_event_and_the_final_message(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("anthropic", scenario)
    live, replayed = record_and_replay(up, opener(up, cassette), lambda c: streamed(c, body))
    assert replayed == live
    events, final = live
    assert len(events) >= sample("anthropic", scenario).count(b"event: ")
    assert final["stop_reason"] is not None


@pytest.mark.parametrize("scenario", STREAMS)
async def test_async_messages_stream_replays_every_event_and_the_final_message(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str
) -> None:
    up = served()
    body = kwargs_of("anthropic", scenario)
    live, replayed = await arecord_and_replay(
        up, aopener(up, cassette), lambda c: astreamed(c, body)
    )
    assert replayed == live
    assert live[1]["stop_reason"] is not None


def test_raw_stream_events_replay_in_order(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("anthropic", "text-stream")

    def call(client: anthropic.Anthropic) -> list[Any]:
        with client.messages.create(**body, stream=True) as stream:
            return [dump(event) for event in stream]

    live, replayed = record_and_replay(up, opener(up, cassette), call)
    assert replayed == live
    assert [e["type"] for e in live].count("message_stop") == 1
    assert len(live) == sample("anthropic", "text-stream").count(b"event: ") - sample(
        "anthropic", "text-stream"
    ).count(b"event: ping")


async def test_async_raw_stream_events_replay_in_order(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("anthropic", "text-stream")

    async def call(client: anthropic.AsyncAnthropic) -> list[Any]:
        stream = await client.messages.create(**body, stream=True)
        async with stream:
            return [dump(event) async for event in stream]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette), call)
    assert replayed == live
    assert live[-1]["type"] == "message_stop"


def test_a_529_then_a_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served(fail_first=retryable("anthropic", "error-529", retry_after_ms="1"))
    body = kwargs_of("anthropic", "text")
    live, replayed = record_and_replay(
        up, opener(up, cassette, max_retries=2), lambda c: dump(c.messages.create(**body))
    )
    assert replayed == live
    assert len(up.seen) == 2
    assert up.seen[0].header("x-stainless-retry-count") == "0"
    assert up.seen[1].header("x-stainless-retry-count") == "1"
    statuses = [i.response.status for i in Cassette.load(cassette).interactions if i.response]
    assert statuses == [529, 200]


async def test_async_a_529_then_a_retry_are_both_recorded_and_replayed(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served(fail_first=retryable("anthropic", "error-529", retry_after_ms="1"))
    body = kwargs_of("anthropic", "text")

    async def call(client: anthropic.AsyncAnthropic) -> Any:
        return dump(await client.messages.create(**body))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette, max_retries=2), call)
    assert replayed == live
    statuses = [i.response.status for i in Cassette.load(cassette).interactions if i.response]
    assert statuses == [529, 200]


def test_replay_ignores_other_default_headers_retries_and_timeouts(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("anthropic", "tool-use")
    recording = opener(up, cassette, default_headers={"x-team": "a"})
    with recording("once") as client:
        live = dump(client.messages.create(**body))
    stop_and_prove_down(up)
    replaying = opener(
        up,
        cassette,
        default_headers={"x-team": "b", "anthropic-beta": "x"},
        max_retries=5,
        timeout=3.0,
    )
    with replaying("none") as client:
        assert dump(client.messages.create(**body)) == live


def test_an_httpx_client_is_refused_with_a_type_error(cassette: Path) -> None:
    wrong = httpx.Client(transport=promptecho.EchoTransport(cassette))
    with wrong, pytest.raises(TypeError, match="uses `httpx2`"):
        anthropic.Anthropic(api_key=API_KEY, http_client=wrong)
