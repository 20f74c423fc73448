"""use_cassette: one play state per cassette for every client it hands out, and drift.

End to end through a real socket: record against the fake upstream, stop it, replay.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

import promptecho
from promptecho import CassetteMiss, Drift
from promptecho.testing import FakeUpstream, openai_chat_handler

from .conftest import chat


def answer(response: Any) -> str:
    return str(response.json()["choices"][0]["message"]["content"])


def record(path: Path, *bodies: dict[str, Any]) -> list[str]:
    """Record ``bodies`` in order through a real socket; the upstream is gone afterwards."""
    with FakeUpstream(openai_chat_handler) as upstream:
        url = upstream.url + "/v1/chat/completions"
        with promptecho.use_cassette(path) as cassette:
            client = cassette.client()
            answers = [answer(client.post(url, json=body)) for body in bodies]
    return answers


URL = "http://127.0.0.1:9/v1/chat/completions"  # nothing listens: a replay never goes there


def test_a_sync_and_an_async_client_share_one_play_state(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorded = record(path, chat("same"), chat("same"))
    assert len(promptecho.Cassette.load(path).interactions) == 2

    async def both(cassette: promptecho.CassetteHandle) -> list[str]:
        sync = cassette.client()
        async_client = cassette.async_client()
        first = answer(sync.post(URL, json=chat("same")))
        second = answer(await async_client.post(URL, json=chat("same")))
        return [first, second]

    async def run() -> tuple[list[str], list[Any]]:
        async with promptecho.use_cassette(path, mode="none") as cassette:
            answers = await both(cassette)
            return answers, cassette.unplayed()

    answers, unplayed = asyncio.run(run())
    # Recording #0 then #1: one queue, not one per client (which would replay #0 twice).
    assert answers == recorded
    assert unplayed == []


def test_an_httpx_and_an_httpx2_client_share_one_play_state(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, chat("a"), chat("a"))
    with promptecho.use_cassette(path, mode="none") as cassette:
        one = cassette.client(flavor="httpx")
        two = cassette.client(flavor="httpx2")
        assert isinstance(one, httpx.Client)
        assert isinstance(two, httpx2.Client)
        one.post(URL, json=chat("a"))
        two.post(URL, json=chat("a"))
        with pytest.raises(CassetteMiss, match="already been replayed"):
            one.post(URL, json=chat("a"))
        assert len(cassette.misses) == 1
        assert cassette.unplayed() == []


def test_leaving_the_scope_writes_the_cassette_once_with_every_client_closed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.json"
    with FakeUpstream(openai_chat_handler) as upstream:
        url = upstream.url + "/v1/chat/completions"
        with promptecho.use_cassette(path) as cassette:
            sync = cassette.client()
            other = cassette.client(flavor="httpx2")
            sync.post(url, json=chat("one"))
            other.post(url, json=chat("two"))
            assert not path.exists()  # in the journal until the scope closes
        assert sync.is_closed
        assert other.is_closed
    texts = [
        i.request.body["messages"][0]["content"][0]["text"]
        for i in promptecho.Cassette.load(path).interactions
    ]
    assert texts == ["one", "two"]


def test_use_cassette_decorates_a_sync_function_with_the_handle_as_cassette(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.json"
    recorded = record(path, chat("hi"))

    @promptecho.use_cassette(path, mode="none")
    def replay(greeting: str, *, cassette: promptecho.CassetteHandle) -> tuple[str, Path]:
        return answer(cassette.client().post(URL, json=chat(greeting))), cassette.path

    assert replay("hi") == (recorded[0], path)
    assert replay("hi") == (recorded[0], path)  # a fresh scope per call


def test_use_cassette_decorates_an_async_function(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorded = record(path, chat("hi"))

    @promptecho.use_cassette(path, mode="none")
    async def replay(*, cassette: promptecho.CassetteHandle) -> str:
        return answer(await cassette.async_client().post(URL, json=chat("hi")))

    assert asyncio.run(replay()) == recorded[0]


def test_use_cassette_checks_its_options_when_called(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'onse' is not a valid mode"):
        promptecho.use_cassette(tmp_path / "c.json", mode="onse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a canonical request field"):
        promptecho.use_cassette(tmp_path / "c.json", match_on=["mesages"])
    with pytest.raises(TypeError, match="unexpected option"):
        promptecho.use_cassette(tmp_path / "c.json", bogus=1)


def test_a_second_client_of_one_cassette_must_agree_on_its_options(tmp_path: Path) -> None:
    with promptecho.use_cassette(tmp_path / "c.json") as cassette:
        cassette.client()
        with pytest.raises(ValueError, match="already open in this scope with other options"):
            cassette.client(match_on=["model"])
        cassette.client(cassette="other", match_on=["model"])  # another file is fine


def test_a_bad_match_on_path_fails_when_the_transport_is_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a list item is written \[0\]"):
        promptecho.EchoTransport(tmp_path / "c.json", match_on=["messages.0.content"])
    with pytest.raises(ValueError, match="Valid fields: model"):
        promptecho.httpx2.AsyncEchoTransport(tmp_path / "c.json", match_on=["modle"])


def test_match_on_with_the_path_a_miss_prints_decides_the_match(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, chat("the cat", temperature=0.2))
    options: dict[str, Any] = {"mode": "none", "match_on": ["messages[0].content[0].text"]}
    with promptecho.client(path, **options) as client:  # the model is not in the key now
        assert client.post(URL, json={**chat("the cat"), "model": "other"}).status_code == 200
    with promptecho.client(path, **options) as client, pytest.raises(CassetteMiss) as miss:
        client.post(URL, json=chat("the dog"))
    [difference] = miss.value.differences
    assert difference.path == "messages[0].content[0].text"
    assert (difference.recorded, difference.incoming) == ("the cat", "the dog")


@pytest.mark.parametrize("module", [promptecho, promptecho.httpx2], ids=["httpx", "httpx2"])
def test_a_sync_transport_in_an_async_client_is_a_type_error_naming_the_fix(
    tmp_path: Path, module: Any
) -> None:
    http = httpx if module is promptecho else httpx2

    async def run() -> None:
        async with http.AsyncClient(transport=module.EchoTransport(tmp_path / "c.json")) as c:
            await c.post(URL, json=chat("hi"))

    with pytest.raises(TypeError, match=r"AsyncEchoTransport with an AsyncClient"):
        asyncio.run(run())
    fix = r"use promptecho(\.httpx2)?\.EchoTransport with a Client"
    client = http.Client(transport=module.AsyncEchoTransport(tmp_path / "c.json"))
    with pytest.raises(TypeError, match=fix):
        client.post(URL, json=chat("hi"))
    with (
        pytest.raises(TypeError, match=fix),
        http.Client(transport=module.AsyncEchoTransport(tmp_path / "c.json")),
    ):
        pass


# -- drift ------------------------------------------------------------------------------


def test_drift_outside_the_key_is_reported_with_both_values(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorded = record(path, chat("hi", temperature=0.2, max_tokens=5))
    echo = promptecho.EchoTransport(path, mode="none")
    with httpx.Client(transport=echo) as client:
        reply = client.post(URL, json=chat("hi", temperature=0.7, max_tokens=5))
    assert (
        answer(reply) == recorded[0]
    )  # the recording still answers: temperature is not in the key
    [drift] = echo.drift
    assert isinstance(drift, Drift)
    assert (drift.cassette, drift.index, drift.request) == (path, 0, f"POST {URL}")
    assert [tuple(d) for d in drift.differences] == [("params.temperature", 0.2, 0.7)]
    assert str(drift).splitlines()[1] == "  params.temperature: recorded 0.2 / incoming 0.7"


def test_caller_identity_and_plumbing_are_not_drift(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, chat("hi", user="alice", metadata={"run": "1"}, store=False))
    echo = promptecho.EchoTransport(path, mode="none")
    body = chat(
        "hi", user="bob", metadata={"run": "2"}, store=True, stream_options={"include_usage": True}
    )
    with httpx.Client(transport=echo) as client:
        client.post(URL, content=json.dumps(body), headers={"content-type": "application/json"})
    assert echo.drift == []


def test_an_integer_recorded_where_a_float_comes_is_drift(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, chat("hi", temperature=1))
    echo = promptecho.EchoTransport(path, mode="none")
    with httpx.Client(transport=echo) as client:
        client.post(URL, json=chat("hi", temperature=1.0))
    assert [d.path for d in echo.drift[0].differences] == ["params.temperature"]


def test_a_scope_builds_sdk_clients_that_share_its_play_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    path = tmp_path / "c.json"
    ask = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "same"}]}
    with FakeUpstream(openai_chat_handler) as upstream, promptecho.use_cassette(path) as cassette:
        client = cassette.sdk(openai.OpenAI, base_url=f"{upstream.url}/v1", api_key="sk-test")
        live = [client.chat.completions.create(**ask).id for _ in range(2)]

    async def replay() -> tuple[list[str], list[Any]]:
        async with promptecho.use_cassette(path, mode="none") as cassette:
            sync = cassette.sdk(openai.OpenAI)  # no key anywhere: a placeholder is given
            async_sdk = cassette.sdk(openai.AsyncOpenAI)
            first = sync.chat.completions.create(**ask).id
            second = (await async_sdk.chat.completions.create(**ask)).id
            return [first, second], cassette.unplayed()

    replayed, unplayed = asyncio.run(replay())
    assert replayed == live
    assert unplayed == []
