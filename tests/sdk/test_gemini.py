"""google-genai (httpx2 or httpx): generate_content and its SSE stream record live and replay, equal, upstream stopped.

genai 3.6.1 takes a caller's client through ``types.HttpOptions(httpx_client=..., httpx_async_client=...)``
and accepts both flavours (`google/genai/_api_client.py` widens its checks to httpx and httpx2), so the
main round runs in each.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import types

import promptecho
import promptecho.httpx2
from promptecho._types import Mode
from promptecho.testing import FakeUpstream
from tests.upstream import request_body

from .conftest import (
    API_KEY,
    areal,
    arecord_and_replay,
    dump,
    loopback_tls,
    real,
    record_and_replay,
    sample,
)

MODEL = "gemini-2.5-flash"
SCENARIOS = ["generate", "tools-thinking", "function-response", "image-input"]
# Each genai client builds TLS contexts for the clients it was not given and for websockets (about
# 0.3 s); handing it one shared context keeps this module fast. The transport under test is unchanged.
QUIET_TLS = {
    "client_args": {"verify": loopback_tls()},
    "async_client_args": {"verify": loopback_tls(), "ssl": loopback_tls()},
}
FRAMING = ("content-encoding", "transfer-encoding", "content-length")
FLAVOURS = {"httpx2": (httpx2, promptecho.httpx2), "httpx": (httpx, promptecho)}


def arguments(scenario: str) -> dict[str, Any]:
    """``contents`` and ``config`` for generate_content, built from the REST request sample."""
    body = json.loads(request_body("gemini", scenario))
    config = {k: v for k, v in body.items() if k not in ("contents", "generationConfig")}
    config |= body.get("generationConfig", {})
    return {
        "model": MODEL,
        "contents": [types.Content.model_validate(c) for c in body["contents"]],
        "config": types.GenerateContentConfig.model_validate(config),
    }


def opener(up: FakeUpstream, cassette: Path, flavour: str = "httpx2") -> Callable[[Mode], Any]:
    """A fresh `genai.Client` per mode with its sync client on a promptecho transport."""
    http, echo = FLAVOURS[flavour]

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[genai.Client]:
        with http.Client(
            transport=echo.EchoTransport(cassette, mode=mode, transport=real(http))
        ) as http_client:
            options = types.HttpOptions(base_url=up.url, httpx_client=http_client, **QUIET_TLS)
            client = genai.Client(api_key=API_KEY, http_options=options)
            try:
                yield client
            finally:
                client.close()  # genai closes only the clients it created: ours closes above

    return open_client


def aopener(up: FakeUpstream, cassette: Path, flavour: str = "httpx2") -> Callable[[Mode], Any]:
    http, echo = FLAVOURS[flavour]

    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[genai.client.AsyncClient]:
        async with http.AsyncClient(
            transport=echo.AsyncEchoTransport(cassette, mode=mode, transport=areal(http))
        ) as http_client:
            options = types.HttpOptions(
                base_url=up.url, httpx_async_client=http_client, **QUIET_TLS
            )
            client = genai.Client(api_key=API_KEY, http_options=options)
            try:
                yield client.aio
            finally:
                await client.aio.aclose()
                client.close()

    return open_client


def parsed(response: Any) -> Any:
    """The dumped response, its ``sdk_http_response.headers`` without the framing headers.

    genai copies the raw response headers into every result. The cassette stores bodies decoded
    and unframed, so a replay has no ``content-encoding``/``transfer-encoding``/``content-length``
    (promptecho drops them on purpose); every other header must be as recorded.
    """
    value = dump(response)
    headers = (value.get("sdk_http_response") or {}).get("headers") or {}
    for name in FRAMING:
        headers.pop(name, None)
    return value


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_generate_content_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str, flavour: str
) -> None:
    up = served()
    live, replayed = record_and_replay(
        up,
        opener(up, cassette, flavour),
        lambda c: parsed(c.models.generate_content(**arguments(scenario))),
    )
    assert replayed == live
    assert live["response_id"] == json.loads(sample("gemini", scenario))["responseId"]


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_async_generate_content_replays_what_was_recorded(
    served: Callable[..., FakeUpstream], cassette: Path, scenario: str, flavour: str
) -> None:
    up = served()

    async def call(client: Any) -> Any:
        return parsed(await client.models.generate_content(**arguments(scenario)))

    live, replayed = await arecord_and_replay(up, aopener(up, cassette, flavour), call)
    assert replayed == live


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_generate_content_stream_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path, flavour: str
) -> None:
    up = served()
    live, replayed = record_and_replay(
        up,
        opener(up, cassette, flavour),
        lambda c: [parsed(r) for r in c.models.generate_content_stream(**arguments("stream"))],
    )
    assert replayed == live
    assert len(live) == sample("gemini", "stream").count(b"data: ")
    assert up.seen[0].path == f"/v1/models/{MODEL}:streamGenerateContent?alt=sse"


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_async_generate_content_stream_replays_every_chunk(
    served: Callable[..., FakeUpstream], cassette: Path, flavour: str
) -> None:
    up = served()

    async def call(client: Any) -> list[Any]:
        stream = await client.models.generate_content_stream(**arguments("stream"))
        return [parsed(chunk) async for chunk in stream]

    live, replayed = await arecord_and_replay(up, aopener(up, cassette, flavour), call)
    assert replayed == live
    assert len(live) == sample("gemini", "stream").count(b"data: ")
