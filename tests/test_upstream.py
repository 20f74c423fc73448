"""The fake upstream on a real socket: framing, streaming, gzip, failures, and the demo handler."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest

from promptecho.testing import (
    FakeUpstream,
    Reply,
    Seen,
    json_reply,
    openai_chat_handler,
    sse_reply,
)
from tests.upstream import (
    PROVIDERS,
    WIRE,
    request_body,
    response_path,
    route,
    scenarios,
    serve_wire,
    split_body,
    wire_handler,
    wire_reply,
    wire_servers,
)

SSE_EVENTS = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]


def _echo_path(seen: Seen) -> Reply:
    return json_reply({"method": seen.method, "path": seen.path})


# FakeUpstream: the contract


def test_json_reply_is_received_with_its_headers() -> None:
    reply = json_reply({"ok": True}, headers=[("content-type", "application/json"), ("x-id", "7")])
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        response = client.get(up.url + "/anything")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-id"] == "7"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers


def test_url_is_loopback_with_an_ephemeral_port() -> None:
    with FakeUpstream(_echo_path) as up:
        host, _, port = up.url.removeprefix("http://").partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0


def test_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        FakeUpstream(_echo_path).url


def test_content_length_reply_is_one_body_with_a_length() -> None:
    reply = Reply(
        200, headers=[("content-type", "text/plain")], chunks=[b"ab", b"cd"], content_length=True
    )
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        response = client.get(up.url)
    assert response.headers["content-length"] == "4"
    assert "transfer-encoding" not in response.headers
    assert response.content == b"abcd"


def test_framing_headers_in_a_reply_are_replaced_by_the_servers_own() -> None:
    reply = Reply(headers=[("Content-Length", "999"), ("transfer-encoding", "gzip")], chunks=[b"x"])
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        response = client.get(up.url)
    assert response.content == b"x"
    assert response.headers.get_list("transfer-encoding") == ["chunked"]


def test_chunks_arrive_separately_and_the_first_before_the_last_is_sent() -> None:
    reply = sse_reply(SSE_EVENTS, delay=0.3)
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        start = time.monotonic()
        arrivals: list[tuple[float, bytes]] = []
        with client.stream("GET", up.url + "/stream") as response:
            for chunk in response.iter_raw():
                arrivals.append((time.monotonic() - start, chunk))
    assert [chunk for _, chunk in arrivals] == SSE_EVENTS
    # The server sends the last chunk 2 delays after the first, so a client that got the first one
    # that much earlier than the last was not handed a buffered body.
    assert arrivals[-1][0] - arrivals[0][0] >= 2 * 0.3 * 0.9
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"


def test_gzip_body_decodes_and_keeps_one_event_per_chunk() -> None:
    reply = Reply(headers=[("content-type", "text/event-stream")], chunks=SSE_EVENTS, gzip=True)
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        with client.stream("GET", up.url) as response:
            decoded = [chunk for chunk in response.iter_bytes() if chunk]
        raw = client.get(up.url)
    assert response.headers["content-encoding"] == "gzip"
    assert decoded == SSE_EVENTS
    assert raw.content == b"".join(SSE_EVENTS)


def test_gzip_with_content_length_is_a_complete_gzip_member() -> None:
    reply = Reply(chunks=[b"hello ", b"world"], gzip=True, content_length=True)
    with (
        FakeUpstream(lambda seen: reply) as up,
        httpx.Client() as client,
        client.stream("GET", up.url) as response,
    ):
        raw = response.read()
    assert raw == b"hello world"
    assert response.num_bytes_downloaded == int(response.headers["content-length"])


def test_gzip_wire_bytes_are_a_valid_gzip_stream() -> None:
    reply = Reply(chunks=[b"hello ", b"world"], gzip=True)
    with (
        FakeUpstream(lambda seen: reply) as up,
        httpx.Client() as client,
        client.stream("GET", up.url) as response,
    ):
        wire = b"".join(response.iter_raw())
    assert gzip.decompress(wire) == b"hello world"


def test_abort_after_breaks_the_stream_with_remote_protocol_error() -> None:
    reply = sse_reply(SSE_EVENTS)
    broken = Reply(headers=reply.headers, chunks=reply.chunks, abort_after=1)
    received: list[bytes] = []
    with (
        FakeUpstream(lambda seen: broken) as up,
        httpx.Client() as client,
        client.stream("GET", up.url) as response,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
    ):
        received.extend(response.iter_raw())
    assert received == SSE_EVENTS[:1]


def test_abort_after_every_chunk_still_never_ends_the_body() -> None:
    broken = Reply(chunks=[b"a", b"b"], abort_after=2)
    with (
        FakeUpstream(lambda seen: broken) as up,
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get(up.url)


def test_abort_after_with_content_length_sends_a_short_body() -> None:
    broken = Reply(chunks=[b"abc", b"def"], abort_after=1, content_length=True)
    with (
        FakeUpstream(lambda seen: broken) as up,
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"),
    ):
        client.get(up.url)


def test_the_connection_is_kept_alive_between_requests() -> None:
    ports: list[int] = []

    def handler(seen: Seen) -> Reply:
        return json_reply({"n": len(ports)})

    with FakeUpstream(handler) as up, httpx.Client() as client:
        for _ in range(3):
            with client.stream("POST", up.url + "/x", content=b"{}") as response:
                response.read()
                stream = response.extensions["network_stream"]
                ports.append(stream.get_extra_info("client_addr")[1])
    assert len(set(ports)) == 1
    assert len(up.seen) == 3


def test_seen_records_method_path_query_headers_and_body() -> None:
    with FakeUpstream(_echo_path) as up, httpx.Client() as client:
        client.post(up.url + "/v1/x?alt=sse&k=1", json={"a": 1}, headers={"X-Custom": "yes"})
        client.get(up.url + "/second")
    first, second = up.seen
    assert (first.method, first.path) == ("POST", "/v1/x?alt=sse&k=1")
    assert first.body == b'{"a":1}'
    assert first.json() == {"a": 1}
    assert first.header("x-custom") == "yes"
    assert ("X-Custom", "yes") in first.headers
    assert first.header("content-length") == "7"
    assert first.header("missing") is None
    assert (second.method, second.body) == ("GET", b"")


def test_seen_decodes_a_chunked_request_body() -> None:
    def parts() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    with FakeUpstream(_echo_path) as up, httpx.Client() as client:
        client.post(up.url + "/upload", content=parts())
    assert up.seen[0].header("transfer-encoding") == "chunked"
    assert up.seen[0].body == b"hello world"


def test_seen_is_thread_safe_under_concurrent_requests() -> None:
    with FakeUpstream(_echo_path) as up:

        def hit(n: int) -> None:
            with httpx.Client() as client:
                for i in range(5):
                    client.post(f"{up.url}/{n}/{i}", content=b"x")

        threads = [threading.Thread(target=hit, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert len(up.seen) == 40
    assert len({s.path for s in up.seen}) == 40


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", 200), ("GET", 204), ("GET", 304)],
    ids=["head", "no-content", "not-modified"],
)
def test_bodyless_responses_send_no_body_and_keep_the_connection(method: str, status: int) -> None:
    reply = Reply(status, headers=[("etag", '"1"')], chunks=[b"never sent"])
    with FakeUpstream(lambda seen: reply) as up, httpx.Client() as client:
        first = client.request(method, up.url)
        second = client.request(method, up.url)
    assert (first.status_code, first.content) == (status, b"")
    assert (second.status_code, second.content) == (status, b"")
    assert first.headers["etag"] == '"1"'


def test_a_handler_that_raises_answers_500_and_is_kept() -> None:
    def broken(seen: Seen) -> Reply:
        raise ValueError("boom")

    with FakeUpstream(broken) as up, httpx.Client() as client:
        response = client.get(up.url)
    assert response.status_code == 500
    assert "boom" in response.text
    assert [type(e) for e in up.errors] == [ValueError]


def test_stop_refuses_later_connections() -> None:
    up = FakeUpstream(_echo_path).start()
    url = up.url
    with httpx.Client() as client:
        assert client.get(url).status_code == 200
        up.stop()
        with pytest.raises(httpx.ConnectError):
            client.get(url)
    with httpx.Client() as fresh, pytest.raises(httpx.ConnectError):
        fresh.get(url)


def test_stop_is_bounded_with_an_idle_keep_alive_connection_and_a_slow_stream() -> None:
    slow = sse_reply(SSE_EVENTS, delay=30)
    up = FakeUpstream(lambda seen: slow).start()
    host, _, port = up.url.removeprefix("http://").partition(":")
    with (
        socket.create_connection((host, int(port))),  # an idle keep-alive connection
        httpx.Client() as client,
        client.stream("GET", up.url) as response,
    ):
        raw = response.iter_raw()
        assert next(raw) == SSE_EVENTS[0]
        start = time.monotonic()
        up.stop()
        assert time.monotonic() - start < 3
        with pytest.raises(httpx.RemoteProtocolError):
            list(raw)


def test_stop_twice_is_harmless_and_start_twice_is_refused() -> None:
    up = FakeUpstream(_echo_path).start()
    with pytest.raises(RuntimeError, match="already started"):
        up.start()
    up.stop()
    up.stop()


# openai_chat_handler: the demo's fake, parsed by the real openai SDK

USER: Any = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def demo():
    with FakeUpstream(openai_chat_handler) as up:
        yield up


@pytest.fixture
def openai_client(demo: FakeUpstream):
    with openai.OpenAI(
        base_url=demo.url + "/v1", api_key="x", http_client=httpx2.Client()
    ) as client:
        yield client


def test_demo_handler_json_answer_parses_with_the_openai_sdk(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=USER)
    assert completion.choices[0].message.content == "You said: Say hello."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.object == "chat.completion"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4


def test_demo_handler_is_deterministic(demo: FakeUpstream) -> None:
    with httpx.Client() as client:
        body = {"model": "m", "messages": USER}
        first = client.post(demo.url + "/v1/chat/completions", json=body)
        second = client.post(demo.url + "/v1/chat/completions", json=body)
    assert first.content == second.content
    assert first.content.startswith(b'{\n  "id": "chatcmpl-')  # pretty-printed, as OpenAI does
    assert first.headers["x-request-id"].startswith("req_")


def test_demo_handler_stream_parses_with_the_openai_sdk(openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=[{"role": "system", "content": "Be brief."}, *USER],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: Say hello."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 4


def test_demo_handler_stream_accumulates_with_the_openai_stream_helper(
    openai_client: openai.OpenAI,
) -> None:
    with openai_client.chat.completions.stream(model="gpt-4.1-mini", messages=USER) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "You said: Say hello."


def test_demo_handler_stream_is_one_event_per_chunk_ending_in_done(demo: FakeUpstream) -> None:
    body = {"model": "m", "messages": USER, "stream": True}
    with (
        httpx.Client() as client,
        client.stream("POST", demo.url + "/v1/chat/completions", json=body) as r,
    ):
        chunks = list(r.iter_raw())
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") for c in chunks)
    events = [json.loads(c[6:]) for c in chunks[:-1]]
    assert all("usage" not in e for e in events)  # only present when include_usage
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


def test_demo_handler_takes_text_from_content_parts(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi  there"}]}],
    )
    assert completion.choices[0].message.content == "You said: Hi there"


def test_demo_handler_answers_unknown_paths_with_openai_404(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.embeddings.create(model="m", input="x")
    assert info.value.status_code == 404
    assert "Invalid URL (POST /v1/embeddings)" in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{not json", "could not parse"), (b'{"model": "m"}', "messages")],
    ids=["bad-json", "no-messages"],
)
def test_demo_handler_rejects_bad_bodies_with_400(
    demo: FakeUpstream, body: bytes, message: str
) -> None:
    with httpx.Client() as client:
        response = client.post(demo.url + "/v1/chat/completions", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


# tests/upstream.py: every wire route, parsed by the real SDK of its provider


@pytest.fixture
def wire():
    yield from serve_wire()


def test_every_sample_has_a_reply_with_its_provider_headers() -> None:
    for provider in PROVIDERS:
        for scenario in scenarios(provider):
            reply = wire_reply(provider, scenario)
            names = {name.lower() for name, _ in reply.headers}
            assert "content-type" in names, (provider, scenario)
            assert not names & {"content-length", "transfer-encoding", "content-encoding"}
            assert b"".join(reply.chunks) == response_path(provider, scenario).read_bytes()


@pytest.mark.parametrize(
    ("provider", "scenario", "count"),
    [
        ("anthropic", "text-stream", 14),
        ("gemini", "stream", 3),
        ("ollama", "chat-stream", 9),
        ("openai-audio", "speech", 4),
        ("anthropic", "text", 1),
    ],
    ids=["sse", "sse-crlf", "ndjson", "mp3", "json"],
)
def test_streams_are_split_one_event_per_chunk(provider: str, scenario: str, count: int) -> None:
    chunks = split_body(response_path(provider, scenario))
    assert len(chunks) == count
    if scenario.endswith("stream") and provider != "ollama":
        assert all(c.endswith((b"\n\n", b"\r\n\r\n")) for c in chunks)


@pytest.mark.parametrize(
    ("provider", "scenario", "status", "gzipped", "by_length"),
    [
        ("anthropic", "text", 200, True, False),
        ("anthropic", "thinking", 200, True, False),  # no own header set: the provider's JSON set
        ("anthropic", "thinking-stream", 200, False, False),
        ("anthropic", "error-529", 529, False, True),
        ("openai-chat", "error-429", 429, False, True),
        ("gemini", "error-400", 400, True, False),
        ("ollama", "chat", 200, False, True),
        ("ollama", "openai-compat-stream", 200, False, False),
    ],
)
def test_wire_reply_follows_the_providers_header_sets(
    provider: str, scenario: str, status: int, gzipped: bool, by_length: bool
) -> None:
    reply = wire_reply(provider, scenario)
    assert (reply.status, reply.gzip, reply.content_length) == (status, gzipped, by_length)


@pytest.mark.parametrize(
    ("provider", "scenario"),
    [(p, s) for p in PROVIDERS for s in scenarios(p) if (WIRE / p / f"{s}.request.json").exists()],
)
def test_each_captured_request_is_routed_to_its_own_response(provider: str, scenario: str) -> None:
    path = _captured_path(provider, scenario)
    seen = Seen(
        "POST",
        path,
        [("user-agent", _USER_AGENTS.get(provider, ""))],
        request_body(provider, scenario),
    )
    expected = (
        "text-stream" if scenario == "error-mid-stream" else scenario
    )  # errors: only on request
    assert route(seen) == (provider, expected)


def test_serve_overrides_by_provider_path_and_provider_slash_scenario() -> None:
    body = request_body("openai-chat", "text")
    seen = Seen("POST", "/v1/chat/completions", [], body)
    assert route(seen) == ("openai-chat", "text")
    assert route(seen, {"openai-chat": "error-429"}) == ("openai-chat", "error-429")
    assert route(seen, {"/v1/chat/completions": "ollama"}) == ("ollama", "openai-compat")
    assert route(seen, {"/v1/chat/completions": "mistral/chat"}) == ("mistral", "chat")
    assert route(Seen("GET", "/v1/models", [], b"")) is None


def test_unknown_route_is_a_404_naming_the_path(wire: FakeUpstream) -> None:
    with httpx.Client() as client:
        response = client.post(wire.url + "/v9/nothing", json={})
    assert response.status_code == 404
    assert "/v9/nothing" in response.json()["error"]


def test_wire_stream_arrives_chunk_by_chunk_with_delay() -> None:
    handler = wire_handler(delay=0.05)
    body = request_body("anthropic", "text-stream")
    with (
        FakeUpstream(handler) as up,
        httpx.Client() as client,
        client.stream("POST", up.url + "/v1/messages", content=body) as response,
    ):
        chunks = list(response.iter_raw())
    assert chunks == split_body(response_path("anthropic", "text-stream"))
    assert response.headers["request-id"].startswith("req_")


def test_wire_json_is_gzipped_like_the_provider_and_decodes(wire: FakeUpstream) -> None:
    with httpx.Client() as client:
        response = client.post(wire.url + "/v1/messages", content=request_body("anthropic", "text"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == response_path("anthropic", "text").read_bytes()


# The real SDKs. Each client is pointed at the fake with its own base-URL option and given an explicit
# HTTP client of the flavour it is built on (httpx2: anthropic, openai, google-genai, mistralai;
# httpx: groq, cohere, ollama), which is where a promptecho transport plugs in. Retries are off so that
# an error sample is seen once.

WEATHER = "What's the weather in Paris and in Tokyo?"
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
WEATHER_MESSAGES: Any = [{"role": "user", "content": WEATHER}]
GREETING: Any = [
    {"role": "system", "content": "You are a concise assistant. Answer in French."},
    {"role": "user", "content": "Say hello."},
]


def test_anthropic_sdk_parses_every_messages_scenario(wire: FakeUpstream) -> None:
    import anthropic

    with anthropic.Anthropic(
        base_url=wire.url, api_key="x", http_client=httpx2.Client(), max_retries=0
    ) as client:
        hello: Any = [{"role": "user", "content": "Say hello."}]
        text = client.messages.create(model="claude-sonnet-4-6", max_tokens=1024, messages=hello)
        assert text.content[0].type == "text"
        assert text.stop_reason == "end_turn"
        assert text._request_id is not None

        tool: Any = {
            "name": "get_weather",
            "description": "d",
            "input_schema": WEATHER_TOOL["parameters"],
        }
        weather: Any = [{"role": "user", "content": WEATHER}]
        used = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=1024, messages=weather, tools=[tool]
        )
        assert [b.type for b in used.content] == ["text", "tool_use", "tool_use"]
        assert used.stop_reason == "tool_use"

        thinking = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=4096,
            messages=[{"role": "user", "content": "What is 27 * 453?"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
        assert [b.type for b in thinking.content] == ["thinking", "text"]

        with client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=1024, messages=weather, tools=[tool]
        ) as stream:
            final = stream.get_final_message()
        assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
        assert [getattr(b, "input", None) for b in final.content][1] == {"city": "Paris"}

        with client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=1024, messages=hello
        ) as stream:
            assert "".join(stream.text_stream)


def test_anthropic_sdk_raises_on_error_samples() -> None:
    import anthropic

    handler = wire_handler(serve={"anthropic": "error-529"})
    with (
        FakeUpstream(handler) as up,
        anthropic.Anthropic(
            base_url=up.url, api_key="x", http_client=httpx2.Client(), max_retries=0
        ) as client,
    ):
        with pytest.raises(anthropic.OverloadedError) as info:
            client.messages.create(
                model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}]
            )
        assert info.value.status_code == 529
        up.handler = wire_handler(serve={"anthropic": "error-mid-stream"})
        stream = client.messages.stream(
            model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
        # A mid-stream `event: error` arrives on an HTTP 200, so it is the generic status error.
        with stream as events, pytest.raises(anthropic.APIStatusError, match="overloaded"):
            list(events)


def test_openai_sdk_parses_chat_responses_embeddings_and_speech(wire: FakeUpstream) -> None:
    with openai.OpenAI(
        base_url=wire.url + "/v1", api_key="x", http_client=httpx2.Client(), max_retries=0
    ) as client:
        text = client.chat.completions.create(
            model="gpt-4.1-mini", messages=GREETING, max_tokens=1024
        )
        assert str(text.choices[0].message.content).startswith("Bonjour")

        tool: Any = {"type": "function", "function": WEATHER_TOOL}
        with client.chat.completions.stream(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": WEATHER}], tools=[tool]
        ) as stream:
            final = stream.get_final_completion()
        calls = final.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather", "get_weather"]

        chunks = list(
            client.chat.completions.create(model="gpt-4.1-mini", messages=GREETING, stream=True)
        )
        assert chunks[-1].usage is not None

        response = client.responses.create(
            model="gpt-5.1", input="Say hello.", instructions="Answer in French."
        )
        assert response.output_text.startswith("Bonjour")
        with client.responses.stream(model="gpt-5.1", input="Say hello.") as stream:
            assert stream.get_final_response().output_text.startswith("Bonjour")
        flat_tool: Any = {"type": "function", **WEATHER_TOOL}
        with client.responses.stream(model="gpt-5.1", input=WEATHER, tools=[flat_tool]) as stream:
            items = stream.get_final_response().output
        assert [i.type for i in items].count("function_call") == 2

        floats = client.embeddings.create(
            model="text-embedding-3-small", input="Hello from promptecho.", dimensions=8
        )
        explicit = client.embeddings.create(
            model="text-embedding-3-small",
            input="Hello from promptecho.",
            dimensions=8,
            encoding_format="float",
        )
        assert len(floats.data[0].embedding) == 8
        assert floats.data[0].embedding == pytest.approx(explicit.data[0].embedding)

        speech = client.audio.speech.create(
            model="gpt-4o-mini-tts", input="Hello from promptecho.", voice="alloy"
        )
        assert speech.content == response_path("openai-audio", "speech").read_bytes()
        assert speech.response.headers["content-type"] == "audio/mpeg"


def test_gzipped_sse_streams_through_the_openai_sdk_event_by_event() -> None:
    with (
        FakeUpstream(wire_handler(gzip=True, delay=0.01)) as up,
        openai.OpenAI(base_url=up.url + "/v1", api_key="x", http_client=httpx2.Client()) as client,
        client.chat.completions.stream(model="gpt-4.1-mini", messages=GREETING) as stream,
    ):
        final = stream.get_final_completion()
    assert str(final.choices[0].message.content).startswith("Bonjour")


def test_wire_servers_starts_several_upstreams_and_stops_them_all() -> None:
    factory = wire_servers()
    start = next(factory)
    first, second = start(), start(serve={"anthropic": "error-529"})
    assert first.url != second.url
    with httpx.Client() as client:
        assert client.post(second.url + "/v1/messages", json={}).status_code == 529
    factory.close()
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.post(first.url + "/v1/messages", json={})


def test_openai_sdk_raises_on_the_429_sample() -> None:
    with (
        FakeUpstream(wire_handler(serve={"openai-chat": "error-429"})) as up,
        openai.OpenAI(
            base_url=up.url + "/v1", api_key="x", http_client=httpx2.Client(), max_retries=0
        ) as client,
        pytest.raises(openai.RateLimitError) as info,
    ):
        client.chat.completions.create(model="gpt-4.1-mini", messages=GREETING)
    assert info.value.status_code == 429


def test_google_genai_sdk_parses_generate_stream_and_tools(wire: FakeUpstream) -> None:
    from google import genai
    from google.genai import types

    http = httpx2.Client()
    options = types.HttpOptions(base_url=wire.url, httpx_client=http)
    client = genai.Client(api_key="x", http_options=options)
    config = types.GenerateContentConfig(
        system_instruction="Answer in French.", max_output_tokens=1024
    )
    text = client.models.generate_content(
        model="gemini-2.5-flash", contents="Say hello.", config=config
    )
    assert str(text.text).startswith("Bonjour")
    streamed = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hello.")
    )
    assert "".join(c.text or "" for c in streamed).startswith("Bonjour")
    assert (streamed[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP
    tool = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", description="d")]
    )
    calls = client.models.generate_content(
        model="gemini-2.5-flash", contents=WEATHER, config=types.GenerateContentConfig(tools=[tool])
    )
    assert [c.name for c in calls.function_calls or []] == ["get_weather", "get_weather"]
    assert wire.seen[1].path == "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    client.close()
    http.close()  # genai closes only the clients it created


def test_mistral_sdk_parses_chat_and_streams(wire: FakeUpstream) -> None:
    from mistralai.client import Mistral

    with Mistral(api_key="x", server_url=wire.url, client=httpx2.Client()) as client:
        chat = client.chat.complete(model="mistral-small-latest", messages=GREETING)
        assert chat.choices[0].message.content.startswith("Bonjour")
        events = list(client.chat.stream(model="mistral-small-latest", messages=GREETING))
        assert "".join(e.data.choices[0].delta.content or "" for e in events).startswith("Bonjour")
        tool: Any = {"type": "function", "function": WEATHER_TOOL}
        calls = list(
            client.chat.stream(
                model="mistral-small-latest",
                messages=[{"role": "user", "content": WEATHER}],
                tools=[tool],
            )
        )
        assert calls[-1].data.choices[0].finish_reason == "tool_calls"


def test_groq_sdk_parses_chat_and_stream(wire: FakeUpstream) -> None:
    import groq

    with groq.Groq(
        base_url=wire.url, api_key="x", http_client=httpx.Client(), max_retries=0
    ) as client:
        chat = client.chat.completions.create(model="llama-3.3-70b-versatile", messages=GREETING)
        assert str(chat.choices[0].message.content).startswith("Bonjour")
        chunks = list(
            client.chat.completions.create(
                model="llama-3.3-70b-versatile", messages=GREETING, stream=True
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith(
            "Bonjour"
        )
    assert wire.seen[0].path == "/openai/v1/chat/completions"


def test_cohere_sdk_parses_chat_and_streams(wire: FakeUpstream) -> None:
    import cohere

    http = httpx.Client()
    client = cohere.ClientV2(api_key="x", base_url=wire.url, httpx_client=http)
    chat = client.chat(model="command-a-03-2025", messages=GREETING)
    assert getattr((chat.message.content or [])[0], "text", "").startswith("Bonjour")
    events = list(client.chat_stream(model="command-a-03-2025", messages=GREETING))
    assert events[-1].type == "message-end"
    tool: Any = {"type": "function", "function": WEATHER_TOOL}
    calls = list(
        client.chat_stream(model="command-a-03-2025", messages=WEATHER_MESSAGES, tools=[tool])
    )
    assert [e.type for e in calls].count("tool-call-start") == 2
    http.close()  # cohere has no close(): the caller owns the httpx client


def test_ollama_sdk_parses_native_chat_and_ndjson_stream(wire: FakeUpstream) -> None:
    import ollama

    client = ollama.Client(host=wire.url)
    chat = client.chat(model="llama3.2", messages=GREETING, stream=False)
    assert str(chat.message.content).startswith("Bonjour")
    parts = list(client.chat(model="llama3.2", messages=GREETING, stream=True))
    assert parts[-1].done is True
    assert "".join(p.message.content or "" for p in parts).startswith("Bonjour")
    calls = list(
        client.chat(
            model="llama3.2",
            messages=[{"role": "user", "content": WEATHER}],
            tools=[{"type": "function", "function": WEATHER_TOOL}],
            stream=True,
        )
    )
    arguments = [c.function.arguments for p in calls for c in (p.message.tool_calls or [])]
    assert arguments == [{"city": "Paris"}, {"city": "Tokyo"}]  # objects, not JSON strings
    client.close()  # type: ignore[no-untyped-call]  # ollama's close() is unannotated


def test_openai_sdk_against_ollamas_openai_compatible_endpoint(wire: FakeUpstream) -> None:
    with openai.OpenAI(
        base_url=wire.url + "/v1", api_key="ollama", http_client=httpx2.Client()
    ) as client:
        chat = client.chat.completions.create(model="llama3.2", messages=GREETING)
        assert chat.system_fingerprint == "fp_ollama"
        chunks = list(
            client.chat.completions.create(
                model="llama3.2",
                messages=GREETING,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].usage is not None


_USER_AGENTS = {"mistral": "mistral-client-python/3.7.0"}


def _captured_path(provider: str, scenario: str) -> str:
    return {
        "anthropic": "/v1/messages",
        "cohere": "/v2/chat",
        "gemini": "/v1/models/gemini-2.5-flash:"
        + ("streamGenerateContent?alt=sse" if scenario == "stream" else "generateContent"),
        "groq": "/openai/v1/chat/completions",
        "mistral": "/v1/chat/completions",
        "ollama": "/v1/chat/completions" if scenario.startswith("openai-compat") else "/api/chat",
        "openai-audio": "/v1/audio/speech",
        "openai-chat": "/v1/chat/completions",
        "openai-embeddings": "/v1/embeddings",
        "openai-responses": "/v1/responses",
    }[provider]
