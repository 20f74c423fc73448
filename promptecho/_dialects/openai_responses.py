"""OpenAI Responses (``/responses``): ``instructions`` plus ``input`` as a string or items.

Each item is its own turn on the wire; adjacent items of one role merge into one
canonical message, so a reasoning item and the calls after it form one assistant turn.
Reasoning ``id`` and ``encrypted_content`` are dropped (opaque, new on every recording).
A function tool without ``strict`` is strict here, unlike in Chat Completions.
``text.format`` becomes ``output_format``; ``previous_response_id``, ``conversation``,
``prompt``, ``truncation`` and the ids of ``item_reference`` items become ``state``.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common
from .openai_chat import builtin_tool, image_from_url, unknown_block

__all__ = ["parse"]

_KNOWN = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "reasoning",
        "text",
        "previous_response_id",
        "conversation",
        "prompt",
        "truncation",
    }
)
_SYSTEM_ROLES = frozenset({"system", "developer"})
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a Responses API body."""
    if "input" not in body and "instructions" not in body:
        raise common.Malformed("a Responses body has input or instructions")
    ids = common.CallIds()
    instructions = body.get("instructions")
    system = [common.as_str(instructions, "instructions")] if instructions else []
    turns: list[dict[str, JSON]] = []
    references: list[str] = []
    items = body.get("input")
    if type(items) is str:
        common.add_turn(turns, "user", [build.text_part(items)] if items else [])
    elif items is not None:
        for item in common.as_list(items, "input"):
            _item(common.as_dict(item, "input[]"), ids, system, turns, references)
    tools = [_tool(tool) for tool in common.as_list(body.get("tools") or [], "tools")]
    reasoning = body.get("reasoning")
    params = common.fold_params(body, _KNOWN)
    text = body.get("text")
    output_format = None
    if text is not None:
        text = common.as_dict(text, "text")
        output_format = common.openai_output_format(text.get("format"), "text.format")
        rest = {k: v for k, v in text.items() if k != "format" and v is not None}
        if rest:  # verbosity: a knob like max_tokens
            params["text"] = rest
    return build.make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=common.sort_tools(tools),
        tool_choice=common.default_tool_choice(_tool_choice(body.get("tool_choice")), tools),
        reasoning=reasoning or None,
        output_format=output_format,
        state=_state(body, references),
        params=params,
    )


def _state(body: dict[str, JSON], references: list[str]) -> dict[str, JSON]:
    """What the server holds for this conversation: the model sees it as input."""
    state: dict[str, JSON] = {}
    previous = body.get("previous_response_id")
    if previous is not None:
        state["previous_response_id"] = common.as_str(previous, "previous_response_id")
    conversation = body.get("conversation")
    if type(conversation) is dict:  # {"id": "conv_..."} or the bare id
        conversation = conversation.get("id")
    if conversation is not None:
        state["conversation"] = common.as_str(conversation, "conversation")
    if body.get("prompt") is not None:
        state["prompt"] = body["prompt"]
    if references:
        state["item_references"] = references
    truncation = body.get("truncation")
    if truncation is not None and truncation != "disabled":  # "auto" drops input the model sees
        state["truncation"] = common.as_str(truncation, "truncation")
    return state


def _item(
    item: dict[str, JSON],
    ids: common.CallIds,
    system: list[str],
    turns: list[dict[str, JSON]],
    references: list[str],
) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = common.as_str(item.get("role"), "input[].role")
        parts = _content(item.get("content"))
        if role in _SYSTEM_ROLES:
            system.append("\n".join(p["text"] for p in parts if p["kind"] == "text"))
        else:
            common.add_turn(turns, role, parts)
    elif kind in ("function_call", "custom_tool_call"):
        name = common.as_str(item.get("name"), "function_call.name")
        raw = item.get("arguments") if kind == "function_call" else item.get("input")
        call = build.tool_call_part(
            id=ids.call(item.get("call_id"), name), name=name, arguments=common.parse_json_text(raw)
        )
        common.add_turn(turns, "assistant", [call])
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        content = [common.tool_result_content(output)] if type(output) is str else _content(output)
        result = build.tool_result_part(id=ids.result(item.get("call_id")), content=content)
        common.add_turn(turns, "tool", [result])
    elif kind == "reasoning":
        texts = [
            common.as_str(common.as_dict(s, "summary[]").get("text"), "summary[].text")
            for s in common.as_list(item.get("summary") or [], "reasoning.summary")
        ]
        text = "\n".join(texts)
        common.add_turn(turns, "assistant", [build.thinking_part(text, redacted=not text)])
    elif kind == "item_reference":  # an item the server holds: its id is its content
        references.append(common.as_str(item.get("id"), "item_reference.id"))
        common.add_turn(turns, "user", [build.other_part(type="item_reference")])
    else:  # hosted-tool calls...: kept, minus their ids
        value = {k: v for k, v in item.items() if k not in ("type", "id", "call_id", "status")}
        common.add_turn(
            turns,
            "assistant",
            [build.other_part(type=common.as_str(kind, "input[].type"), value=value or None)],
        )


def _content(content: JSON) -> list[build.Part]:
    if content is None:
        return []
    if type(content) is str:
        return [build.text_part(content)] if content else []
    parts: list[build.Part] = []
    for block in common.as_list(content, "content"):
        block = common.as_dict(block, "content[]")
        kind = block.get("type")
        if kind in _TEXT_PARTS:
            text = common.as_str(block.get("text"), "content[].text")
            if text:
                parts.append(build.text_part(text))
        elif kind == "input_image":
            url = block.get("image_url")
            if type(url) is str:
                parts.append(image_from_url(url, block.get("detail")))
            else:
                parts.append(build.image_part(file_id=block.get("file_id")))
        elif kind == "input_file":
            media_type, data = common.split_data_url(block.get("file_data") or "")
            parts.append(
                build.document_part(
                    media_type=media_type,
                    data=data or block.get("file_data"),
                    url=block.get("file_url"),
                    file_id=block.get("file_id"),
                    name=block.get("filename"),
                )
            )
        else:
            parts.append(unknown_block(block))
    return parts


def _tool(tool: JSON) -> dict[str, JSON]:
    tool = common.as_dict(tool, "tools[]")
    if tool.get("type", "function") == "function":
        return build.make_tool(
            name=common.as_str(tool.get("name"), "tools[].name"),
            description=tool.get("description") or None,
            parameters=tool.get("parameters"),
            strict=tool.get("strict") is not False,  # Responses defaults to strict
        )
    return builtin_tool(tool)


def _tool_choice(choice: JSON) -> dict[str, JSON] | None:
    if choice is None:
        return None
    if type(choice) is str:
        return build.make_tool_choice(mode=choice)
    choice = common.as_dict(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "allowed_tools":
        tools = common.as_list(choice.get("tools"), "tool_choice.tools")
        names = sorted(_name(common.as_dict(t, "tools[]")) for t in tools)
        return build.make_tool_choice(mode=str(choice.get("mode", "auto")), names=names)
    return build.make_tool_choice(mode="required", names=[_name(choice)])


def _name(tool: dict[str, JSON]) -> str:
    name = tool.get("name")
    return name if type(name) is str else common.as_str(tool.get("type"), "tool_choice.type")
