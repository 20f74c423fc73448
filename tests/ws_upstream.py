"""Fake WebSocket upstreams on 127.0.0.1 for the WebSocket tests: OpenAI Realtime, OpenAI
Responses over WebSocket, and Gemini Live, each a deterministic script written from the API
references and the SDKs' own event types.

`FakeWebSocketUpstream` runs a websockets server in its own thread. ``respond(message)``
returns the server's answers to one client message (decoded JSON); `DROP` among them drops
the TCP connection without a close frame, `Close(code, reason)` closes it. ``refuse=status``
refuses every handshake with that status. Every handshake is kept on ``.seen``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response


@dataclass(frozen=True)
class Close:
    code: int
    reason: str = ""


DROP = object()

Respond = Callable[[Any, "Turn"], list[Any]]


@dataclass
class Turn:
    """Per-connection state of a script: a counter for server ids."""

    n: int = 0
    last_item: Any = None

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"


@dataclass
class Seen:
    path: str
    headers: list[tuple[str, str]]


@dataclass
class FakeWebSocketUpstream:
    respond: Respond
    greeting: Callable[[Turn], list[Any]] = lambda turn: []
    refuse: int | None = None
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeWebSocketUpstream:
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(
            self._handle, "127.0.0.1", 0, process_request=self._process, compression=None
        ) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            ready.set()
            await self._stop.wait()

    def _process(self, conn: ServerConnection, request: Request) -> Response | None:
        self.seen.append(Seen(request.path, list(request.headers.raw_items())))
        if self.refuse is not None:
            body = json.dumps(
                {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
            )
            return Response(
                self.refuse,
                "Unauthorized",
                Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))]),
                body.encode(),
            )
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        turn = Turn()
        if not await self._send(conn, self.greeting(turn)):
            return
        async for message in conn:
            if not await self._send(conn, self.respond(json.loads(message), turn)):
                return

    async def _send(self, conn: ServerConnection, answers: list[Any]) -> bool:
        for answer in answers:
            if answer is DROP:
                conn.transport.abort()
                return False
            if isinstance(answer, Close):
                await conn.close(answer.code, answer.reason)
                return False
            await conn.send(json.dumps(answer))
        return True


# OpenAI Realtime (GA event names), text in and out, one function call.

AUDIO = base64.b64encode(bytes(range(256)) * 8).decode()  # 2048 bytes of "audio"


def realtime_greeting(turn: Turn) -> list[Any]:
    return [
        {
            "type": "session.created",
            "event_id": turn.next("event"),
            "session": {
                "type": "realtime",
                "id": "sess_1",
                "model": "gpt-realtime",
                "output_modalities": ["text"],
            },
        }
    ]


def realtime(message: Any, turn: Turn) -> list[Any]:
    kind = message["type"]
    if kind == "session.update":
        session = {"id": "sess_1", "model": "gpt-realtime", **message["session"]}
        return [{"type": "session.updated", "event_id": turn.next("event"), "session": session}]
    if kind == "conversation.item.create":
        item = {
            "id": turn.next("item"),
            "object": "realtime.item",
            "status": "completed",
            **message["item"],
        }
        turn.last_item = item
        return [
            {
                "type": "conversation.item.added",
                "event_id": turn.next("event"),
                "previous_item_id": None,
                "item": item,
            },
            {
                "type": "conversation.item.done",
                "event_id": turn.next("event"),
                "previous_item_id": None,
                "item": item,
            },
        ]
    if kind == "response.create":
        item = turn.last_item
        response_id = turn.next("resp")
        created = {
            "type": "response.created",
            "event_id": turn.next("event"),
            "response": {
                "id": response_id,
                "object": "realtime.response",
                "status": "in_progress",
                "output": [],
            },
        }
        if item["type"] == "message" and "weather" in item["content"][0]["text"]:
            call = {
                "id": turn.next("item"),
                "object": "realtime.item",
                "type": "function_call",
                "status": "completed",
                "name": "get_weather",
                "call_id": "call_abc",
                "arguments": '{"city":"Paris"}',
            }
            return [
                created,
                {
                    "type": "response.output_item.added",
                    "event_id": turn.next("event"),
                    "response_id": response_id,
                    "output_index": 0,
                    "item": {**call, "arguments": "", "status": "in_progress"},
                },
                {
                    "type": "response.function_call_arguments.delta",
                    "event_id": turn.next("event"),
                    "response_id": response_id,
                    "item_id": call["id"],
                    "output_index": 0,
                    "call_id": "call_abc",
                    "delta": '{"city":"Paris"}',
                },
                {
                    "type": "response.function_call_arguments.done",
                    "event_id": turn.next("event"),
                    "response_id": response_id,
                    "item_id": call["id"],
                    "output_index": 0,
                    "call_id": "call_abc",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                },
                {
                    "type": "response.done",
                    "event_id": turn.next("event"),
                    "response": {
                        "id": response_id,
                        "object": "realtime.response",
                        "status": "completed",
                        "output": [call],
                    },
                },
            ]
        text = "It is sunny in Paris." if item["type"] == "function_call_output" else "Hello there."
        message_id = turn.next("item")
        return [
            created,
            {
                "type": "response.output_text.delta",
                "event_id": turn.next("event"),
                "response_id": response_id,
                "item_id": message_id,
                "output_index": 0,
                "content_index": 0,
                "delta": text[:6],
            },
            {
                "type": "response.output_text.delta",
                "event_id": turn.next("event"),
                "response_id": response_id,
                "item_id": message_id,
                "output_index": 0,
                "content_index": 0,
                "delta": text[6:],
            },
            {
                "type": "response.output_audio.delta",
                "event_id": turn.next("event"),
                "response_id": response_id,
                "item_id": message_id,
                "output_index": 0,
                "content_index": 1,
                "delta": AUDIO,
            },
            {
                "type": "response.output_text.done",
                "event_id": turn.next("event"),
                "response_id": response_id,
                "item_id": message_id,
                "output_index": 0,
                "content_index": 0,
                "text": text,
            },
            {
                "type": "response.done",
                "event_id": turn.next("event"),
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": "completed",
                    "output": [
                        {
                            "id": message_id,
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": text}],
                        }
                    ],
                },
            },
        ]
    if kind == "abort.please":  # not an API event: lets a test make the upstream drop mid-session
        return [DROP]
    if kind == "close.please":
        return [Close(1011, "internal error")]
    return [
        {
            "type": "error",
            "event_id": turn.next("event"),
            "error": {"type": "invalid_request_error", "message": f"unknown event {kind}"},
        }
    ]


# OpenAI Responses over WebSocket: response.create in, the streaming events out.


def responses(message: Any, turn: Turn) -> list[Any]:
    assert message["type"] == "response.create", message
    response_id = turn.next("resp")
    text = f"Echo: {message['input']}"
    base = {
        "id": response_id,
        "object": "response",
        "created_at": 1,
        "model": message["model"],
        "output": [],
        "status": "in_progress",
        "tool_choice": "auto",
        "tools": [],
        "parallel_tool_calls": True,
    }
    done_item = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return [
        {"type": "response.created", "sequence_number": 0, "response": base},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "sequence_number": 2,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {
            "type": "response.completed",
            "sequence_number": 3,
            "response": {**base, "status": "completed", "output": [done_item]},
        },
    ]


# Gemini Live (BidiGenerateContent, mldev): setup, text turns, one tool call.


def gemini(message: Any, turn: Turn) -> list[Any]:
    if "setup" in message:
        return [{"setupComplete": {}}]
    # google-genai 3.6.1 sends `client_content` and `tool_response` (the API accepts both spellings).
    content = message.get("clientContent") or message.get("client_content")
    if content is not None:
        text = content["turns"][-1]["parts"][0]["text"]
        if "weather" in text:
            return [
                {
                    "toolCall": {
                        "functionCalls": [
                            {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}
                        ]
                    }
                }
            ]
        return [
            {"serverContent": {"modelTurn": {"parts": [{"text": "Hello "}]}}},
            {
                "serverContent": {
                    "modelTurn": {
                        "parts": [{"inlineData": {"mimeType": "audio/pcm", "data": AUDIO}}]
                    }
                }
            },
            {"serverContent": {"modelTurn": {"parts": [{"text": "there."}]}, "turnComplete": True}},
        ]
    if "toolResponse" in message or "tool_response" in message:
        return [
            {
                "serverContent": {
                    "modelTurn": {"parts": [{"text": "It is sunny in Paris."}]},
                    "turnComplete": True,
                }
            },
        ]
    return [Close(1007, "bad message")]
