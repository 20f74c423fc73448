"""Builders of canonical plain data, one per Struct of ``_schema``, with the same fields.

The dialects build the canonical request as dicts directly: building Structs and then
converting them with ``msgspec.to_builtins`` costs a second pass over the whole request
(a third of the time on a long agent conversation). Each builder leaves out the fields
at their Struct default, exactly as ``omit_defaults`` would, so that
``msgspec.convert(data, Request)`` round-trips; ``tests/test_canonical.py`` checks it.
"""

from __future__ import annotations

from typing import TypeAlias

from promptecho._types import JSON

__all__ = [
    "Part",
    "data_part",
    "document_part",
    "image_part",
    "make_embedding",
    "make_message",
    "make_output_format",
    "make_request",
    "make_speech",
    "make_tool",
    "make_tool_choice",
    "other_part",
    "text_part",
    "thinking_part",
    "tool_call_part",
    "tool_result_part",
]

Part: TypeAlias = dict[str, JSON]
"""A canonical content part (``_schema.Part``) as plain data; ``kind`` names its variant."""


def _some(out: dict[str, JSON], **fields: JSON) -> dict[str, JSON]:
    for key, value in fields.items():
        if value is not None:
            out[key] = value
    return out


def text_part(text: str) -> Part:
    return {"kind": "text", "text": text}


def image_part(
    *,
    media_type: JSON = None,
    data: JSON = None,
    url: JSON = None,
    file_id: JSON = None,
    detail: JSON = None,
) -> Part:
    return _some(
        {"kind": "image"}, media_type=media_type, data=data, url=url, file_id=file_id, detail=detail
    )


def document_part(
    *,
    media_type: JSON = None,
    data: JSON = None,
    url: JSON = None,
    file_id: JSON = None,
    name: JSON = None,
    text: JSON = None,
) -> Part:
    return _some(
        {"kind": "document"},
        media_type=media_type,
        data=data,
        url=url,
        file_id=file_id,
        name=name,
        text=text,
    )


def tool_call_part(name: str, id: str, arguments: JSON) -> Part:
    if arguments is None:
        return {"kind": "tool_call", "name": name, "id": id}
    return {"kind": "tool_call", "name": name, "id": id, "arguments": arguments}


def tool_result_part(id: str, content: list[Part], is_error: bool = False) -> Part:
    out: Part = {"kind": "tool_result", "id": id}
    if content:
        out["content"] = content
    if is_error:
        out["is_error"] = True
    return out


def thinking_part(text: str = "", *, redacted: bool = False) -> Part:
    out: Part = {"kind": "thinking"}
    if text:
        out["text"] = text
    if redacted:
        out["redacted"] = True
    return out


def data_part(value: JSON) -> Part:
    return {"kind": "json", "value": value}


def other_part(type: str, value: JSON = None) -> Part:
    if value is None:
        return {"kind": "other", "type": type}
    return {"kind": "other", "type": type, "value": value}


def make_message(role: str, content: list[Part]) -> dict[str, JSON]:
    if content:
        return {"role": role, "content": content}
    return {"role": role}


def make_tool(
    name: str,
    *,
    description: JSON = None,
    parameters: JSON = None,
    strict: bool = False,
    type: str = "function",
    config: JSON = None,
) -> dict[str, JSON]:
    out: dict[str, JSON] = {"name": name}
    if description is not None:
        out["description"] = description
    if parameters is not None:
        out["parameters"] = parameters
    if strict:
        out["strict"] = True
    if type != "function":
        out["type"] = type
    if config is not None:
        out["config"] = config
    return out


def make_output_format(
    type: str,
    *,
    name: JSON = None,
    description: JSON = None,
    schema: JSON = None,
    strict: bool = False,
) -> dict[str, JSON]:
    out = _some({"type": type}, name=name, description=description, schema=schema)
    if strict:
        out["strict"] = True
    return out


def make_tool_choice(mode: str, names: list[str] | None = None) -> dict[str, JSON]:
    if names:
        return {"mode": mode, "names": names}
    return {"mode": mode}


def make_request(
    *,
    model: JSON = None,
    system: str | None = None,
    messages: list[dict[str, JSON]],
    tools: list[dict[str, JSON]] | None = None,
    tool_choice: dict[str, JSON] | None = None,
    reasoning_effort: JSON = None,
    reasoning: JSON = None,
    thinking: JSON = None,
    output_format: dict[str, JSON] | None = None,
    state: dict[str, JSON] | None = None,
    params: dict[str, JSON] | None = None,
) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    if model is not None:
        out["model"] = model
    if system is not None:
        out["system"] = system
    if messages:
        out["messages"] = messages
    if tools:
        out["tools"] = tools
    if tool_choice is not None:
        out["tool_choice"] = tool_choice
    if reasoning_effort is not None:
        out["reasoning_effort"] = reasoning_effort
    if reasoning is not None:
        out["reasoning"] = reasoning
    if thinking is not None:
        out["thinking"] = thinking
    if output_format is not None:
        out["output_format"] = output_format
    if state:
        out["state"] = state
    if params:
        out["params"] = params
    return out


def make_embedding(
    *,
    model: JSON = None,
    input: list[JSON],
    dimensions: JSON = None,
    encoding_format: str = "float",
    params: dict[str, JSON] | None = None,
) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    if model is not None:
        out["model"] = model
    if input:
        out["input"] = input
    if dimensions is not None:
        out["dimensions"] = dimensions
    out["encoding_format"] = encoding_format  # always shown: the answer's shape depends on it
    if params:
        out["params"] = params
    return out


def make_speech(
    *,
    model: JSON = None,
    input: JSON = None,
    voice: JSON = None,
    response_format: str = "mp3",
    instructions: JSON = None,
    speed: JSON = None,
    params: dict[str, JSON] | None = None,
) -> dict[str, JSON]:
    out = _some({}, model=model, input=input, voice=voice)
    out["response_format"] = response_format
    _some(out, instructions=instructions, speed=speed)
    if params:
        out["params"] = params
    return out
