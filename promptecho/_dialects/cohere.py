"""Cohere v2 chat (``/v2/chat``): OpenAI-like messages with Cohere's own extras.

``tool_plan`` (the model's plan before its calls) is reasoning the model showed, so it
becomes a ``thinking`` part; ``p``/``k``/``stop_sequences`` take the shared parameter names;
``thinking`` (``{type, token_budget}``) is the reasoning knob; ``response_format`` becomes
``output_format`` and ``documents`` (grounding input) ``state``.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common
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
    ids = common.CallIds()
    system: list[str] = []
    turns: list[dict[str, JSON]] = []
    for message in common.as_list(body["messages"], "messages"):
        message = common.as_dict(message, "messages[]")
        role = common.as_str(message.get("role"), "messages[].role")
        if role == "system":
            system.append(system_text(message.get("content")))
        elif role == "tool":
            result = build.tool_result_part(
                id=ids.result(message.get("tool_call_id")), content=_result(message.get("content"))
            )
            common.add_turn(turns, "tool", [result])
        else:
            parts = message_parts(message, ids)
            plan = message.get("tool_plan")
            if type(plan) is str and plan:
                parts.insert(0, build.thinking_part(plan))
            common.add_turn(turns, role, parts)
    tools = parse_tools(body.get("tools") or [])
    choice = body.get("tool_choice")
    params = common.fold_params(body, _KNOWN)
    for key, name in _RENAMED.items():
        if body.get(key) is not None:
            params[name] = body[key]
    return build.make_request(
        model=body.get("model"),
        system="\n".join(system) if system else None,
        messages=turns,
        tools=tools,
        tool_choice=common.default_tool_choice(
            build.make_tool_choice(mode=common.as_str(choice, "tool_choice").lower())
            if choice
            else None,
            tools,
        ),
        thinking=body.get("thinking"),
        output_format=common.openai_output_format(body.get("response_format")),
        # Documents to ground the answer on: input the model sees, beside the messages.
        state={"documents": body["documents"]} if body.get("documents") else None,
        params=params,
    )


def _result(content: JSON) -> list[build.Part]:
    """Tool content: a string, or text and ``document`` blocks."""
    if type(content) is not list:
        return result_parts(content)
    parts: list[build.Part] = []
    for block in content:
        block = common.as_dict(block, "content[]")
        if block.get("type") == "document":
            document = common.as_dict(block.get("document"), "content[].document")
            data = document.get("data")
            parts.append(build.data_part(data) if type(data) is not str else build.text_part(data))
        else:
            parts.extend(result_parts([block]))
    return parts
