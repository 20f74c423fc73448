"""Each SDK's client on a promptecho transport: how it takes one, sync and async, in one table.

`opener` and `aopener` build the transport (mode, cassette, flavour) the same way for every SDK; an
`Sdk` says only how that SDK is handed it and how it closes. The facts each builder relies on:

- anthropic 2.14.0, openai 3.57.0 (httpx2) and groq 1.7.0 (httpx) take ``http_client=`` and are
  their own context managers.
- cohere 7.3.1 takes ``ClientV2(httpx_client=...)`` and ``AsyncClientV2(httpx_client=...)``
  (`cohere/client_v2.py`); it has no ``close()``, so the caller closes the httpx client it passed.
- mistralai 3.7.0 takes ``Mistral(client=..., async_client=...)`` (`mistralai/client/sdk.py`); its
  HTTP layer imports ``httpx2 as httpx``.
- ollama 0.6.3 builds its own httpx client and passes every extra keyword to it
  (`ollama/_client.py::BaseClient`), so the hook is ``ollama.Client(host=..., transport=...)``.
- google-genai 3.6.1 takes ``types.HttpOptions(httpx_client=..., httpx_async_client=...)`` and
  accepts both flavours (`google/genai/_api_client.py` widens its checks to httpx and httpx2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anthropic
import cohere
import groq
import httpx
import httpx2
import ollama
import openai
from google import genai
from google.genai import types
from mistralai.client import Mistral

import promptecho
import promptecho.httpx2
from promptecho._types import Mode
from promptecho.testing import FakeUpstream
from tests.upstream import request_body

from .conftest import API_KEY, areal, loopback_tls, real

Options = dict[str, Any]
Build = Callable[[str, ModuleType, Any, Options], contextlib.AbstractContextManager[Any]]
ABuild = Callable[[str, ModuleType, Any, Options], contextlib.AbstractAsyncContextManager[Any]]

# Each genai client builds TLS contexts for the clients it was not given and for websockets (about
# 0.3 s); handing it one shared context keeps these tests fast. The transport under test is unchanged.
QUIET_TLS = {
    "client_args": {"verify": loopback_tls()},
    "async_client_args": {"verify": loopback_tls(), "ssl": loopback_tls()},
}
GEMINI_MODEL = "gemini-2.5-flash"


@dataclasses.dataclass(frozen=True)
class Sdk:
    """One SDK: the flavour it takes by default and how its clients are built on a transport.

    ``build(base_url, http, echo, options)`` returns a context manager giving the client; ``http``
    is the httpx or httpx2 module of ``echo``, ``options`` the SDK's own keywords.
    """

    name: str
    http: ModuleType
    build: Build
    abuild: ABuild


def _echo_module(http: ModuleType) -> ModuleType:
    return promptecho.httpx2 if http is httpx2 else promptecho


def opener(
    sdk: Sdk, up: FakeUpstream, cassette: Path, *, http: ModuleType | None = None, **options: Any
) -> Callable[[Mode], contextlib.AbstractContextManager[Any]]:
    """A fresh ``sdk`` client per mode, on a promptecho transport of flavour ``http``."""
    flavour = http or sdk.http

    @contextlib.contextmanager
    def open_client(mode: Mode) -> Iterator[Any]:
        echo = _echo_module(flavour).EchoTransport(cassette, mode=mode, transport=real(flavour))
        with sdk.build(up.url, flavour, echo, dict(options)) as client:
            yield client

    return open_client


def aopener(
    sdk: Sdk, up: FakeUpstream, cassette: Path, *, http: ModuleType | None = None, **options: Any
) -> Callable[[Mode], contextlib.AbstractAsyncContextManager[Any]]:
    """The async twin of `opener`."""
    flavour = http or sdk.http

    @contextlib.asynccontextmanager
    async def open_client(mode: Mode) -> AsyncIterator[Any]:
        echo = _echo_module(flavour).AsyncEchoTransport(
            cassette, mode=mode, transport=areal(flavour)
        )
        async with sdk.abuild(up.url, flavour, echo, dict(options)) as client:
            yield client

    return open_client


def _stainless(sdk_class: Any, *, path: str = "") -> Build:
    """anthropic, openai and groq: ``http_client=``, no retries unless asked, a context manager."""

    def build(url: str, http: ModuleType, echo: Any, options: Options) -> Any:
        base_url = url + options.pop("path", path)
        client = http.AsyncClient if "Async" in sdk_class.__name__ else http.Client
        return sdk_class(
            api_key=API_KEY,
            base_url=base_url,
            http_client=client(transport=echo),
            **{"max_retries": 0, **options},
        )

    return build


@contextlib.contextmanager
def _cohere(url: str, http: ModuleType, echo: Any, options: Options) -> Iterator[Any]:
    with http.Client(transport=echo) as http_client:
        yield cohere.ClientV2(api_key=API_KEY, base_url=url, httpx_client=http_client, **options)


@contextlib.asynccontextmanager
async def _acohere(url: str, http: ModuleType, echo: Any, options: Options) -> AsyncIterator[Any]:
    async with http.AsyncClient(transport=echo) as http_client:
        yield cohere.AsyncClientV2(
            api_key=API_KEY, base_url=url, httpx_client=http_client, **options
        )


@contextlib.contextmanager
def _mistral(url: str, http: ModuleType, echo: Any, options: Options) -> Iterator[Any]:
    with (
        http.Client(transport=echo) as http_client,
        Mistral(api_key=API_KEY, server_url=url, client=http_client, **options) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def _amistral(url: str, http: ModuleType, echo: Any, options: Options) -> AsyncIterator[Any]:
    async with (
        http.AsyncClient(transport=echo) as http_client,
        Mistral(api_key=API_KEY, server_url=url, async_client=http_client, **options) as client,
    ):
        yield client


def _ollama(url: str, http: ModuleType, echo: Any, options: Options) -> Any:
    return ollama.Client(host=url, transport=echo, **options)


def _aollama(url: str, http: ModuleType, echo: Any, options: Options) -> Any:
    return ollama.AsyncClient(host=url, transport=echo, **options)


@contextlib.contextmanager
def _gemini(url: str, http: ModuleType, echo: Any, options: Options) -> Iterator[Any]:
    with http.Client(transport=echo) as http_client:
        http_options = types.HttpOptions(base_url=url, httpx_client=http_client, **QUIET_TLS)
        client = genai.Client(api_key=API_KEY, http_options=http_options, **options)
        try:
            yield client
        finally:
            client.close()  # genai closes only the clients it created: ours closes above


@contextlib.asynccontextmanager
async def _agemini(url: str, http: ModuleType, echo: Any, options: Options) -> AsyncIterator[Any]:
    async with http.AsyncClient(transport=echo) as http_client:
        http_options = types.HttpOptions(base_url=url, httpx_async_client=http_client, **QUIET_TLS)
        client = genai.Client(api_key=API_KEY, http_options=http_options, **options)
        try:
            yield client.aio
        finally:
            await client.aio.aclose()
            client.close()


ANTHROPIC = Sdk(
    "anthropic", httpx2, _stainless(anthropic.Anthropic), _stainless(anthropic.AsyncAnthropic)
)
OPENAI = Sdk(
    "openai",
    httpx2,
    _stainless(openai.OpenAI, path="/v1"),
    _stainless(openai.AsyncOpenAI, path="/v1"),
)
GROQ = Sdk("groq", httpx, _stainless(groq.Groq), _stainless(groq.AsyncGroq))
COHERE = Sdk("cohere", httpx, _cohere, _acohere)
MISTRAL = Sdk("mistral", httpx2, _mistral, _amistral)
OLLAMA = Sdk("ollama", httpx, _ollama, _aollama)
GEMINI = Sdk("gemini", httpx2, _gemini, _agemini)


def gemini_arguments(scenario: str) -> dict[str, Any]:
    """``model``, ``contents`` and ``config`` for generate_content, from the REST request sample."""
    body = json.loads(request_body("gemini", scenario))
    config = {k: v for k, v in body.items() if k not in ("contents", "generationConfig")}
    config |= body.get("generationConfig", {})
    return {
        "model": GEMINI_MODEL,
        "contents": [types.Content.model_validate(c) for c in body["contents"]],
        "config": types.GenerateContentConfig.model_validate(config),
    }
