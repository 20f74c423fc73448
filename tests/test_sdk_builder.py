"""`promptecho.sdk`: each SDK gets the client flavour it takes, records live, and replays with no key.

Every round records through `FakeUpstream` with a key, stops it, then replays in mode "none" with
the SDK's key variables removed from the environment and no ``api_key`` passed, so the replay
only works if `promptecho.sdk` handed the SDK a placeholder key and the right client.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import cohere
import groq
import httpx
import httpx2
import ollama
import openai
import pytest
from google import genai
from mistralai.client import Mistral

import promptecho
from promptecho import CassetteMiss
from promptecho._sdk import _KEY_ENV, PLACEHOLDER_KEY, build_sdk, will_replay
from promptecho.testing import FakeUpstream, openai_chat_handler
from tests.sdk.clients import gemini_arguments as arguments
from tests.sdk.conftest import API_KEY, areal, dump, kwargs_of, real, stop_and_prove_down
from tests.test_plugin import INI
from tests.upstream import wire_handler

KEY_VARIABLES = sorted({name for names in _KEY_ENV.values() for name in names})


@dataclasses.dataclass(frozen=True)
class Case:
    """One SDK class: how it is pointed at the upstream, what it calls, and how it closes."""

    sdk_class: Callable[..., Any]
    flavor: str
    where: Callable[[str], dict[str, Any]]
    call: Callable[[Any], Any]
    closes_its_client: bool = True
    key: tuple[tuple[str, str], ...] = (("api_key", API_KEY),)


def _gemini(client: Any) -> Any:
    value = dump(client.models.generate_content(**arguments("generate")))
    value["sdk_http_response"] = None  # raw headers: framing headers are dropped on replay
    return value


async def _agemini(client: Any) -> Any:
    value = dump(await client.aio.models.generate_content(**arguments("generate")))
    value["sdk_http_response"] = None
    return value


SYNC = {
    "anthropic": Case(
        anthropic.Anthropic,
        "httpx2",
        lambda url: {"base_url": url},
        lambda c: dump(c.messages.create(**kwargs_of("anthropic", "text"))),
    ),
    "openai": Case(
        openai.OpenAI,
        "httpx2",
        lambda url: {"base_url": url + "/v1"},
        lambda c: dump(c.chat.completions.create(**kwargs_of("openai-chat", "text"))),
    ),
    "groq": Case(
        groq.Groq,
        "httpx",
        lambda url: {"base_url": url},
        lambda c: dump(c.chat.completions.create(**kwargs_of("groq", "chat"))),
    ),
    "cohere": Case(
        cohere.ClientV2,
        "httpx",
        lambda url: {"base_url": url},
        lambda c: dump(c.chat(**kwargs_of("cohere", "chat"))),
    ),
    "mistral": Case(
        Mistral,
        "httpx2",
        lambda url: {"server_url": url},
        lambda c: dump(c.chat.complete(**kwargs_of("mistral", "chat"))),
        closes_its_client=False,
    ),
    "gemini": Case(
        genai.Client,
        "httpx2",
        lambda url: {"http_options": {"base_url": url}},
        _gemini,
        closes_its_client=False,
    ),
    "ollama": Case(
        ollama.Client,
        "httpx",
        lambda url: {"host": url},
        lambda c: dump(c.chat(**kwargs_of("ollama", "chat"), stream=False)),
        key=(),  # ollama takes no key
    ),
}

ASYNC: dict[str, tuple[Callable[..., Any], str, Callable[[str], dict[str, Any]], Any]] = {
    "anthropic": (
        anthropic.AsyncAnthropic,
        "httpx2",
        lambda url: {"base_url": url},
        lambda c: c.messages.create(**kwargs_of("anthropic", "text")),
    ),
    "openai": (
        openai.AsyncOpenAI,
        "httpx2",
        lambda url: {"base_url": url + "/v1"},
        lambda c: c.chat.completions.create(**kwargs_of("openai-chat", "text")),
    ),
    "cohere": (
        cohere.AsyncClientV2,
        "httpx",
        lambda url: {"base_url": url},
        lambda c: c.chat(**kwargs_of("cohere", "chat")),
    ),
    "groq": (
        groq.AsyncGroq,
        "httpx",
        lambda url: {"base_url": url},
        lambda c: c.chat.completions.create(**kwargs_of("groq", "chat")),
    ),
    "mistral": (
        Mistral,
        "httpx2",
        lambda url: {"server_url": url},
        lambda c: c.chat.complete_async(**kwargs_of("mistral", "chat")),
    ),
    "ollama": (
        ollama.AsyncClient,
        "httpx",
        lambda url: {"host": url},
        lambda c: c.chat(**kwargs_of("ollama", "chat"), stream=False),
    ),
}


def _real(flavor: str, is_async: bool = False) -> Any:
    http = httpx2 if flavor == "httpx2" else httpx
    return areal(http) if is_async else real(http)


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream(wire_handler()) as upstream:
        yield upstream


@pytest.mark.usefixtures("no_keys")
@pytest.mark.parametrize("name", sorted(SYNC))
def test_sdk_records_then_replays_with_no_key_anywhere(
    up: FakeUpstream, tmp_path: Path, name: str
) -> None:
    case = SYNC[name]
    cassette = tmp_path / "sdk.json"
    where = case.where(up.url)
    client = promptecho.sdk(
        case.sdk_class, cassette, transport=_real(case.flavor), **dict(case.key), **where
    )
    with client:
        live = case.call(client)
    # anthropic, openai, groq, cohere and ollama close a client they were given; genai and
    # mistralai leave it open: the journal holds the recording until the SDK client is
    # collected, when promptecho closes the client and the cassette is written.
    assert cassette.exists() is case.closes_its_client
    if not case.closes_its_client:
        assert Path(f"{cassette}.journal").exists()
        del client
        gc.collect()
        assert cassette.exists()
    stop_and_prove_down(up)

    replaying = promptecho.sdk(case.sdk_class, cassette, mode="none", **where)
    with replaying:
        replayed = case.call(replaying)
    del replaying
    gc.collect()
    assert replayed == live
    seen_keys = [s.header("authorization") or s.header("x-api-key") or "" for s in up.seen]
    assert all(PLACEHOLDER_KEY not in k for k in seen_keys)  # the placeholder never went out


@pytest.mark.usefixtures("no_keys")
@pytest.mark.parametrize("name", sorted(ASYNC))
async def test_async_sdk_records_then_replays_with_no_key_anywhere(
    up: FakeUpstream, tmp_path: Path, name: str
) -> None:
    sdk_class, flavor, where_of, call = ASYNC[name]
    cassette = tmp_path / "sdk.json"
    where = where_of(up.url)
    key = {} if sdk_class is ollama.AsyncClient else {"api_key": API_KEY}
    real_transport = _real(flavor, True)
    client = promptecho.sdk(sdk_class, cassette, transport=real_transport, **key, **where)
    async with client:
        live = dump(await call(client))
    # mistralai leaves a client it was given open, and a finalizer cannot await an async close:
    # the journal holds the call, and the replaying transport's load folds it in. The real
    # transport is ours, so we close it.
    closes = sdk_class is not Mistral
    assert cassette.exists() is closes
    assert Path(f"{cassette}.journal").exists() is not closes
    await real_transport.aclose()
    stop_and_prove_down(up)
    replaying = promptecho.sdk(sdk_class, cassette, mode="none", **where)
    async with replaying:
        replayed = dump(await call(replaying))
    assert replayed == live


@pytest.mark.usefixtures("no_keys")
async def test_gemini_sync_and_aio_share_one_cassette(up: FakeUpstream, tmp_path: Path) -> None:
    cassette = tmp_path / "sdk.json"
    where = {"http_options": {"base_url": up.url}}
    client = promptecho.sdk(
        genai.Client, cassette, transport=real(httpx2), api_key=API_KEY, **where
    )
    live = _gemini(client)
    stop_and_prove_down(up)
    # Recorded through the sync client; the aio client replays it from the same journal.
    replaying = promptecho.sdk(genai.Client, cassette, mode="none", allow_repeats=True, **where)
    assert await _agemini(replaying) == live
    assert _gemini(replaying) == live


def test_a_miss_is_not_retried_and_is_the_cause_of_the_sdk_error(
    up: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "sdk.json"
    transports: list[Any] = []

    def http_client(flavor: str, is_async: bool) -> Any:
        echo = promptecho.httpx2.EchoTransport(cassette, mode="none")
        transports.append(echo)
        return httpx2.Client(transport=echo)

    client = build_sdk(
        anthropic.Anthropic, {"base_url": up.url}, http_client=http_client, will_replay=True
    )
    with client, pytest.raises(anthropic.APIConnectionError) as caught:
        client.messages.create(**kwargs_of("anthropic", "text"))
    (echo,) = transports
    assert len(echo.misses) == 1  # once: without max_retries=0 anthropic asks three times
    assert caught.value.__cause__ is echo.misses[0]
    assert isinstance(caught.value.__cause__, CassetteMiss)
    assert up.seen == []


def test_retries_the_caller_sets_are_kept(tmp_path: Path) -> None:
    client = promptecho.sdk(openai.OpenAI, tmp_path / "c.json", mode="none", max_retries=5)
    with client:
        assert client.max_retries == 5


def test_a_recording_sdk_keeps_its_own_credential_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(openai.OpenAIError, match="api_key"):
        promptecho.sdk(openai.OpenAI, tmp_path / "absent.json")  # mode once, nothing to replay


def test_a_key_in_the_environment_is_used_rather_than_the_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    with promptecho.sdk(openai.OpenAI, tmp_path / "c.json", mode="none") as client:
        assert client.api_key == "sk-from-the-environment"
    monkeypatch.delenv("OPENAI_API_KEY")
    with promptecho.sdk(openai.OpenAI, tmp_path / "c.json", mode="none") as client:
        assert client.api_key == PLACEHOLDER_KEY


@pytest.mark.parametrize(
    ("mode", "exists", "expected"),
    [
        ("none", False, True),
        ("once", True, True),
        ("once", False, False),
        ("new_episodes", True, False),
        ("all", True, False),
    ],
)
def test_will_replay_follows_the_mode_and_the_file(
    tmp_path: Path, mode: Any, exists: bool, expected: bool
) -> None:
    cassette = tmp_path / "c.json"
    if exists:
        cassette.write_text(json.dumps({"version": 1, "interactions": []}))
    assert will_replay(cassette, mode) is expected


@pytest.mark.parametrize(
    ("sdk_class", "flavor", "is_async"),
    [
        (anthropic.Anthropic, "httpx2", False),
        (anthropic.AsyncAnthropic, "httpx2", True),
        (anthropic.AnthropicBedrock, "httpx2", False),
        (anthropic.AsyncAnthropicVertex, "httpx2", True),
        (openai.AzureOpenAI, "httpx2", False),
        (openai.AsyncAzureOpenAI, "httpx2", True),
        (groq.AsyncGroq, "httpx", True),
        (cohere.AsyncClientV2, "httpx", True),
        (ollama.AsyncClient, "httpx", True),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_each_sdk_class_is_offered_the_client_its_constructor_declares(
    tmp_path: Path, sdk_class: Any, flavor: str, is_async: bool
) -> None:
    asked: list[tuple[str, bool]] = []

    def http_client(flavor: str, is_async: bool) -> Any:
        asked.append((flavor, is_async))
        http = httpx2 if flavor == "httpx2" else httpx
        return (http.AsyncClient if is_async else http.Client)(transport=http.MockTransport(_no))

    kwargs: dict[str, Any] = {"base_url": "http://127.0.0.1:9"}
    if "Azure" in sdk_class.__name__:
        kwargs["api_version"] = "2024-10-21"
    if "Bedrock" in sdk_class.__name__ or "Vertex" in sdk_class.__name__:
        kwargs["base_url"] = "http://127.0.0.1:9"
        kwargs.update({"aws_region": "us-east-1"} if "Bedrock" in sdk_class.__name__ else {})
        kwargs.update(
            {"region": "us-east5", "project_id": "p", "access_token": "t"}
            if "Vertex" in sdk_class.__name__
            else {}
        )
    if sdk_class is ollama.AsyncClient:
        kwargs = {"host": "http://127.0.0.1:9"}
    build_sdk(sdk_class, kwargs, http_client=http_client, will_replay=True)
    assert asked == [(flavor, is_async)]


def _no(request: Any) -> Any:
    raise AssertionError("no request is sent")


def test_an_sdk_that_moves_to_httpx2_gets_httpx2_without_a_table(tmp_path: Path) -> None:
    class MovedSDK:  # an SDK promptecho has never seen, annotated the way the newest ones are
        def __init__(self, *, api_key: str | None = None, http_client: httpx2.Client) -> None:
            self.http_client = http_client

    made = promptecho.sdk(MovedSDK, tmp_path / "c.json", mode="none")
    assert isinstance(made.http_client, httpx2.Client)
    made.http_client.close()


def test_an_unknown_sdk_gets_a_type_error_that_says_how_to_inject_by_hand(
    tmp_path: Path,
) -> None:
    class Opaque:
        def __init__(self, api_key: str) -> None:
            self.api_key = api_key

    with pytest.raises(TypeError, match=r"does not know how .*Opaque takes an HTTP client") as e:
        promptecho.sdk(Opaque, tmp_path / "c.json", api_key="k")
    assert "http_client=promptecho.client(cassette)" in str(e.value)
    assert "promptecho.httpx2.client(cassette)" in str(e.value)


def test_a_client_passed_by_the_caller_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with (
        httpx2.Client() as own,
        pytest.raises(TypeError, match=r"http_client= is what promptecho sets"),
    ):
        promptecho.sdk(openai.OpenAI, tmp_path / "c.json", http_client=own)


# -- the README's snippets, as written ------------------------------------------------------

README = Path(__file__).parent.parent / "README.md"


def readme_block(after: str, starts: str) -> str:
    """The first python block after the heading ``after`` that starts with ``starts``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(after) :]
    for block in section.split("```python\n")[1:]:
        code = block.split("```", 1)[0]
        if code.startswith(starts):
            return code
    raise AssertionError(f"no python block starting {starts!r} after {after!r}")


@pytest.mark.usefixtures("no_keys")
def test_the_readme_quickstart_runs_as_written_with_no_key_and_no_network(tmp_path: Path) -> None:
    code = readme_block("## Quickstart", "import openai\nimport promptecho\n")
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES and k != "OPENAI_BASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "You said: Say hello.\n" * 2
    assert (tmp_path / "cassettes" / "hello.json").exists()


def test_the_readme_pytest_example_records_then_replays_with_no_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_readme=readme_block("## Using with pytest", "import openai\n"))
    monkeypatch.delenv("CI", raising=False)
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with FakeUpstream(openai_chat_handler) as api:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{api.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        pytester.runpytest("-k", "test_says_hello").assert_outcomes(passed=1)
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert (pytester.path / "cassettes" / "test_readme" / "test_says_hello.json").exists()
    pytester.runpytest("-k", "test_says_hello").assert_outcomes(passed=1)
