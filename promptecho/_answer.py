"""The answer as an SDK user sees it, assembled from a recorded response.

`answer_of` reads a `RecordedResponse` of any API family promptecho canonicalises
(Anthropic Messages, OpenAI Chat and every OpenAI-compatible server, OpenAI Responses,
Gemini, Cohere v2, Ollama, embeddings, speech) and gives one `Answer`: the assistant text
joined from streamed deltas, tool calls with their JSON arguments assembled and parsed,
thinking, the finish/stop reason, token usage, and for a stream the types of its events.
It never raises on a body it does not understand: what it cannot read stays empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from ._cassette import Binary, Empty, Event, Json, Ndjson, RecordedResponse, Sse, Text
from ._dialects._common import parse_json_text
from ._types import JSON

__all__ = ["Answer", "ToolUse", "answer_of"]


class ToolUse(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call: ``arguments`` parsed from JSON when they are JSON, else the raw text."""

    name: str
    arguments: JSON = None
    id: str | None = None


class Answer(msgspec.Struct, kw_only=True):
    """What an SDK user gets back from one call.

    ``kind`` is the stored body's kind (``json``, ``sse``, ``ndjson``, ``text``,
    ``binary``, ``empty``) or ``none`` when the request failed before any response.
    ``usage`` keeps the provider's own integer usage fields, nested names joined by dots.
    ``events`` lists a stream's event types in order with consecutive repeats collapsed,
    so two answers that differ only in how many text deltas they streamed list the same.
    """

    status: int | None = None
    kind: str = "none"
    model: str | None = None
    text: str = ""
    thinking: str = ""
    tool_calls: list[ToolUse] = msgspec.field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] = msgspec.field(default_factory=dict)
    events: list[str] = msgspec.field(default_factory=list)
    error: str | None = None
    content_type: str | None = None
    size: int | None = None
    data: JSON = None
    """The JSON body when it is not a chat answer (embeddings, an error object, a gateway's)."""

    @property
    def input_tokens(self) -> int | None:
        return _first(self.usage, _INPUT_KEYS)

    @property
    def output_tokens(self) -> int | None:
        return _first(self.usage, _OUTPUT_KEYS)

    @property
    def structured(self) -> JSON:
        """The text parsed as JSON when it is a JSON object or array (a structured answer)."""
        stripped = self.text.strip()
        if not stripped.startswith(("{", "[")):
            return None
        try:
            value: JSON = msgspec.json.decode(stripped)
            return value
        except msgspec.DecodeError:
            return None


def answer_of(api: str, response: RecordedResponse | None, error: str | None = None) -> Answer:
    """The `Answer` of a recorded response of API family ``api`` (``request.api``)."""
    answer = Answer(error=error)
    if response is None:
        return answer
    answer.status = response.status
    body = response.body
    answer.kind = type(body).__name__.lower()
    answer.content_type = response.headers.get("content-type")
    match body:
        case Json(value=value):
            if type(value) is dict:
                _read_object(api, value, answer, final=True)
            else:
                answer.data = value
        case Sse(events=events) | Ndjson(events=events):
            _read_stream(api, events, answer)
        case Binary(data=data):
            answer.size = len(data)
        case Text(text=text):
            answer.text = text
        case Empty():
            pass
    return answer


# Implementation details

_INPUT_KEYS: Final = (
    "input_tokens",
    "prompt_tokens",
    "promptTokenCount",
    "prompt_eval_count",
    "tokens.input_tokens",
)
_OUTPUT_KEYS: Final = (
    "output_tokens",
    "completion_tokens",
    "candidatesTokenCount",
    "eval_count",
    "tokens.output_tokens",
)
_OLLAMA_COUNTS: Final = ("prompt_eval_count", "eval_count")


def _first(usage: dict[str, int], keys: Iterable[str]) -> int | None:
    return next((usage[k] for k in keys if k in usage), None)


class _Calls:
    """Tool calls being assembled, by the index (or id) the stream gives them."""

    def __init__(self) -> None:
        self.names: dict[object, str] = {}
        self.ids: dict[object, str | None] = {}
        self.parts: dict[object, list[str]] = {}
        self.whole: dict[object, JSON] = {}

    def start(self, key: object, name: str | None, call_id: str | None = None) -> None:
        if key not in self.names or name:
            self.names[key] = name or self.names.get(key, "")
        if call_id or key not in self.ids:
            self.ids[key] = call_id or self.ids.get(key)
        self.parts.setdefault(key, [])

    def add(self, key: object, fragment: str) -> None:
        self.parts.setdefault(key, []).append(fragment)
        self.names.setdefault(key, "")
        self.ids.setdefault(key, None)

    def set(self, key: object, arguments: JSON) -> None:
        self.whole[key] = arguments
        self.names.setdefault(key, "")
        self.ids.setdefault(key, None)

    def done(self) -> list[ToolUse]:
        out = []
        for key, name in self.names.items():
            if key in self.whole:
                arguments = self.whole[key]
            else:
                arguments = parse_json_text("".join(self.parts.get(key, [])))
            out.append(
                ToolUse(name=name, arguments=parse_json_text(arguments), id=self.ids.get(key))
            )
        return out


