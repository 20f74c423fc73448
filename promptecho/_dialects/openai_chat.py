"""OpenAI Chat Completions (``/chat/completions``), and every host that speaks it.

Groq (``/openai/v1/chat/completions``), Mistral, Ollama ``/v1``, OpenRouter, vLLM and
LiteLLM send this shape. ``system`` and ``developer`` messages fold into ``system``;
``tool`` messages become ``tool_result`` parts; ``arguments`` JSON text is parsed;
``response_format`` becomes ``output_format``.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common

__all__ = ["content_parts", "parse", "parse_tool_choice", "parse_tools"]

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "tools",
        "functions",
        "tool_choice",
        "function_call",
        "reasoning_effort",
        "reasoning",
        "thinking",
        "response_format",
        "agent_id",
    }
)
_SYSTEM_ROLES = frozenset({"system", "developer"})


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a Chat Completions body."""
    ids = common.CallIds()
    system: list[str] = []
    turns: list[dict[str, JSON]] = []
    for message in common.as_list(body["messages"], "messages"):
        if type(message) is not dict:
            raise common.Malformed("messages[]: expected an object")
        role = message.get("role")
        if role == "user" or role == "assistant":
            common.add_turn(turns, role, message_parts(message, ids))
        elif role in _SYSTEM_ROLES:
            system.append(system_text(message.get("content")))
        elif role == "tool":
            result = build.tool_result_part(
                id=ids.result(message.get("tool_call_id"), message.get("name")),
                content=result_parts(message.get("content")),
            )
            common.add_turn(turns, "tool", [result])
        elif role == "function":  # the pre-tools spelling of a tool result
            name = message.get("name")
            result = build.tool_result_part(
                id=ids.result(None, name if type(name) is str else None),
                content=result_parts(message.get("content")),
            )
            common.add_turn(turns, "tool", [result])
        else:
            common.add_turn(
                turns, common.as_str(role, "messages[].role"), message_parts(message, ids)
            )
    tools = parse_tools(body.get("tools") or body.get("functions") or [])
    choice = body.get("tool_choice", body.get("function_call"))
    effort = body.get("reasoning_effort")
    return build.make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=tools,
        tool_choice=common.default_tool_choice(parse_tool_choice(choice), tools),
        reasoning_effort=effort if type(effort) is str else None,
        reasoning=body.get("reasoning"),
        thinking=body.get("thinking"),
        output_format=common.openai_output_format(body.get("response_format")),
        # Mistral's /v1/agents/completions: the agent holds instructions and tools the model sees.
        state={"agent_id": common.as_str(agent, "agent_id")}
        if (agent := body.get("agent_id"))
        else None,
        params=common.fold_params(body, _KNOWN),
    )


def system_text(content: JSON) -> str:
    """A system prompt given as a string or as text parts, joined with newlines."""
    if type(content) is str:
        return content
    texts: list[str] = []
    for part in common.as_list(content, "system content"):
        part = common.as_dict(part, "system content[]")
        texts.append(common.as_str(part.get("text"), "system content[].text"))
    return "\n".join(texts)


def message_parts(message: dict[str, JSON], ids: common.CallIds) -> list[build.Part]:
    """The parts of a user or assistant message: reasoning, content, then tool calls."""
    content = message.get("content")
    if type(content) is str:
        parts: list[build.Part] = [{"kind": "text", "text": content}] if content else []
    else:
        parts = content_parts(content)
    if len(message) == 2 and content is not None:  # role and content only: the common case
        return parts
    # DeepSeek, vLLM and OpenRouter hand the model's reasoning back in these fields.
    for key in ("reasoning", "reasoning_content"):
        reasoning = message.get(key)
        if type(reasoning) is str and reasoning:
            parts.insert(0, build.thinking_part(reasoning))
    calls = message.get("tool_calls")
    if calls:
        for call in common.as_list(calls, "tool_calls"):
            call = common.as_dict(call, "tool_calls[]")
            function = common.as_dict(call.get("function"), "tool_calls[].function")
            name = common.as_str(function.get("name"), "tool_calls[].function.name")
            parts.append(
                build.tool_call_part(
                    name,
                    ids.call(call.get("id"), name),
                    common.parse_json_text(function.get("arguments")),
                )
            )
    legacy = message.get("function_call")
    if type(legacy) is dict:
        name = common.as_str(legacy.get("name"), "function_call.name")
        parts.append(
            build.tool_call_part(
                name, ids.call(None, name), common.parse_json_text(legacy.get("arguments"))
            )
        )
    return parts


def content_parts(content: JSON) -> list[build.Part]:
    """OpenAI-style content: a string, or a list of typed parts."""
    if content is None:
        return []
    if type(content) is str:
        return [build.text_part(content)] if content else []
    parts: list[build.Part] = []
    for block in common.as_list(content, "content"):
        part = content_part(block)
        if part is not None:
            parts.append(part)
    return parts


