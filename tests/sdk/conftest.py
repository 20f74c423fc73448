"""Fixtures for the real-SDK proofs: a wire-sample upstream on a socket, its shutdown, and the record/replay round.

Every test in this folder goes the same way: the SDK talks to `FakeUpstream` (127.0.0.1) through a
promptecho transport in mode "once"; the upstream is stopped and shown to refuse connections; a fresh
SDK client replays in mode "none"; the two results must be equal. `record_and_replay` and
`arecord_and_replay` are that round, so each test only says how to build its client and what to call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from promptecho._types import Mode
from promptecho.testing import FakeUpstream, Reply, Seen
from tests.upstream import request_body, response_path, wire_handler, wire_reply

T = TypeVar("T")
C = TypeVar("C")

API_KEY = "sk-promptecho-test"
GREETING = [
    {"role": "system", "content": "You are a concise assistant. Answer in French."},
    {"role": "user", "content": "Say hello."},
]
HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER = "What's the weather in Paris and in Tokyo?"
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
WEATHER_FUNCTION = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": WEATHER_PARAMETERS,
}


@functools.cache
def loopback_tls() -> ssl.SSLContext:
    """One TLS context for every transport the tests build.

    Each new ``HTTPTransport()`` (and each genai client) loads the CA bundle, about 0.15 s; the
    upstream is plain HTTP on 127.0.0.1, so sharing one context changes nothing but the run time.
    """
    return ssl.create_default_context()


def real(http: ModuleType) -> Any:
    """The real transport promptecho records through, for ``http`` (the httpx or httpx2 module)."""
    return http.HTTPTransport(verify=loopback_tls())


def areal(http: ModuleType) -> Any:
    """The async twin of `real`."""
    return http.AsyncHTTPTransport(verify=loopback_tls())


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    """Where the round's recording goes; it does not exist before the test."""
    return tmp_path / "cassettes" / "sdk.json"


@pytest.fixture
def served() -> Iterator[Callable[..., FakeUpstream]]:
    """Start a `FakeUpstream` answering with the wire samples: ``served(serve={...}, fail_first=...)``.

    ``fail_first`` is an error `Reply` sent for the first request only; every later request gets
    its wire sample, so an SDK that retries succeeds on its second attempt.
    """
    started: list[FakeUpstream] = []

    def serve(
        serve: Mapping[str, str] | None = None, *, fail_first: Reply | None = None
    ) -> FakeUpstream:
        handler = wire_handler(serve=serve)
        if fail_first is not None:
            handler = _failing_once(handler, fail_first)
        up = FakeUpstream(handler).start()
        started.append(up)
        return up

    yield serve
    for up in started:
        up.stop()


def retryable(provider: str, scenario: str, **headers: str) -> Reply:
    """An error wire sample with extra headers, e.g. ``retry-after-ms="1"`` so the SDK does not back off."""
    reply = wire_reply(provider, scenario)
    extra = [(name.replace("_", "-"), value) for name, value in headers.items()]
    kept = [(k, v) for k, v in reply.headers if k.lower() not in {n for n, _ in extra}]
    return dataclasses.replace(reply, headers=[*kept, *extra])


def error_reply(status: int, body: bytes, **headers: str) -> Reply:
    """A JSON error with ``status`` for providers without an error sample."""
    extra = [(name.replace("_", "-"), value) for name, value in headers.items()]
    return Reply(status, headers=[("content-type", "application/json"), *extra], chunks=[body])


def _failing_once(handler: Callable[[Seen], Reply], failure: Reply) -> Callable[[Seen], Reply]:
    calls: list[Seen] = []

    def handle(seen: Seen) -> Reply:
        calls.append(seen)
        return failure if len(calls) == 1 else handler(seen)

    return handle


def stop_and_prove_down(up: FakeUpstream) -> None:
    """Stop the upstream and show that a new connection to its port is refused."""
    __tracebackhide__ = True
    up.stop()
    address = urlsplit(up.url)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()


def record_and_replay(
    up: FakeUpstream,
    open_client: Callable[[Mode], contextlib.AbstractContextManager[C]],
    call: Callable[[C], T],
) -> tuple[T, T]:
    """``call`` once recording through a live upstream, then once replaying with it stopped."""
    with open_client("once") as client:
        live = call(client)
    stop_and_prove_down(up)
    with open_client("none") as client:
        replayed = call(client)
    return live, replayed


async def arecord_and_replay(
    up: FakeUpstream,
    open_client: Callable[[Mode], contextlib.AbstractAsyncContextManager[C]],
    call: Callable[[C], Awaitable[T]],
) -> tuple[T, T]:
    """The async twin of `record_and_replay`."""
    async with open_client("once") as client:
        live = await call(client)
    stop_and_prove_down(up)
    async with open_client("none") as client:
        replayed = await call(client)
    return live, replayed


def dump(value: Any) -> Any:
    """A comparable plain value of an SDK result: pydantic's ``model_dump()``, recursively over lists.

    ``warnings=False``: openai's parsed Responses models warn about their own union serialisation.
    """
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    model_dump = getattr(value, "model_dump", None)
    return model_dump(warnings=False) if model_dump is not None else value


async def alist(events: Any) -> list[Any]:
    """Every item of an async iterator, dumped."""
    return [dump(event) async for event in events]


def sample(provider: str, scenario: str) -> bytes:
    """The response sample's bytes, to check a fact the SDK parsed against the wire."""
    return response_path(provider, scenario).read_bytes()


@contextlib.asynccontextmanager
async def aclosing_all(*closers: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Await every closer on exit, in order (for SDKs without an async context manager)."""
    try:
        yield
    finally:
        for close in closers:
            await close()


def kwargs_of(provider: str, scenario: str) -> dict[str, Any]:
    """The request sample's body as SDK keyword arguments (``stream`` dropped: the test picks the call)."""
    body = json.loads(request_body(provider, scenario))
    body.pop("stream", None)
    return body