def _usage(value: JSON, into: dict[str, int], prefix: str = "") -> None:
    if type(value) is not dict:
        return
    for key, item in value.items():
        if type(item) is int:
            into[prefix + key] = item
        elif type(item) is dict:
            _usage(item, into, f"{prefix}{key}.")
        elif type(item) is list:  # Gemini's per-modality details: summed by nothing, left out
            continue


def _dict(value: JSON) -> dict[str, JSON]:
    return value if type(value) is dict else {}


def _list(value: JSON) -> list[JSON]:
    return value if type(value) is list else []


def _str(value: JSON) -> str | None:
    return value if type(value) is str else None


def _read_object(api: str, value: dict[str, JSON], answer: Answer, *, final: bool) -> None:
    """A whole (non-streamed) answer object, or a stream's final object."""
    if "error" in value and type(value["error"]) in (dict, str):
        error = value["error"]
        answer.error = _str(_dict(error).get("message")) or _str(error) or "error"
    if "candidates" in value or "usageMetadata" in value:
        _gemini(value, answer, _Calls())
        return
    if "choices" in value:
        _openai_chat_chunk(value, answer, _Calls(), final=True)
        return
    if value.get("object") == "response" or "output" in value:
        _responses_object(value, answer)
        return
    if value.get("type") == "message" and "content" in value:
        _anthropic_message(value, answer)
        return
    if "message" in value and ("done" in value or "done_reason" in value):
        calls = _Calls()
        _ollama_line(value, answer, calls)
        answer.tool_calls = calls.done()
        return
    if type(value.get("message")) is dict and "finish_reason" in value:
        _cohere_message(value, answer)
        return
    if "response" in value and "done" in value:  # ollama /api/generate
        answer.text += _str(value.get("response")) or ""
        _ollama_done(value, answer)
        return
    if api in ("embeddings",) or value.get("object") == "list":
        data = _list(value.get("data"))
        vectors = [_dict(item).get("embedding") for item in data]
        answer.data = {
            "vectors": len(vectors),
            "dimensions": len(vectors[0]) if vectors and type(vectors[0]) is list else None,
            "encoding": "base64" if vectors and type(vectors[0]) is str else "float",
        }
        answer.model = _str(value.get("model"))
        _usage(value.get("usage"), answer.usage)
        return
    if answer.error is None:
        answer.data = value


def _anthropic_message(value: dict[str, JSON], answer: Answer) -> None:
    answer.model = _str(value.get("model"))
    calls = _Calls()
    for n, block in enumerate(_list(value.get("content"))):
        block = _dict(block)
        kind = block.get("type")
        if kind == "text":
            answer.text += _str(block.get("text")) or ""
        elif kind == "thinking":
            answer.thinking += _str(block.get("thinking")) or ""
        elif kind == "redacted_thinking":
            answer.thinking += "[redacted thinking]"
        elif kind in ("tool_use", "server_tool_use"):
            calls.start(n, _str(block.get("name")), _str(block.get("id")))
            calls.set(n, block.get("input"))
    answer.tool_calls = calls.done()
    answer.finish_reason = _str(value.get("stop_reason"))
    _usage(value.get("usage"), answer.usage)


def _openai_chat_chunk(
    value: dict[str, JSON], answer: Answer, calls: _Calls, *, final: bool
) -> None:
    answer.model = _str(value.get("model")) or answer.model
    for choice in _list(value.get("choices"))[:1]:
        choice = _dict(choice)
        message = _dict(choice.get("message") or choice.get("delta"))
        answer.text += _str(message.get("content")) or ""
        answer.thinking += (
            _str(message.get("reasoning_content")) or _str(message.get("reasoning")) or ""
        )
        for n, call in enumerate(_list(message.get("tool_calls"))):
            call = _dict(call)
            function = _dict(call.get("function"))
            key = call.get("index", n)
            calls.start(key, _str(function.get("name")), _str(call.get("id")))
            arguments = function.get("arguments")
            if type(arguments) is str:
                calls.add(key, arguments)
            elif arguments is not None:
                calls.set(key, arguments)
        answer.finish_reason = _str(choice.get("finish_reason")) or answer.finish_reason
    usage = value.get("usage") or _dict(value.get("x_groq")).get("usage")  # Groq: x_groq
    if usage is not None:
        answer.usage.clear()
        _usage(usage, answer.usage)
    if final:
        answer.tool_calls = calls.done()


