"""groq (httpx), what only it does: its cassettes across SDKs and flavours.

groq 1.7.0 is built on httpx: ``Groq(http_client=httpx.Client(transport=promptecho.EchoTransport(...)))``.
Its requests go to ``/openai/v1/chat/completions``, the same wire format as OpenAI's chat, so a
cassette it records (httpx flavour) replays through the openai SDK (httpx2 flavour) and back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import groq
import httpx2
import pytest

import promptecho
import promptecho.httpx2
from promptecho.testing import FakeUpstream

from .clients import GROQ, OPENAI, opener
from .conftest import (
    API_KEY,
    dump,
    kwargs_of,
    stop_and_prove_down,
)


def streamed(client: Any, body: dict[str, Any]) -> list[Any]:
    with client.chat.completions.create(**body, stream=True) as stream:
        return [dump(chunk) for chunk in stream]


def test_recorded_with_groq_on_httpx_replays_through_openai_on_httpx2(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")
    stream_body = kwargs_of("groq", "chat-stream")
    with opener(GROQ, up, cassette)("once") as client:
        live = dump(client.chat.completions.create(**body)), streamed(client, stream_body)
    stop_and_prove_down(up)
    with opener(OPENAI, up, cassette, path="/openai/v1")("none") as other:
        chat = other.chat.completions.create(**body)
        chunks = streamed(other, stream_body)
    assert chat.choices[0].message.content == live[0]["choices"][0]["message"]["content"]
    assert chat.id == live[0]["id"]
    texts = [c["choices"][0]["delta"]["content"] for c in chunks if c["choices"]]
    assert texts == [c["choices"][0]["delta"]["content"] for c in live[1] if c["choices"]]


def test_recorded_with_openai_on_httpx2_replays_through_groq_on_httpx(
    served: Callable[..., FakeUpstream], cassette: Path
) -> None:
    up = served()
    body = kwargs_of("groq", "chat")
    with opener(OPENAI, up, cassette, path="/openai/v1")("once") as other:
        live = other.chat.completions.create(**body)
    stop_and_prove_down(up)
    with opener(GROQ, up, cassette)("none") as client:
        replayed = client.chat.completions.create(**body)
    assert (replayed.id, replayed.choices[0].message.content) == (
        live.id,
        live.choices[0].message.content,
    )


def test_an_httpx2_client_is_refused_with_a_type_error(cassette: Path) -> None:
    wrong = httpx2.Client(transport=promptecho.httpx2.EchoTransport(cassette))
    with wrong, pytest.raises(TypeError, match=r"Expected an instance of `httpx\.Client`"):
        groq.Groq(api_key=API_KEY, http_client=wrong)
