"""Amazon Bedrock Converse (``/model/{id}/converse`` and ``/converse-stream``), and count-tokens.

Converse has a wire format of its own: content blocks are single-key objects (``text``,
``image``, ``toolUse``, ``toolResult``, ``reasoningContent``...), ``cachePoint`` blocks mark
cache boundaries (dropped, like Anthropic's ``cache_control``), tools sit in
``toolConfig``, the sampling knobs in ``inferenceConfig`` and model-specific fields in
``additionalModelRequestFields`` (Claude's ``thinking`` there is the canonical
``thinking``). The model comes from the URL, URL-decoded (ARNs and ``...-v2%3A0`` ids).
The canonical form equals the one Anthropic's Messages API gives for the same conversation.

Count-tokens (``/model/{id}/count-tokens``) wraps a Converse body (``{"input":
{"converse": {...}}}``) or an InvokeModel body as JSON text (``{"input": {"invokeModel":
{"body": "..."}}}``); ``unwrap_count_tokens`` hands back the URL and body it wraps.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common
from .anthropic import model_from_url

__all__ = ["parse", "stream_from_url", "unwrap_count_tokens"]

_KNOWN = frozenset(
    {
        "modelId",
        "messages",
        "system",
        "toolConfig",
        "inferenceConfig",
        "additionalModelRequestFields",
        "outputConfig",
        "promptVariables",
        "requestMetadata",  # caller identity: never part of the key
    }
)
_INFERENCE = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop",
}
# Document formats and their media types, as the Converse API reference lists them.
_DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
}


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a Converse body sent to ``url``."""
    ids = common.CallIds()
    turns: list[dict[str, JSON]] = []
    for message in common.as_list(body["messages"], "messages"):
        message = common.as_dict(message, "messages[]")
        role = common.as_str(message.get("role"), "messages[].role")
        _blocks(
            role, common.as_list(message.get("content") or [], "messages[].content"), ids, turns
        )
    system = _system(body.get("system"))
    tools, choice = _tool_config(body.get("toolConfig"))
    params: dict[str, JSON] = {}
    config = body.get("inferenceConfig")
    for key, value in common.as_dict(config or {}, "inferenceConfig").items():
        if value is not None:
            params[_INFERENCE.get(key, key)] = value
    thinking: JSON = None
    extra = body.get("additionalModelRequestFields")
    for key, value in common.as_dict(extra or {}, "additionalModelRequestFields").items():
        if key == "thinking":  # Claude's thinking, passed through as Anthropic takes it
            if not (type(value) is dict and value.get("type") == "disabled"):
                thinking = value
        elif key != "anthropic_beta" and value is not None:
            params[key] = value
    for key, value in body.items():
        if key not in _KNOWN and value is not None:
            params[key] = value
    variables = body.get("promptVariables")
    return build.make_request(
        model=model_from_url(url) or body.get("modelId"),
        system=system,
        messages=turns,
        tools=common.sort_tools(tools),
        tool_choice=common.default_tool_choice(choice, tools),
        thinking=thinking,
        output_format=_output_format(body.get("outputConfig")),
        state={"prompt_variables": variables} if variables else None,
        params=params,
    )


def stream_from_url(url: str) -> bool:
    """Converse streams by endpoint (``/converse-stream``), never by a body field."""
    return url.split("?", 1)[0].rstrip("/").endswith("/converse-stream")


def unwrap_count_tokens(body: dict[str, JSON], url: str) -> tuple[str, dict[str, JSON]]:
    """The URL and body a count-tokens request wraps: a Converse body or InvokeModel JSON text."""
    wrapped = common.as_dict(common.as_dict(body.get("input"), "input"), "input")
    base = url.split("?", 1)[0].rstrip("/").removesuffix("/count-tokens")
    if "converse" in wrapped:
        return f"{base}/converse", common.as_dict(wrapped["converse"], "input.converse")
    if "invokeModel" in wrapped:
        invoke = common.as_dict(wrapped["invokeModel"], "input.invokeModel")
        inner = common.parse_json_text(common.as_str(invoke.get("body"), "input.invokeModel.body"))
        return f"{base}/invoke", common.as_dict(inner, "input.invokeModel.body")
    raise common.Malformed("input: expected converse or invokeModel")


def _system(blocks: JSON) -> str | None:
    texts: list[str] = []
    for block in common.as_list(blocks or [], "system"):
        block = common.as_dict(block, "system[]")
        if "text" in block:
            texts.append(common.as_str(block["text"], "system[].text"))
        elif "cachePoint" not in block:
            raise common.Malformed(f"system[]: a {_kind(block)} block is not text")
    return "\n".join(texts) if texts else None


def _kind(block: dict[str, JSON]) -> str:
    """A Converse block is an object with one key naming its kind (plus ``cachePoint`` hints)."""
    keys = [k for k in block if k != "cachePoint"]
    if len(keys) != 1:
        raise common.Malformed(f"content block: expected one kind, got {sorted(block)}")
    return keys[0]


