"""Anthropic Messages (``/v1/messages``), also behind Bedrock and Vertex URLs.

Bedrock (``/model/{id}/invoke``) and Vertex (``.../models/{id}:rawPredict``) carry the
model in the URL and ``anthropic_version`` in the body. ``tool_result`` blocks leave the
user turn for a ``tool`` message; thinking signatures and ``redacted_thinking`` data are
dropped; ``output_config.effort`` joins ``thinking`` because it steers the same reasoning,
``output_config.format`` becomes ``output_format``; ``container``, ``mcp_servers`` and
``context_management`` become ``state``. A ``system``-role message made of other blocks
than text stays a turn of role ``system``.
"""

from __future__ import annotations

from urllib.parse import unquote

from promptecho._types import JSON

from . import _build as build
from . import _common as common

__all__ = ["model_from_url", "parse", "stream_from_url"]

_KNOWN = frozenset(
    {
        "model",
        "system",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "stop_sequences",
        "anthropic_version",
        "anthropic_beta",
        "container",
        "mcp_servers",
        "context_management",
    }
)
_STATE = ("container", "mcp_servers", "context_management")
# Keys of an unknown block that are ids or opaque tokens rather than content.
_OPAQUE = frozenset({"cache_control", "id", "tool_use_id", "signature", "data", "citations"})


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a Messages API body."""
    ids = common.CallIds()
    system = [system_text(body["system"])] if body.get("system") else []
    turns: list[dict[str, JSON]] = []
    for message in common.as_list(body["messages"], "messages"):
        message = common.as_dict(message, "messages[]")
        role = common.as_str(message.get("role"), "messages[].role")
        content = message.get("content")
        if role == "system" and _all_text(content):  # typed by the 2.x SDK as SystemMessageParam
            system.append(system_text(content))
        elif type(content) is str:
            common.add_turn(turns, role, [build.text_part(content)] if content else [])
        else:
            _blocks(role, common.as_list(content, "messages[].content"), ids, turns)
    tools = [_tool(tool) for tool in common.as_list(body.get("tools") or [], "tools")]
    choice, parallel = _tool_choice(body.get("tool_choice"))
    params = common.fold_params(body, _KNOWN)
    stop = body.get("stop_sequences")
    if stop:
        params["stop"] = stop
    if parallel is False:
        params["parallel_tool_calls"] = False
    output_config = body.get("output_config")
    thinking = body.get("thinking")
    if type(thinking) is dict and thinking.get("type") == "disabled":
        thinking = None  # the same as sending no thinking at all
    output_format = None
    if type(output_config) is dict:
        output_format = _output_format(output_config.get("format"))
        rest = {k: v for k, v in output_config.items() if k not in ("effort", "format")}
        if rest:
            params["output_config"] = rest
        if "effort" in output_config:
            base = thinking if type(thinking) is dict else {}
            thinking = {**base, "effort": output_config["effort"]}
    legacy = body.get("output_format")  # the structured-outputs beta's spelling
    if legacy is not None and output_format is None:
        params.pop("output_format", None)
        output_format = _output_format(legacy)
    state = {key: body[key] for key in _STATE if body.get(key) is not None}
    model = body.get("model") or model_from_url(url)
    return build.make_request(
        model=model,
        system="\n".join(system) if system else None,
        messages=turns,
        tools=common.sort_tools(tools),
        tool_choice=common.default_tool_choice(choice, tools),
        thinking=thinking,
        output_format=output_format,
        state=state,
        params=params,
    )


def _all_text(content: JSON) -> bool:
    return type(content) is str or (
        type(content) is list
        and all(type(b) is dict and b.get("type", "text") == "text" for b in content)
    )


def _output_format(fmt: JSON) -> dict[str, JSON] | None:
    """``output_config.format`` (what ``messages.parse`` sends): a JSON schema."""
    if fmt is None:
        return None
    fmt = common.as_dict(fmt, "output_config.format")
    if fmt.get("type") != "json_schema":
        rest = {k: v for k, v in fmt.items() if k != "type"}
        return build.make_output_format(
            common.as_str(fmt.get("type"), "format.type"), schema=rest or None
        )
    # No name and no strict knob here: the same schema given to Gemini or Ollama compares equal.
    return common.json_schema_format(fmt.get("schema"))


def model_from_url(url: str) -> str | None:
    """The model id in a Bedrock (``/model/{id}/invoke``) or Vertex (``models/{id}:...``) URL."""
    path = url.split("?", 1)[0]
    if "/model/" in path:  # Bedrock ids and ARNs are URL-encoded (``...-v2%3A0``)
        return unquote(path.split("/model/", 1)[1].split("/", 1)[0]) or None
    if "/models/" in path:
        return path.rsplit("/models/", 1)[1].split(":", 1)[0] or None
    return None


def stream_from_url(url: str) -> bool:
    """Bedrock and Vertex choose streaming by endpoint, not by a body field."""
    path = url.split("?", 1)[0]
    return path.endswith(("/invoke-with-response-stream", ":streamRawPredict"))


def system_text(system: JSON) -> str:
    """``system`` as a string or a list of text blocks, joined with newlines."""
    if type(system) is str:
        return system
    texts = []
    for block in common.as_list(system, "system"):
        block = common.as_dict(block, "system[]")
        texts.append(common.as_str(block.get("text"), "system[].text"))
    return "\n".join(texts)


def _blocks(
    role: str, blocks: list[JSON], ids: common.CallIds, turns: list[dict[str, JSON]]
) -> None:
    """Append a turn's blocks, moving ``tool_result`` blocks into ``tool`` turns."""
    parts: list[build.Part] = []
    for block in blocks:
        block = common.as_dict(block, "content[]")
        kind = block.get("type")
        if kind == "tool_result":
            part: build.Part | None = build.tool_result_part(
                id=ids.result(block.get("tool_use_id")),
                content=_result_content(block.get("content")),
                is_error=block.get("is_error") is True,
            )
        else:
            part = _block(block, kind, ids)
        if part is not None:
            parts.append(part)
    common.add_turn_and_results(turns, role, parts, keep_empty=not blocks)


