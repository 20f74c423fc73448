"""The transports, async, in both flavours: the mirror of test_transport_sync.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from promptecho import Cassette, CassetteError, CassetteMiss
from promptecho.testing import FakeUpstream

from .conftest import CHAT_URL, Flavour, Upstream, chat, untouchable


async def arecord(
    flavour: Flavour, path: Path, upstream: Upstream, *texts: str, mode: str = "once"
) -> list[object]:
    echo = flavour.AsyncEchoTransport(path, mode=mode, transport=upstream.transport())
    async with flavour.http.AsyncClient(transport=echo) as client:
        return [(await client.post(CHAT_URL, json=chat(t))).json() for t in texts]


async def test_records_through_a_real_socket_and_replays_with_the_server_down(
    flavour: Flavour, cassette_path: Path, live: FakeUpstream
) -> None:
    async with flavour.async_client(cassette_path, base_url=live.url) as client:
        live_json = await client.post("/v1/chat/completions", json=chat("Say hello."))
        async with client.stream(
            "POST", "/v1/chat/completions", json=chat("Count.", stream=True)
        ) as s:
            live_lines = [line async for line in s.aiter_lines()]
    live.stop()
    with pytest.raises(flavour.http.ConnectError):
        flavour.http.get(live.url)

    async with flavour.async_client(cassette_path, base_url=live.url, mode="none") as client:
        again = await client.post("/v1/chat/completions", json=chat("Say hello."))
        async with client.stream(
            "POST", "/v1/chat/completions", json=chat("Count.", stream=True)
        ) as s:
            replay_lines = [line async for line in s.aiter_lines()]
    assert again.status_code == live_json.status_code == 200
    assert again.headers["content-type"] == live_json.headers["content-type"]
    assert again.json() == live_json.json()
    assert replay_lines == live_lines
    assert "data: [DONE]" in replay_lines


async def test_once_mode_replays_and_raises_on_new_request_when_cassette_exists(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    recorded = await arecord(flavour, cassette_path, upstream, "a")
    echo = flavour.AsyncEchoTransport(cassette_path, transport=untouchable(flavour.http))
    async with flavour.http.AsyncClient(transport=echo) as client:
        assert (await client.post(CHAT_URL, json=chat("a"))).json() == recorded[0]
        with pytest.raises(CassetteMiss) as miss:
            await client.post(CHAT_URL, json=chat("b"))
    assert echo.misses == [miss.value]


async def test_none_mode_without_cassette_raises_and_never_calls_upstream(
    flavour: Flavour, cassette_path: Path
) -> None:
    echo = flavour.AsyncEchoTransport(
        cassette_path, mode="none", transport=untouchable(flavour.http)
    )
    async with flavour.http.AsyncClient(transport=echo) as client:
        with pytest.raises(CassetteMiss, match="does not exist"):
            await client.post(CHAT_URL, json=chat("a"))
    assert not cassette_path.exists()


async def test_new_episodes_mode_replays_matches_and_appends_misses(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "a")
    await arecord(flavour, cassette_path, upstream, "a", "b", mode="new_episodes")
    assert upstream.seen == [chat("a"), chat("b")]
    assert len(Cassette.load(cassette_path).interactions) == 2


async def test_all_mode_rerecords_everything_and_keeps_only_this_run(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "a", "b")
    await arecord(flavour, cassette_path, upstream, "c", mode="all")
    assert len(Cassette.load(cassette_path).interactions) == 1


async def test_identical_requests_replay_in_recorded_order_then_miss(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "same", "same")
    async with flavour.async_client(cassette_path, mode="none") as client:
        ids = [(await client.post(CHAT_URL, json=chat("same"))).json()["id"] for _ in range(2)]
        with pytest.raises(CassetteMiss, match="already been replayed"):
            await client.post(CHAT_URL, json=chat("same"))
    assert ids == ["chatcmpl-1", "chatcmpl-2"]


async def test_allow_repeats_keeps_replaying_the_last_recording(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "same")
    async with flavour.async_client(cassette_path, mode="none", allow_repeats=True) as client:
        ids = [(await client.post(CHAT_URL, json=chat("same"))).json()["id"] for _ in range(3)]
    assert ids == ["chatcmpl-1"] * 3


async def test_concurrent_tasks_each_get_their_own_answer(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    texts = [f"task {n}" for n in range(20)]
    await arecord(flavour, cassette_path, upstream, *texts)
    async with flavour.async_client(cassette_path, mode="none") as client:
        answers = await asyncio.gather(
            *(client.post(CHAT_URL, json=chat(t)) for t in reversed(texts))
        )
    assert [a.json()["choices"][0]["message"]["content"] for a in answers] == [
        f"echo: {t}" for t in reversed(texts)
    ]


async def test_a_streamed_and_a_plain_request_never_answer_each_other(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "a")
    echo = flavour.AsyncEchoTransport(cassette_path, mode="none")
    async with flavour.http.AsyncClient(transport=echo) as client:
        with pytest.raises(CassetteMiss) as miss:
            await client.post(CHAT_URL, json=chat("a", stream=True))
    assert "stream: recorded false / incoming true" in str(miss.value)


async def test_different_endpoints_never_answer_each_other(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    await arecord(flavour, cassette_path, upstream, "a")
    echo = flavour.AsyncEchoTransport(cassette_path, mode="none")
    async with flavour.http.AsyncClient(transport=echo) as client:
        with pytest.raises(CassetteMiss) as miss:
            await client.post("https://api.openai.com/v1/other", json=chat("a"))
    assert "the cassette holds: POST /v1/chat/completions" in str(miss.value)


async def test_keys_in_headers_and_query_never_reach_the_cassette(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    secret = "sk-proj-TOPSECRET0123456789abcdef"
    echo = flavour.AsyncEchoTransport(cassette_path, transport=upstream.transport())
    async with flavour.http.AsyncClient(transport=echo) as client:
        await client.post(
            f"{CHAT_URL}?key={secret}&keep=1",
            json=chat("a"),
            headers={"authorization": f"Bearer {secret}", "x-api-key": secret},
        )
    assert b"TOPSECRET" not in cassette_path.read_bytes()
    request = Cassette.load(cassette_path).interactions[0].request
    assert request.url == f"{CHAT_URL}?key=<redacted>&keep=1"


async def test_a_bad_response_is_a_cassette_error_naming_the_file_when_it_is_replayed(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    answers = await arecord(flavour, cassette_path, upstream, "good", "broken")
    data = json.loads(cassette_path.read_bytes())
    data["interactions"][1]["response"]["status"] = "two hundred"
    cassette_path.write_text(json.dumps(data, indent=2))
    async with flavour.async_client(cassette_path, mode="none") as client:
        assert (await client.post(CHAT_URL, json=chat("good"))).json() == answers[0]
        with pytest.raises(CassetteError) as err:
            await client.post(CHAT_URL, json=chat("broken"))
    assert "$.interactions[1].response" in str(err.value)


async def test_a_response_nobody_read_is_read_and_recorded_at_close(
    flavour: Flavour, cassette_path: Path, live: FakeUpstream
) -> None:
    async with flavour.async_client(cassette_path, base_url=live.url) as client:
        request = client.build_request("POST", "/v1/chat/completions", json=chat("unread"))
        await client.send(request, stream=True)  # never read, never closed
    [interaction] = Cassette.load(cassette_path).interactions
    assert interaction.response is not None
    assert interaction.response.body.value["choices"][0]["message"]["content"] == "You said: unread"  # type: ignore[union-attr]


async def test_a_transport_of_the_other_flavour_is_a_type_error_naming_the_right_one(
    flavour: Flavour, cassette_path: Path
) -> None:
    from .conftest import FLAVOURS

    other = "httpx2" if flavour.name == "httpx" else "httpx"
    wrong = FLAVOURS[other].AsyncEchoTransport(cassette_path, mode="none")
    async with flavour.http.AsyncClient(transport=wrong) as client:
        with pytest.raises(
            TypeError, match=f"AsyncEchoTransport is promptecho's {other} transport"
        ):
            await client.post(CHAT_URL, json=chat("a"))
