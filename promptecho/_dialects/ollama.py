"""Ollama native ``/api/chat`` and ``/api/generate``.

Images ride beside the text as bare base64 (no media type); tool calls carry
``arguments`` as objects and results name their tool (``tool_name``) instead of an id.
``options`` are flattened into the parameters, ``num_predict`` becoming ``max_tokens``.
The server streams unless ``"stream": false`` is sent. ``format`` becomes ``output_format``;
``/api/generate``'s ``context``, ``suffix`` and ``template`` become ``state``.
"""

from __future__ import annotations

from promptecho._types import JSON

from ._build import (
    Part,
    image_part,
    make_message,
    make_output_format,
    make_request,
    text_part,
    thinking_part,
    tool_call_part,
    tool_result_part,
)
from ._common import (
    CallIds,
    add_turn,
    as_dict,
    as_list,
    as_str,
    default_tool_choice,
    fold_params,
    json_schema_format,
    parse_json_text,
)
from .openai_chat import parse_tools, result_parts

__all__ = ["parse_chat", "parse_generate"]

_CHAT = frozenset({"model", "messages", "tools", "think", "options", "format"})
_GENERATE = frozenset(
    {
        "model",
        "prompt",
        "system",
        "images",
        "think",
        "options",
        "format",
        "context",
        "suffix",
        "template",
    }
)
# /api/generate input beside the prompt: the encoded earlier turns, the text after the gap.
_GENERATE_STATE = ("context", "suffix", "template")
_OPTION_NAMES = {"num_predict": "max_tokens"}


def parse_chat(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of an ``/api/chat`` body."""
    ids = CallIds()
    system: list[str] = []
    turns: list[dict[str, JSON]] = []
    for message in as_list(body["messages"], "messages"):
        message = as_dict(message, "messages[]")
        role = as_str(message.get("role"), "messages[].role")
        content = message.get("content") or ""
        if role == "system":
            system.append(as_str(content, "messages[].content"))
        elif role == "tool":
            name = message.get("tool_name") or message.get("name")
            result = tool_result_part(
                id=ids.result(message.get("tool_call_id"), name if type(name) is str else None),
                content=result_parts(content),
            )
            add_turn(turns, "tool", [result])
        else:
            add_turn(turns, role, _parts(message, ids))
    tools = parse_tools(body.get("tools") or [])
    return make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=tools,
        tool_choice=default_tool_choice(None, tools),
        thinking=body.get("think"),
        output_format=_output_format(body.get("format")),
        params=_params(body, _CHAT),
    )


def parse_generate(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of an ``/api/generate`` body: the prompt is one user turn."""
    prompt = as_str(body["prompt"], "prompt")
    parts: list[Part] = [text_part(prompt)] if prompt else []
    parts.extend(_images(body.get("images")))
    system = body.get("system")
    return make_request(
        model=body.get("model"),
        system=as_str(system, "system") if system else None,
        messages=[make_message("user", parts)],
        thinking=body.get("think"),
        output_format=_output_format(body.get("format")),
        state={key: body[key] for key in _GENERATE_STATE if body.get(key)},
        params=_params(body, _GENERATE),
    )


def _output_format(fmt: JSON) -> dict[str, JSON] | None:
    """``format``: ``"json"`` (any JSON) or a JSON schema."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return make_output_format("json")
    return json_schema_format(as_dict(fmt, "format"))


def _parts(message: dict[str, JSON], ids: CallIds) -> list[Part]:
    parts: list[Part] = []
    thinking = message.get("thinking")
    if type(thinking) is str and thinking:
        parts.append(thinking_part(thinking))
    content = as_str(message.get("content") or "", "messages[].content")
    if content:
        parts.append(text_part(content))
    parts.extend(_images(message.get("images")))
    for call in as_list(message.get("tool_calls") or [], "tool_calls"):
        function = as_dict(as_dict(call, "tool_calls[]").get("function"), "tool_calls[].function")
        name = as_str(function.get("name"), "tool_calls[].function.name")
        parts.append(
            tool_call_part(
                id=ids.call(call.get("id"), name),
                name=name,
                arguments=parse_json_text(function.get("arguments", {})),
            )
        )
    return parts


def _images(images: JSON) -> list[Part]:
    return [image_part(data=as_str(i, "images[]")) for i in as_list(images or [], "images")]


def _params(body: dict[str, JSON], known: frozenset[str]) -> dict[str, JSON]:
    params = fold_params(body, known)
    options = body.get("options")
    if options:
        for key, value in as_dict(options, "options").items():
            if value is not None:
                params[_OPTION_NAMES.get(key, key)] = value
    return params