def content_part(block: JSON) -> build.Part | None:
    """One OpenAI content part (``text``, ``image_url``, ``input_audio``, ``file``...)."""
    if type(block) is str:
        return build.text_part(block) if block else None
    block = common.as_dict(block, "content[]")
    kind = block.get("type")
    if kind == "text":
        text = common.as_str(block.get("text"), "content[].text")
        return build.text_part(text) if text else None
    if kind == "image_url":
        image = block.get("image_url")
        if type(image) is str:
            image = {"url": image}
        image = common.as_dict(image, "content[].image_url")
        return image_from_url(common.as_str(image.get("url"), "image_url.url"), image.get("detail"))
    if kind == "input_audio":
        audio = common.as_dict(block.get("input_audio"), "content[].input_audio")
        fmt = audio.get("format")
        return build.document_part(
            data=audio.get("data"), media_type=f"audio/{fmt}" if type(fmt) is str else None
        )
    if kind == "file":
        file = common.as_dict(block.get("file"), "content[].file")
        media_type, data = common.split_data_url(file.get("file_data") or "")
        return build.document_part(
            data=data or file.get("file_data"),
            media_type=media_type,
            file_id=file.get("file_id"),
            name=file.get("filename"),
        )
    return unknown_block(block)


def image_from_url(url: str, detail: JSON = None) -> build.Part:
    """An image from a URL, which may be a ``data:`` URL holding base64 bytes."""
    media_type, data = common.split_data_url(url)
    detail = detail if type(detail) is str and detail != "auto" else None
    if data is not None:
        return build.image_part(media_type=media_type, data=data, detail=detail)
    return build.image_part(url=url, detail=detail)


def unknown_block(block: dict[str, JSON]) -> build.Part:
    """A block no dialect knows, minus cache hints."""
    kind = block.get("type")
    value = {k: v for k, v in block.items() if k not in ("type", "cache_control")}
    return build.other_part(type=kind if type(kind) is str else "", value=value or None)


def result_parts(content: JSON) -> list[build.Part]:
    """The content of a tool result; JSON text becomes structured data."""
    if type(content) is str:
        return [common.tool_result_content(content)]
    parts = content_parts(content)
    if len(parts) == 1 and parts[0]["kind"] == "text":
        return [common.tool_result_content(parts[0]["text"])]
    return parts


def parse_tools(tools: JSON) -> list[dict[str, JSON]]:
    """Chat tools ``{"type": "function", "function": {...}}`` (or legacy ``functions``)."""
    out: list[dict[str, JSON]] = []
    for tool in common.as_list(tools, "tools"):
        tool = common.as_dict(tool, "tools[]")
        kind = tool.get("type", "function")
        function = tool.get("function") if "function" in tool else tool
        if kind == "function" and type(function) is dict:
            out.append(
                build.make_tool(
                    name=common.as_str(function.get("name"), "tools[].function.name"),
                    description=function.get("description") or None,
                    parameters=function.get("parameters"),
                    strict=function.get("strict") is True,
                )
            )
        else:
            out.append(builtin_tool(tool))
    return common.sort_tools(out)


def builtin_tool(tool: dict[str, JSON]) -> dict[str, JSON]:
    """A tool that is not a plain function: its type, name and the rest as ``config``."""
    kind = common.as_str(tool.get("type"), "tools[].type")
    inner = tool.get(kind)
    config = inner if type(inner) is dict else {k: v for k, v in tool.items() if k != "type"}
    name = config.get("name") if type(config.get("name")) is str else None
    config = {k: v for k, v in config.items() if k not in ("name", "cache_control")}
    return build.make_tool(name=name or kind, type=kind, config=config or None)


def parse_tool_choice(choice: JSON) -> dict[str, JSON] | None:
    """``"auto"``/``"none"``/``"required"``, or a forced function."""
    if choice is None:
        return None
    if type(choice) is str:
        return build.make_tool_choice(mode=choice)
    choice = common.as_dict(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "allowed_tools":
        allowed = common.as_dict(choice.get("allowed_tools"), "tool_choice.allowed_tools")
        names = sorted(
            _tool_name(t) for t in common.as_list(allowed.get("tools"), "allowed_tools.tools")
        )
        return build.make_tool_choice(mode=str(allowed.get("mode", "auto")), names=names)
    return build.make_tool_choice(mode="required", names=[_tool_name(choice)])


def _tool_name(tool: JSON) -> str:
    tool = common.as_dict(tool, "tool")
    inner = tool.get("function", tool.get("custom"))
    if type(inner) is dict:
        return common.as_str(inner.get("name"), "tool.function.name")
    name = tool.get("name")
    if type(name) is str:
        return name
    raise common.Malformed("tool_choice names no tool")
