"""The real SDKs through WebSocketEcho: record against a fake upstream, stop it, replay with a fresh
client, and compare every event the SDK parsed; then change one client frame and see the miss.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from google import genai
from google.genai import types as genai_types
from websockets.exceptions import ConnectionClosedError

import promptecho
from promptecho import CassetteMiss
from tests.ws_upstream import FakeWebSocketUpstream, gemini, realtime, realtime_greeting, responses

KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"  # a fake key with a real key's shape
GEMINI_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
LEGACY: Any = {"legacy": True}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def realtime_session_sync(url: str, question: str = "What is the weather in Paris?") -> list[Any]:
    client = openai.OpenAI(api_key=KEY, websocket_base_url=f"{url}/v1")
    parsed = []
    # websockets 17.1+ warns when its sync connect() is not a context manager, as openai's is not;
    # legacy=True is the opt-out it names.
    with client.realtime.connect(model="gpt-realtime", websocket_connection_options=LEGACY) as conn:
        conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
        )
        conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": question}],
            }
        )
        conn.response.create()
        for event in conn:
            parsed.append(event.model_dump())
            if event.type == "response.done":
                call = event.response.output[0]
                if call.type != "function_call":
                    break
                conn.conversation.item.create(
                    item={
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": '{"sky":"sunny"}',
                    }
                )
                conn.response.create()
    return parsed


async def realtime_session_async(
    url: str, question: str = "What is the weather in Paris?"
) -> list[Any]:
    client = openai.AsyncOpenAI(api_key=KEY, websocket_base_url=f"{url}/v1")
    parsed = []
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
        )
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": question}],
            }
        )
        await conn.response.create()
        async for event in conn:
            parsed.append(event.model_dump())
            if event.type == "response.done":
                call = event.response.output[0]
                if call.type != "function_call":
                    break
                await conn.conversation.item.create(
                    item={
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": '{"sky":"sunny"}',
                    }
                )
                await conn.response.create()
    return parsed


def test_openai_realtime_sync_replays_every_event_the_sdk_parsed(tmp_path: Path) -> None:
    cassette = tmp_path / "realtime.json"
    with FakeWebSocketUpstream(realtime, realtime_greeting) as upstream:
        with promptecho.WebSocketEcho(cassette, upstream.url) as echo:
            recorded = realtime_session_sync(echo.url)
    # The real handshake reached the upstream with the key; the cassette has neither.
    assert ("Authorization", f"Bearer {KEY}") in upstream.seen[0].headers
    text = cassette.read_text()
    assert KEY not in text
    session = promptecho.Cassette.load(cassette).websockets[0]
    assert session.path == "/v1/realtime?model=gpt-realtime"
    assert session.headers["authorization"] == "<redacted>"
    kinds = [e["type"] for e in recorded]
    assert kinds.count("response.done") == 2
    assert "response.function_call_arguments.done" in kinds
    assert recorded[-1]["response"]["output"][0]["content"][0]["text"] == "It is sunny in Paris."

    with promptecho.WebSocketEcho(cassette, "ws://127.0.0.1:9", mode="none") as echo:
        replayed = realtime_session_sync(echo.url)
    assert replayed == recorded


async def test_openai_realtime_async_replays_every_event_the_sdk_parsed(tmp_path: Path) -> None:
    cassette = tmp_path / "realtime.json"
    with FakeWebSocketUpstream(realtime, realtime_greeting) as upstream:
        async with promptecho.WebSocketEcho(cassette, upstream.url) as echo:
            recorded = await realtime_session_async(echo.url)
    async with promptecho.WebSocketEcho(cassette, "ws://127.0.0.1:9", mode="none") as echo:
        replayed = await realtime_session_async(echo.url)
    assert [e["type"] for e in recorded].count("response.done") == 2
    assert replayed == recorded


def test_a_changed_client_frame_is_a_miss_with_its_field_path(tmp_path: Path) -> None:
    cassette = tmp_path / "realtime.json"
    with FakeWebSocketUpstream(realtime, realtime_greeting) as upstream:
        with promptecho.WebSocketEcho(cassette, upstream.url):
            pass  # nothing recorded yet: the next one records
        with promptecho.WebSocketEcho(cassette, upstream.url) as echo:
            realtime_session_sync(echo.url)
    # Where the user message sits depends on when the server's answers arrived while recording
    # (the SDK does not wait for them), so its number is read from the cassette.
    frames = promptecho.Cassette.load(cassette).websockets[0].frames
    number = next(
        n
        for n, f in enumerate(frames)
        if f.from_ == "client" and getattr(f, "value", {}).get("type") == "conversation.item.create"
    )
    echo = promptecho.WebSocketEcho(cassette, "ws://127.0.0.1:9", mode="none")
    echo.start()
    # The client sees the connection closed with 1008 (policy violation) and the reason...
    with pytest.raises(ConnectionClosedError) as closed:
        realtime_session_sync(echo.url, question="What is the weather in Rome?")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == f"promptecho: frame {number} differs from the recording"
    # ...and the miss is raised when the echo closes (on exit of its `with` block).
    with pytest.raises(CassetteMiss) as raised:
        echo.close()
    miss = raised.value
    assert echo.misses == [miss]
    assert [d.path for d in miss.differences] == [f"frames[{number}].json.item.content[0].text"]
    assert miss.differences[0].recorded == "What is the weather in Paris?"
    assert miss.differences[0].incoming == "What is the weather in Rome?"
    assert f"frames[{number}].json.item.content[0].text" in str(miss)


def responses_sync(url: str, text: str = "hello") -> list[Any]:
    client = openai.OpenAI(api_key=KEY, websocket_base_url=f"{url}/v1")
    with client.responses.connect(websocket_connection_options=LEGACY) as conn:
        conn.send({"type": "response.create", "model": "gpt-5", "input": text})
        parsed = []
        for event in conn:
            parsed.append(event.model_dump())
            if event.type == "response.completed":
                return parsed
    raise AssertionError("no response.completed")


async def responses_async(url: str, text: str = "hello") -> list[Any]:
    client = openai.AsyncOpenAI(api_key=KEY, websocket_base_url=f"{url}/v1")
    async with client.responses.connect() as conn:
        await conn.send({"type": "response.create", "model": "gpt-5", "input": text})
        parsed = []
        async for event in conn:
            parsed.append(event.model_dump())
            if event.type == "response.completed":
                return parsed
    raise AssertionError("no response.completed")


def test_openai_responses_connect_sync_replays(tmp_path: Path) -> None:
    cassette = tmp_path / "responses.json"
    with FakeWebSocketUpstream(responses) as upstream:
        with promptecho.WebSocketEcho(cassette, upstream.url) as echo:
            recorded = responses_sync(echo.url)
    assert upstream.seen[0].path == "/v1/responses"
    with promptecho.WebSocketEcho(cassette, "ws://127.0.0.1:9", mode="none") as echo:
        replayed = responses_sync(echo.url)
    assert [e["type"] for e in recorded][-1] == "response.completed"
    assert recorded[-1]["response"]["output"][0]["content"][0]["text"] == "Echo: hello"
    assert replayed == recorded


async def test_openai_responses_connect_async_replays(tmp_path: Path) -> None:
    cassette = tmp_path / "responses.json"
    with FakeWebSocketUpstream(responses) as upstream:
        async with promptecho.WebSocketEcho(cassette, upstream.url) as echo:
            recorded = await responses_async(echo.url)
    async with promptecho.WebSocketEcho(cassette, "ws://127.0.0.1:9", mode="none") as echo:
        replayed = await responses_async(echo.url)
    assert len(recorded) == 4
    assert replayed == recorded


async def gemini_session(echo: Any, question: str = "Hello") -> list[Any]:
    # Live turns any base URL into wss:// and always passes an SSL context: the echo serves
    # TLS, and the client's SSL arguments trust its certificate.
    client = genai.Client(
        api_key=GEMINI_KEY,
        http_options=genai_types.HttpOptions(
            base_url=echo.url.replace("wss://", "https://"),
            async_client_args={"ssl": echo.ssl_context},
        ),
    )
    config = genai_types.LiveConnectConfig(
        response_modalities=[genai_types.Modality.TEXT],
        tools=[{"function_declarations": [{"name": "get_weather", "description": "The weather"}]}],
    )
    parsed = []
    async with (
        asyncio.timeout(20),
        client.aio.live.connect(model="gemini-live-2.5-flash", config=config) as session,
    ):
        await session.send_client_content(turns={"role": "user", "parts": [{"text": question}]})
        async for message in session.receive():
            parsed.append(message.model_dump(exclude_none=True))
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "And the weather?"}]}
        )
        async for message in session.receive():
            parsed.append(message.model_dump(exclude_none=True))
            if message.tool_call:
                call = message.tool_call.function_calls[0]
                await session.send_tool_response(
                    function_responses=[
                        {"id": call.id, "name": call.name, "response": {"sky": "sunny"}}
                    ]
                )
    return parsed


async def test_google_genai_live_over_tls_replays_text_and_a_tool_call(tmp_path: Path) -> None:
    cassette = tmp_path / "live.json"
    with FakeWebSocketUpstream(gemini) as upstream:
        async with promptecho.WebSocketEcho(
            cassette, upstream.url, tls=True, audio_bytes=16
        ) as echo:
            assert echo.url.startswith("wss://127.0.0.1:")
            recorded = await gemini_session(echo)
    assert upstream.seen[0].path.startswith("/ws/google.ai.generativelanguage.")
    assert ("x-goog-api-key", GEMINI_KEY) in [(k.lower(), v) for k, v in upstream.seen[0].headers]
    text = cassette.read_text()
    assert GEMINI_KEY not in text
    frames = promptecho.Cassette.load(cassette).websockets[0].frames
    audio = [f.value for f in frames if "inlineData" in json.dumps(getattr(f, "value", None))]
    assert len(audio) == 1
    assert (
        audio[0]["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
        == "AAECAwQFBgcICQoLDA0ODw=="
    )

    async with promptecho.WebSocketEcho(
        cassette, "ws://127.0.0.1:9", tls=True, mode="none"
    ) as echo:
        replayed = await gemini_session(echo)
    texts = [
        p["text"]
        for m in recorded
        for p in m.get("server_content", {}).get("model_turn", {}).get("parts", [])
        if "text" in p
    ]
    assert texts == ["Hello ", "there.", "It is sunny in Paris."]
    assert any("tool_call" in m for m in recorded)
    # The audio was cut to 16 bytes in the cassette, so that one part differs; the rest is equal.
    assert [m for m in replayed if "inline_data" not in json.dumps(m, default=str)] == [
        m for m in recorded if "inline_data" not in json.dumps(m, default=str)
    ]
    assert len(replayed) == len(recorded)
