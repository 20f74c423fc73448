"""Ollama native ``/api/chat`` and ``/api/generate``.

Images ride beside the text as bare base64 (no media type); tool calls carry
``arguments`` as objects and results name their tool (``tool_name``) instead of an id.
``options`` are flattened into the parameters, ``num_predict`` becoming ``max_tokens``.
The server streams unless ``"stream": false`` is sent. ``format`` becomes ``output_format``;
``/api/generate``'s ``context``, ``suffix`` and ``template`` become ``state``.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common
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
    ids = common.CallIds()
    system: list[str] = []
    turns: list[dict[str, JSON]] = []
    for message in common.as_list(body["messages"], "messages"):
        message = common.as_dict(message, "messages[]")
        role = common.as_str(message.get("role"), "messages[].role")
        content = message.get("content") or ""
        if role == "system":
            system.append(common.as_str(content, "messages[].content"))
        elif role == "tool":
            name = message.get("tool_name") or message.get("name")
            result = build.tool_result_part(
                id=ids.result(message.get("tool_call_id"), name if type(name) is str else None),
                content=result_parts(content),
            )
            common.add_turn(turns, "tool", [result])
        else:
            common.add_turn(turns, role, _parts(message, ids))
    tools = parse_tools(body.get("tools") or [])
    return build.make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=tools,
        tool_choice=common.default_tool_choice(None, tools),
        thinking=body.get("think"),
        output_format=_output_format(body.get("format")),
        params=_params(body, _CHAT),
    )


def parse_generate(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of an ``/api/generate`` body: the prompt is one user turn."""
    prompt = common.as_str(body["prompt"], "prompt")
    parts: list[build.Part] = [build.text_part(prompt)] if prompt else []
    parts.extend(_images(body.get("images")))
    system = body.get("system")
    return build.make_request(
        model=body.get("model"),
        system=common.as_str(system, "system") if system else None,
        messages=[build.make_message("user", parts)],
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
        return build.make_output_format("json")
    return common.json_schema_format(common.as_dict(fmt, "format"))


def _parts(message: dict[str, JSON], ids: common.CallIds) -> list[build.Part]:
    parts: list[build.Part] = []
    thinking = message.get("thinking")
    if type(thinking) is str and thinking:
        parts.append(build.thinking_part(thinking))
    content = common.as_str(message.get("content") or "", "messages[].content")
    if content:
        parts.append(build.text_part(content))
    parts.extend(_images(message.get("images")))
    for call in common.as_list(message.get("tool_calls") or [], "tool_calls"):
        function = common.as_dict(
            common.as_dict(call, "tool_calls[]").get("function"), "tool_calls[].function"
        )
        name = common.as_str(function.get("name"), "tool_calls[].function.name")
        parts.append(
            build.tool_call_part(
                id=ids.call(call.get("id"), name),
                name=name,
                arguments=common.parse_json_text(function.get("arguments", {})),
            )
        )
    return parts


def _images(images: JSON) -> list[build.Part]:
    return [
        build.image_part(data=common.as_str(i, "images[]"))
        for i in common.as_list(images or [], "images")
    ]


def _params(body: dict[str, JSON], known: frozenset[str]) -> dict[str, JSON]:
    params = common.fold_params(body, known)
    options = body.get("options")
    if options:
        for key, value in common.as_dict(options, "options").items():
            if value is not None:
                params[_OPTION_NAMES.get(key, key)] = value
    return params