def _block(block: dict[str, JSON], kind: JSON, ids: common.CallIds) -> build.Part | None:
    if kind == "text":
        text = common.as_str(block.get("text"), "text.text")
        return build.text_part(text) if text else None
    if kind == "tool_use":
        name = common.as_str(block.get("name"), "tool_use.name")
        return build.tool_call_part(
            id=ids.call(block.get("id"), name),
            name=name,
            arguments=common.parse_json_text(block.get("input")),
        )
    if kind == "thinking":
        return build.thinking_part(common.as_str(block.get("thinking"), "thinking.thinking"))
    if kind == "redacted_thinking":
        return build.thinking_part(redacted=True)
    if kind == "image":
        source = common.as_dict(block.get("source"), "image.source")
        return build.image_part(
            media_type=source.get("media_type"),
            data=source.get("data"),
            url=source.get("url"),
            file_id=source.get("file_id"),
        )
    if kind == "document":
        return _document(block)
    return build.other_part(
        type=kind if type(kind) is str else "",
        value={k: v for k, v in block.items() if k != "type" and k not in _OPAQUE} or None,
    )


def _document(block: dict[str, JSON]) -> build.Part:
    source = common.as_dict(block.get("source"), "document.source")
    kind = source.get("type")
    text = source.get("data") if kind == "text" else None
    if kind == "content":  # a document made of blocks: keep their text
        blocks = common.as_list(source.get("content"), "document.source.content")
        text = "\n".join(
            common.as_str(common.as_dict(b, "content[]").get("text"), "text") for b in blocks
        )
    return build.document_part(
        media_type=source.get("media_type"),
        data=None if text is not None else source.get("data"),
        url=source.get("url"),
        file_id=source.get("file_id"),
        name=block.get("title"),
        text=text,
    )


def _result_content(content: JSON) -> list[build.Part]:
    if content is None:
        return []
    if type(content) is str:
        return [common.tool_result_content(content)] if content else []
    parts: list[build.Part] = []
    for block in common.as_list(content, "tool_result.content"):
        block = common.as_dict(block, "tool_result.content[]")
        kind = block.get("type")
        if kind == "text":
            parts.append(common.tool_result_content(common.as_str(block.get("text"), "text")))
        else:
            part = _block(block, kind, common.CallIds())
            if part is not None:
                parts.append(part)
    return parts


def _tool(tool: JSON) -> dict[str, JSON]:
    tool = common.as_dict(tool, "tools[]")
    kind = tool.get("type")
    if kind in (None, "custom") or "input_schema" in tool:
        return build.make_tool(
            name=common.as_str(tool.get("name"), "tools[].name"),
            description=tool.get("description") or None,
            parameters=tool.get("input_schema"),
            strict=tool.get("strict") is True,
        )
    # A server or client tool of Anthropic's own (web_search_..., bash_..., text_editor_...).
    config = {k: v for k, v in tool.items() if k not in ("type", "name", "cache_control")}
    name = tool.get("name")
    kind = common.as_str(kind, "tools[].type")
    return build.make_tool(
        name=name if type(name) is str else kind, type=kind, config=config or None
    )


def _tool_choice(choice: JSON) -> tuple[dict[str, JSON] | None, bool | None]:
    if choice is None:
        return None, None
    choice = common.as_dict(choice, "tool_choice")
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") is True else None
    if kind == "tool":
        return build.make_tool_choice(
            mode="required", names=[common.as_str(choice.get("name"), "tool_choice.name")]
        ), parallel
    if kind == "any":
        return build.make_tool_choice(mode="required"), parallel
    return build.make_tool_choice(mode=common.as_str(kind, "tool_choice.type")), parallel
