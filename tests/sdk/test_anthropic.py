"""anthropic (httpx2), what only it does: raw stream events and its refusal of an httpx client; the
calls every SDK makes are rows of `test_rounds.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

import promptecho
import promptecho.httpx2
from promptecho.testing import FakeUpstream

from .clients import ANTHROPIC, aopener, opener
from .conftest import (
    API_KEY,
    arecord_and_replay,
    dump,
    kwargs_of,
    record_and_replay,
    sample,
)


def test_raw_stream_events_replay_in_order(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("anthropic", "text-stream")

    def call(client: anthropic.Anthropic) -> list[Any]:
        with client.messages.create(**body, stream=True) as stream:
            return [dump(event) for event in stream]

    live, replayed = record_and_replay(up, opener(ANTHROPIC, up, cassette), call)
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

    live, replayed = await arecord_and_replay(up, aopener(ANTHROPIC, up, cassette), call)
    assert replayed == live
    assert live[-1]["type"] == "message_stop"


def test_an_httpx_client_is_refused_with_a_type_error(cassette: Path) -> None:
    wrong = httpx.Client(transport=promptecho.EchoTransport(cassette))
    with wrong, pytest.raises(TypeError, match="uses `httpx2`"):
        anthropic.Anthropic(api_key=API_KEY, http_client=wrong)