def _blocks(
    role: str, blocks: list[JSON], ids: common.CallIds, turns: list[dict[str, JSON]]
) -> None:
    """Append a turn's blocks, moving ``toolResult`` blocks into ``tool`` turns (as Anthropic's)."""
    parts: list[build.Part] = []
    for block in blocks:
        block = common.as_dict(block, "content[]")
        if set(block) == {"cachePoint"}:
            continue
        kind = _kind(block)
        if kind == "toolResult":
            result = common.as_dict(block[kind], "toolResult")
            part: build.Part | None = build.tool_result_part(
                id=ids.result(result.get("toolUseId")),
                content=_result_content(result.get("content")),
                is_error=result.get("status") == "error",
            )
        else:
            part = _block(kind, block[kind], ids)
        if part is not None:
            parts.append(part)
    common.add_turn_and_results(turns, role, parts, keep_empty=not blocks)


def _block(kind: str, value: JSON, ids: common.CallIds) -> build.Part | None:
    if kind == "text":
        text = common.as_str(value, "text")
        return build.text_part(text) if text else None
    if kind == "toolUse":
        call = common.as_dict(value, "toolUse")
        name = common.as_str(call.get("name"), "toolUse.name")
        return build.tool_call_part(
            name, ids.call(call.get("toolUseId"), name), common.parse_json_text(call.get("input"))
        )
    if kind == "image":
        image = common.as_dict(value, "image")
        source = common.as_dict(image.get("source"), "image.source")
        location = source.get("s3Location")
        return build.image_part(
            media_type=f"image/{common.as_str(image.get('format'), 'image.format')}",
            data=source.get("bytes"),
            url=common.as_dict(location, "s3Location").get("uri") if location is not None else None,
        )
    if kind == "document":
        return _document(common.as_dict(value, "document"))
    if kind == "reasoningContent":
        reasoning = common.as_dict(value, "reasoningContent")
        shown = reasoning.get("reasoningText")
        if shown is None:
            return build.thinking_part(redacted=True)  # redactedContent: opaque, new on every run
        return build.thinking_part(
            common.as_str(common.as_dict(shown, "reasoningText").get("text"), "reasoningText")
        )
    return build.other_part(type=kind, value=value)


def _document(document: dict[str, JSON]) -> build.Part:
    source = common.as_dict(document.get("source"), "document.source")
    fmt = document.get("format")
    text = source.get("text")
    if "content" in source:  # a document made of blocks: keep their text
        blocks = common.as_list(source["content"], "document.source.content")
        text = "\n".join(
            common.as_str(common.as_dict(b, "content[]").get("text"), "text") for b in blocks
        )
    location = source.get("s3Location")
    return build.document_part(
        media_type=_DOCUMENT_TYPES.get(fmt, fmt) if type(fmt) is str else None,
        data=source.get("bytes"),
        url=common.as_dict(location, "s3Location").get("uri") if location is not None else None,
        name=document.get("name"),
        text=text,
    )


def _result_content(content: JSON) -> list[build.Part]:
    parts: list[build.Part] = []
    for block in common.as_list(content or [], "toolResult.content"):
        block = common.as_dict(block, "toolResult.content[]")
        kind = _kind(block)
        if kind == "text":
            parts.append(common.tool_result_content(common.as_str(block["text"], "text")))
        elif kind == "json":
            parts.append(build.data_part(block["json"]))
        else:
            part = _block(kind, block[kind], common.CallIds())
            if part is not None:
                parts.append(part)
    return parts


def _tool_config(config: JSON) -> tuple[list[dict[str, JSON]], dict[str, JSON] | None]:
    if config is None:
        return [], None
    config = common.as_dict(config, "toolConfig")
    tools: list[dict[str, JSON]] = []
    for tool in common.as_list(config.get("tools") or [], "toolConfig.tools"):
        tool = common.as_dict(tool, "toolConfig.tools[]")
        if set(tool) == {"cachePoint"}:
            continue
        kind = _kind(tool)
        if kind != "toolSpec":  # systemTool (nova_grounding...): a built-in tool
            spec = common.as_dict(tool[kind], kind)
            name = spec.get("name")
            rest = {k: v for k, v in spec.items() if k != "name"}
            tools.append(
                build.make_tool(
                    name=name if type(name) is str else kind, type=kind, config=rest or None
                )
            )
            continue
        spec = common.as_dict(tool["toolSpec"], "toolSpec")
        schema = common.as_dict(spec.get("inputSchema") or {}, "toolSpec.inputSchema").get("json")
        tools.append(
            build.make_tool(
                name=common.as_str(spec.get("name"), "toolSpec.name"),
                description=spec.get("description") or None,
                parameters=common.parse_json_text(schema),
                strict=spec.get("strict") is True,
            )
        )
    choice = config.get("toolChoice")
    if choice is None:
        return tools, None
    choice = common.as_dict(choice, "toolChoice")
    kind = _kind(choice)
    if kind == "tool":
        name = common.as_str(
            common.as_dict(choice["tool"], "toolChoice.tool").get("name"), "toolChoice.tool.name"
        )
        return tools, build.make_tool_choice(mode="required", names=[name])
    return tools, build.make_tool_choice(mode="required" if kind == "any" else kind)


def _output_format(config: JSON) -> dict[str, JSON] | None:
    """``outputConfig.textFormat``: a JSON schema (sent as JSON text) with its name."""
    if config is None:
        return None
    fmt = common.as_dict(
        common.as_dict(config, "outputConfig").get("textFormat"), "outputConfig.textFormat"
    )
    structure = common.as_dict(fmt.get("structure"), "textFormat.structure")
    spec = common.as_dict(structure.get("jsonSchema"), "textFormat.structure.jsonSchema")
    return common.json_schema_format(
        spec.get("schema"), name=spec.get("name"), description=spec.get("description")
    )
