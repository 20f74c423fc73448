"""openai (httpx2), what only it does: gateways and both flavours; the
calls every SDK makes are rows of `test_rounds.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest

from promptecho.testing import FakeUpstream

from .clients import OPENAI, aopener, opener
from .conftest import (
    GREETING,
    arecord_and_replay,
    dump,
    kwargs_of,
    record_and_replay,
    stop_and_prove_down,
)

# OpenAI-compatible gateways: the same SDK, another base URL


@pytest.mark.parametrize(
    ("path", "model"),
    [("/openai/v1", "llama-3.3-70b-versatile"), ("/v1", "llama3.2")],
    ids=["groq-gateway", "ollama-gateway"],
)
def test_chat_through_an_openai_compatible_gateway_replays(
    served: Callable[..., FakeUpstream], cassette: Path, path: str, model: str
) -> None:
    up = served()

    def call(client: openai.OpenAI) -> tuple[Any, list[Any]]:
        chat = dump(client.chat.completions.create(model=model, messages=GREETING))
        with client.chat.completions.create(model=model, messages=GREETING, stream=True) as s:
            return chat, [dump(chunk) for chunk in s]

    live, replayed = record_and_replay(up, opener(OPENAI, up, cassette, path=path), call)
    assert replayed == live
    assert [seen.path.split("?")[0] for seen in up.seen] == [f"{path}/chat/completions"] * 2


async def test_async_chat_through_an_openai_compatible_gateway_replays(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()

    async def call(client: openai.AsyncOpenAI) -> Any:
        return dump(await client.chat.completions.create(model="llama3.2", messages=GREETING))

    live, replayed = await arecord_and_replay(up, aopener(OPENAI, up, cassette), call)
    assert replayed == live
    assert live["system_fingerprint"] == "fp_ollama"


# The other flavour


@pytest.mark.parametrize(
    ("record_with", "replay_with"),
    [(httpx, httpx2), (httpx2, httpx)],
    ids=["httpx-to-httpx2", "httpx2-to-httpx"],
)
def test_a_cassette_recorded_with_one_flavour_replays_with_the_other(
    served: Callable[..., FakeUpstream], cassette: Path, record_with: Any, replay_with: Any
) -> None:
    up = served()
    body = kwargs_of("openai-chat", "tools-stream")

    def call(client: openai.OpenAI) -> tuple[Any, Any]:
        chat = dump(client.chat.completions.create(**kwargs_of("openai-chat", "text")))
        with client.chat.completions.stream(**body) as stream:
            return chat, dump(stream.get_final_completion())

    with opener(OPENAI, up, cassette, http=record_with)("once") as client:
        live = call(client)
    stop_and_prove_down(up)
    with opener(OPENAI, up, cassette, http=replay_with)("none") as client:
        assert call(client) == live