def _responses_object(value: dict[str, JSON], answer: Answer) -> None:
    answer.model = _str(value.get("model")) or answer.model
    text, thinking, calls = "", "", _Calls()
    for n, item in enumerate(_list(value.get("output"))):
        item = _dict(item)
        kind = item.get("type")
        if kind == "message":
            for part in _list(item.get("content")):
                part = _dict(part)
                text += _str(part.get("text")) or _str(part.get("refusal")) or ""
        elif kind == "reasoning":
            for part in _list(item.get("summary")) + _list(item.get("content")):
                thinking += _str(_dict(part).get("text")) or ""
        elif kind == "function_call" or (type(kind) is str and kind.endswith("_call")):
            calls.start(n, _str(item.get("name")) or str(kind), _str(item.get("call_id")))
            calls.set(n, item.get("arguments", item.get("input")))
    answer.text, answer.thinking = text or answer.text, thinking or answer.thinking
    done = calls.done()
    answer.tool_calls = done or answer.tool_calls
    details = _dict(value.get("incomplete_details"))
    answer.finish_reason = _str(details.get("reason")) or _str(value.get("status"))
    if value.get("usage") is not None:
        answer.usage.clear()
        _usage(value.get("usage"), answer.usage)
    error = value.get("error")
    if type(error) is dict:
        answer.error = _str(error.get("message")) or "error"


def _gemini(value: dict[str, JSON], answer: Answer, calls: _Calls) -> None:
    answer.model = _str(value.get("modelVersion")) or answer.model
    for candidate in _list(value.get("candidates"))[:1]:
        candidate = _dict(candidate)
        for part in _list(_dict(candidate.get("content")).get("parts")):
            part = _dict(part)
            if "functionCall" in part:
                call = _dict(part["functionCall"])
                key = len(calls.names)
                calls.start(key, _str(call.get("name")), _str(call.get("id")))
                calls.set(key, call.get("args", {}))
            elif part.get("thought") is True:
                answer.thinking += _str(part.get("text")) or ""
            else:
                answer.text += _str(part.get("text")) or ""
        answer.finish_reason = _str(candidate.get("finishReason")) or answer.finish_reason
    if "usageMetadata" in value:
        answer.usage.clear()
        _usage(value.get("usageMetadata"), answer.usage)
    answer.tool_calls = calls.done()


def _cohere_message(value: dict[str, JSON], answer: Answer) -> None:
    message = _dict(value.get("message"))
    calls = _Calls()
    for part in _list(message.get("content")):
        answer.text += _str(_dict(part).get("text")) or ""
    answer.thinking += _str(message.get("tool_plan")) or ""
    for n, call in enumerate(_list(message.get("tool_calls"))):
        call = _dict(call)
        function = _dict(call.get("function"))
        calls.start(n, _str(function.get("name")), _str(call.get("id")))
        calls.set(n, function.get("arguments"))
    answer.tool_calls = calls.done()
    answer.finish_reason = _str(value.get("finish_reason"))
    _usage(value.get("usage"), answer.usage)


def _ollama_line(value: dict[str, JSON], answer: Answer, calls: _Calls) -> None:
    answer.model = _str(value.get("model")) or answer.model
    message = _dict(value.get("message"))
    answer.text += _str(message.get("content")) or ""
    answer.thinking += _str(message.get("thinking")) or ""
    for call in _list(message.get("tool_calls")):
        call = _dict(call)
        function = _dict(call.get("function"))
        key = function.get("index", len(calls.names))
        calls.start(key, _str(function.get("name")), _str(call.get("id")))
        calls.set(key, function.get("arguments"))
    _ollama_done(value, answer)


def _ollama_done(value: dict[str, JSON], answer: Answer) -> None:
    if value.get("done") is True:
        answer.finish_reason = _str(value.get("done_reason")) or "stop"
        for key in _OLLAMA_COUNTS:
            if type(value.get(key)) is int:
                answer.usage[key] = value[key]


def _event_type(api: str, event: Event) -> str:
    data = _dict(event.data)
    kind = event.event or _str(data.get("type"))
    if kind:
        return kind
    if event.data == "[DONE]":
        return "[DONE]"
    if api == "openai-chat" or "choices" in data:
        choice = _dict(_list(data.get("choices"))[0]) if _list(data.get("choices")) else {}
        delta = _dict(choice.get("delta"))
        if choice.get("finish_reason"):
            return "finish"
        if delta.get("tool_calls"):
            return "tool_call.delta"
        if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
            return "text.delta"
        if "usage" in data and data["usage"] is not None and not choice:
            return "usage"
        return "delta"
    if "candidates" in data:
        candidate = _dict(_list(data.get("candidates"))[0]) if _list(data["candidates"]) else {}
        parts = _list(_dict(candidate.get("content")).get("parts"))
        if any("functionCall" in _dict(p) for p in parts):
            return "functionCall"
        if candidate.get("finishReason"):
            return "finish"
        return "text.delta"
    if "message" in data:
        if data.get("done") is True:
            return "done"
        message = _dict(data.get("message"))
        return "tool_calls" if message.get("tool_calls") else "text.delta"
    if "response" in data:
        return "done" if data.get("done") is True else "text.delta"
    return "data"


