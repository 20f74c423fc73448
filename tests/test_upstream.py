"""The fake upstream on a real socket: framing, streaming, gzip, failures, and the demo handler."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time

import httpx
import httpx2
import openai
import pytest

from promptecho._upstream import (
    FakeUpstream,
    Reply,
    Seen,
    json_reply,
    openai_chat_handler,
    sse_reply,
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
    # The last chunk is sent 2 delays after the first: the first must be here long before that.
    assert arrivals[0][0] < 0.3
    assert arrivals[-1][0] >= 0.55
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
    def parts():
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

USER = [{"role": "user", "content": "Say hello."}]


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
