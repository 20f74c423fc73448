"""Fixtures shared by the test files: cassette paths, the flavours, upstreams in memory and on a socket."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest

import promptecho
import promptecho.httpx2
from promptecho.testing import FakeUpstream, openai_chat_handler

CHAT_URL = "https://api.openai.com/v1/chat/completions"


def chat(text: str, **extra: Any) -> dict[str, Any]:
    """A chat-completions request body asking ``text``."""
    return {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}], **extra}


@dataclass(frozen=True)
class Flavour:
    """One HTTP library promptecho plugs into, and promptecho's classes for it."""

    name: str
    http: ModuleType
    EchoTransport: Any
    AsyncEchoTransport: Any
    client: Callable[..., Any]
    async_client: Callable[..., Any]


FLAVOURS = {
    "httpx": Flavour(
        "httpx",
        httpx,
        promptecho.EchoTransport,
        promptecho.AsyncEchoTransport,
        promptecho.client,
        promptecho.async_client,
    ),
    "httpx2": Flavour(
        "httpx2",
        httpx2,
        promptecho.httpx2.EchoTransport,
        promptecho.httpx2.AsyncEchoTransport,
        promptecho.httpx2.client,
        promptecho.httpx2.async_client,
    ),
}


@pytest.fixture(params=sorted(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return FLAVOURS[request.param]


@pytest.fixture
def cassette_path(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "test.json"


@dataclass
class Upstream:
    """An in-memory upstream: answers each chat request with a JSON echo of its last message.

    ``seen`` keeps every request body it received, decoded.
    """

    http: ModuleType
    seen: list[Any] = field(default_factory=list)

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.read() or b"null")
        self.seen.append(body)
        text = (
            body["messages"][-1]["content"]
            if isinstance(body, dict) and "messages" in body
            else None
        )
        answer = {
            "id": f"chatcmpl-{len(self.seen)}",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"echo: {text}"},
                    "finish_reason": "stop",
                }
            ],
        }
        return self.http.Response(
            200, json=answer, headers={"x-request-id": f"req_{len(self.seen)}"}
        )

    def transport(self) -> Any:
        return self.http.MockTransport(self)


@pytest.fixture
def upstream(flavour: Flavour) -> Upstream:
    return Upstream(flavour.http)


def untouchable(http: ModuleType) -> Any:
    """A wrapped transport that fails the test if anything reaches it."""

    def handler(request: Any) -> Any:
        pytest.fail(f"the wrapped transport was called: {request.method} {request.url}")

    return http.MockTransport(handler)


@pytest.fixture
def live() -> Iterator[FakeUpstream]:
    """The built-in OpenAI-compatible fake upstream on a real socket (127.0.0.1, ephemeral port)."""
    with FakeUpstream(openai_chat_handler) as server:
        yield server


# The generated suites talk to the OpenAI-compatible fake upstream on a real socket.
CONFTEST = """
import pytest
from promptecho.testing import FakeUpstream, openai_chat_handler


@pytest.fixture(scope="session")
def upstream():
    with FakeUpstream(openai_chat_handler) as server:
        yield server


@pytest.fixture
def ask(upstream):
    def ask(client, text):
        body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}]}
        response = client.post(upstream.url + "/v1/chat/completions", json=body)
        return response.json()["choices"][0]["message"]["content"]
    return ask
"""

# hypothesis is off in the generated runs: its terminal summary would import it anew in
# each one (pytester drops the modules a run imported), a few seconds every time.
INI = """
[pytest]
addopts = -p no:hypothesispytest
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A generated test suite that talks to the fake upstream; CI unset unless a test sets it."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    return pytester
