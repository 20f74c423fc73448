"""Cohere v2 chat (``/v2/chat``): OpenAI-like messages with Cohere's own extras.

``tool_plan`` (the model's plan before its calls) is reasoning the model showed, so it
becomes a ``thinking`` part; ``p``/``k``/``stop_sequences`` take the shared parameter names;
``thinking`` (``{type, token_budget}``) is the reasoning knob; ``response_format`` becomes
``output_format`` and ``documents`` (grounding input) ``state``.
"""

from __future__ import annotations

from promptecho._types import JSON

from ._build import (
    Part,
    data_part,
    make_request,
    make_tool_choice,
    text_part,
    thinking_part,
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
    openai_output_format,
)
from .openai_chat import message_parts, parse_tools, result_parts, system_text

__all__ = ["parse"]

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "p",
        "k",
        "stop_sequences",
        "response_format",
        "documents",
    }
)
_RENAMED = {"p": "top_p", "k": "top_k", "stop_sequences": "stop"}


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a Cohere v2 chat body."""
    ids = CallIds()
    system: list[str] = []
    turns: list[dict[str, JSON]] = []
    for message in as_list(body["messages"], "messages"):
        message = as_dict(message, "messages[]")
        role = as_str(message.get("role"), "messages[].role")
        if role == "system":
            system.append(system_text(message.get("content")))
        elif role == "tool":
            result = tool_result_part(
                id=ids.result(message.get("tool_call_id")), content=_result(message.get("content"))
            )
            add_turn(turns, "tool", [result])
        else:
            parts = message_parts(message, ids)
            plan = message.get("tool_plan")
            if type(plan) is str and plan:
                parts.insert(0, thinking_part(plan))
            add_turn(turns, role, parts)
    tools = parse_tools(body.get("tools") or [])
    choice = body.get("tool_choice")
    params = fold_params(body, _KNOWN)
    for key, name in _RENAMED.items():
        if body.get(key) is not None:
            params[name] = body[key]
    return make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=tools,
        tool_choice=default_tool_choice(
            make_tool_choice(mode=as_str(choice, "tool_choice").lower()) if choice else None, tools
        ),
        thinking=body.get("thinking"),
        output_format=openai_output_format(body.get("response_format")),
        # Documents to ground the answer on: input the model sees, beside the messages.
        state={"documents": body["documents"]} if body.get("documents") else None,
        params=params,
    )


def _result(content: JSON) -> list[Part]:
    """Tool content: a string, or text and ``document`` blocks."""
    if type(content) is not list:
        return result_parts(content)
    parts: list[Part] = []
    for block in content:
        block = as_dict(block, "content[]")
        if block.get("type") == "document":
            document = as_dict(block.get("document"), "content[].document")
            data = document.get("data")
            parts.append(data_part(data) if type(data) is not str else text_part(data))
        else:
            parts.extend(result_parts([block]))
    return parts