def _read_stream(api: str, events: list[Event], answer: Answer) -> None:
    calls = _Calls()
    kinds: list[str] = []
    for event in events:
        kind = _event_type(api, event)
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
        data = event.data
        if type(data) is not dict:
            continue
        etype = event.event or _str(data.get("type")) or ""
        if etype == "error" or (
            type(data.get("error")) is dict and not etype.startswith("response")
        ):
            error = _dict(data.get("error"))
            answer.error = _str(error.get("message")) or _str(error.get("type")) or "error"
        elif etype.startswith(("message_", "content_block_")):
            _anthropic_event(etype, data, answer, calls)
        elif etype.startswith("response."):
            _responses_event(etype, data, answer, calls)
        elif "choices" in data:
            _openai_chat_chunk(data, answer, calls, final=False)
        elif "candidates" in data or "usageMetadata" in data:
            _gemini(data, answer, calls)
        elif etype.startswith(("tool-", "content-", "message-", "citation-")):
            _cohere_event(etype, data, answer, calls)
        elif "message" in data or "response" in data:
            if "message" in data:
                _ollama_line(data, answer, calls)
            else:
                answer.text += _str(data.get("response")) or ""
                _ollama_done(data, answer)
    answer.events = kinds
    answer.tool_calls = answer.tool_calls or calls.done()


def _anthropic_event(etype: str, data: dict[str, JSON], answer: Answer, calls: _Calls) -> None:
    if etype == "message_start":
        message = _dict(data.get("message"))
        answer.model = _str(message.get("model"))
        _usage(message.get("usage"), answer.usage)
    elif etype == "content_block_start":
        block = _dict(data.get("content_block"))
        index = data.get("index")
        if block.get("type") in ("tool_use", "server_tool_use"):
            calls.start(index, _str(block.get("name")), _str(block.get("id")))
        elif block.get("type") == "text":
            answer.text += _str(block.get("text")) or ""
        elif block.get("type") == "redacted_thinking":
            answer.thinking += "[redacted thinking]"
    elif etype == "content_block_delta":
        delta = _dict(data.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            answer.text += _str(delta.get("text")) or ""
        elif kind == "thinking_delta":
            answer.thinking += _str(delta.get("thinking")) or ""
        elif kind == "input_json_delta":
            calls.add(data.get("index"), _str(delta.get("partial_json")) or "")
    elif etype == "message_delta":
        delta = _dict(data.get("delta"))
        answer.finish_reason = _str(delta.get("stop_reason")) or answer.finish_reason
        usage = _dict(data.get("usage"))
        for key, item in usage.items():
            if type(item) is int:
                answer.usage[key] = item


def _responses_event(etype: str, data: dict[str, JSON], answer: Answer, calls: _Calls) -> None:
    if etype == "response.output_text.delta":
        answer.text += _str(data.get("delta")) or ""
    elif etype in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        answer.thinking += _str(data.get("delta")) or ""
    elif etype == "response.output_item.added":
        item = _dict(data.get("item"))
        if item.get("type") == "function_call":
            calls.start(data.get("output_index"), _str(item.get("name")), _str(item.get("call_id")))
    elif etype == "response.function_call_arguments.delta":
        calls.add(data.get("output_index"), _str(data.get("delta")) or "")
    elif etype in ("response.completed", "response.incomplete", "response.failed"):
        _responses_object(_dict(data.get("response")), answer)


def _cohere_event(etype: str, data: dict[str, JSON], answer: Answer, calls: _Calls) -> None:
    message = _dict(_dict(data.get("delta")).get("message"))
    if etype == "content-delta":
        answer.text += _str(_dict(message.get("content")).get("text")) or ""
    elif etype == "tool-plan-delta":
        answer.thinking += _str(message.get("tool_plan")) or ""
    elif etype == "tool-call-start":
        call = _dict(message.get("tool_calls"))
        function = _dict(call.get("function"))
        calls.start(data.get("index"), _str(function.get("name")), _str(call.get("id")))
        calls.add(data.get("index"), _str(function.get("arguments")) or "")
    elif etype == "tool-call-delta":
        function = _dict(_dict(message.get("tool_calls")).get("function"))
        calls.add(data.get("index"), _str(function.get("arguments")) or "")
    elif etype == "message-end":
        delta = _dict(data.get("delta"))
        answer.finish_reason = _str(delta.get("finish_reason"))
        _usage(delta.get("usage"), answer.usage)
