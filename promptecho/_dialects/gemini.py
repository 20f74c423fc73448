"""Gemini ``:generateContent`` / ``:streamGenerateContent`` (Google AI and Vertex URLs).

The model comes from the URL path, never the body. camelCase and snake_case keys are the
same (the google-genai SDK mixes them), URL-safe base64 becomes standard base64, schema
types are lower-cased, role ``model`` is ``assistant``, and ``thoughtSignature`` is dropped.
``functionResponse`` parts have no call id: they answer the oldest call of their name.
``responseMimeType`` with ``responseSchema``/``responseJsonSchema`` becomes ``output_format``,
``cachedContent`` becomes ``state``; ``tools`` may be one object instead of a list.
"""

from __future__ import annotations

import re

from promptecho._types import JSON

from . import _build as build
from . import _common as common

__all__ = ["model_from_url", "parse", "snake", "stream_from_url"]

_URLSAFE = str.maketrans("-_", "+/")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
# Parameters whose canonical name is shared with the other dialects.
_PARAM_NAMES = {
    "max_output_tokens": "max_tokens",
    "stop_sequences": "stop",
    "candidate_count": "n",
}
_MODES = {"AUTO": "auto", "ANY": "required", "NONE": "none"}
# Part keys that carry no content: opaque signatures and display hints.
_PART_NOISE = frozenset(
    {"thought_signature", "thoughtSignature", "video_metadata", "videoMetadata"}
)


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of a generateContent body sent to ``url``."""
    ids = common.CallIds()
    turns: list[dict[str, JSON]] = []
    for content in common.as_list(_get(body, "contents", "contents"), "contents"):
        content = common.as_dict(content, "contents[]")
        role = content.get("role") or "user"
        role = "assistant" if role == "model" else "tool" if role == "function" else role
        role = common.as_str(role, "contents[].role")
        parts: list[build.Part] = []
        for raw in common.as_list(content.get("parts") or [], "contents[].parts"):
            part = _part(common.as_dict(raw, "parts[]"), ids)
            if part is not None:
                parts.append(part)
        answered = any(part["kind"] == "tool_result" for part in parts)
        common.add_turn_and_results(turns, role, parts, keep_empty=not answered)
    tools: list[dict[str, JSON]] = []
    entries = body.get("tools") or []
    if type(entries) is dict:  # one Tool object instead of a list: the API takes both
        entries = [entries]
    for entry in common.as_list(entries, "tools"):
        tools.extend(_tools(common.as_dict(entry, "tools[]")))
    config = _get(body, "generationConfig", "generation_config") or {}
    params, thinking, output_format = _generation_config(common.as_dict(config, "generationConfig"))
    cached = _get(body, "cachedContent", "cached_content")
    for key, value in body.items():
        name = snake(key)
        if name not in _TOP_LEVEL and value is not None:
            params[name] = value
    return build.make_request(
        model=model_from_url(url),
        system=_system(_get(body, "systemInstruction", "system_instruction")),
        messages=turns,
        tools=common.sort_tools(tools),
        tool_choice=common.default_tool_choice(
            _tool_choice(_get(body, "toolConfig", "tool_config")), tools
        ),
        thinking=thinking,
        output_format=output_format,
        state={"cached_content": common.as_str(cached, "cachedContent")} if cached else None,
        params=params,
    )


_TOP_LEVEL = frozenset(
    {
        "contents",
        "system_instruction",
        "tools",
        "tool_config",
        "generation_config",
        "cached_content",
        "model",
        "labels",
    }
)


def model_from_url(url: str) -> str | None:
    """``.../models/gemini-2.5-flash:generateContent`` -> ``gemini-2.5-flash``."""
    path = url.split("?", 1)[0]
    if "models/" not in path:
        return None
    return path.rsplit("models/", 1)[1].split(":", 1)[0] or None


def stream_from_url(url: str) -> bool:
    """Gemini streams by URL method (``:streamGenerateContent``) or ``alt=sse``."""
    path, _, query = url.partition("?")
    return path.endswith(":streamGenerateContent") or "alt=sse" in query.split("&")


def snake(key: str) -> str:
    """``maxOutputTokens`` -> ``max_output_tokens`` (snake_case keys are unchanged)."""
    return _CAMEL.sub(r"_\1", key).lower() if not key.islower() else key


def _get(mapping: dict[str, JSON], camel: str, snake_key: str) -> JSON:
    value = mapping.get(camel)
    return mapping.get(snake_key) if value is None else value


def _system(instruction: JSON) -> str | None:
    if instruction is None:
        return None
    if type(instruction) is str:
        return instruction
    instruction = common.as_dict(instruction, "systemInstruction")
    texts = [
        common.as_str(common.as_dict(p, "parts[]").get("text"), "systemInstruction.parts[].text")
        for p in common.as_list(instruction.get("parts") or [], "systemInstruction.parts")
    ]
    return "\n".join(texts) or None


def _part(part: dict[str, JSON], ids: common.CallIds) -> build.Part | None:
    if "text" in part:
        text = common.as_str(part["text"], "parts[].text")
        if part.get("thought") is True:
            return build.thinking_part(text)
        return build.text_part(text) if text else None
    call = _get(part, "functionCall", "function_call")
    if call is not None:
        call = common.as_dict(call, "functionCall")
        name = common.as_str(call.get("name"), "functionCall.name")
        return build.tool_call_part(
            id=ids.call(call.get("id"), name), name=name, arguments=call.get("args", {})
        )
    response = _get(part, "functionResponse", "function_response")
    if response is not None:
        response = common.as_dict(response, "functionResponse")
        name = common.as_str(response.get("name"), "functionResponse.name")
        value = response.get("response")
        return build.tool_result_part(
            id=ids.result(response.get("id"), name), content=[build.data_part(value)]
        )
    inline = _get(part, "inlineData", "inline_data")
    if inline is not None:
        inline = common.as_dict(inline, "inlineData")
        data = common.as_str(inline.get("data"), "inlineData.data").translate(_URLSAFE)
        media_type = _get(inline, "mimeType", "mime_type")
        if type(media_type) is str and media_type.startswith("image/"):
            return build.image_part(media_type=media_type, data=data)
        return build.document_part(
            media_type=media_type, data=data, name=_get(inline, "displayName", "display_name")
        )
    file = _get(part, "fileData", "file_data")
    if file is not None:
        file = common.as_dict(file, "fileData")
        uri = _get(file, "fileUri", "file_uri")
        media_type = _get(file, "mimeType", "mime_type")
        if type(media_type) is str and media_type.startswith("image/"):
            return build.image_part(media_type=media_type, url=uri)
        return build.document_part(media_type=media_type, url=uri)
    rest = {snake(k): v for k, v in part.items() if k not in _PART_NOISE}
    if not rest:
        return None
    kind = next(iter(rest))
    return build.other_part(type=kind, value=rest[kind] if len(rest) == 1 else rest)


def _tools(entry: dict[str, JSON]) -> list[dict[str, JSON]]:
    tools: list[dict[str, JSON]] = []
    for key, value in entry.items():
        name = snake(key)
        if name != "function_declarations":
            # googleSearch, codeExecution, urlContext...: a built-in tool and its settings.
            tools.append(build.make_tool(name=name, type=name, config=value or None))
            continue
        for declaration in common.as_list(value, "functionDeclarations"):
            declaration = common.as_dict(declaration, "functionDeclarations[]")
            schema = _get(declaration, "parameters", "parameters")
            if schema is None:
                schema = _get(declaration, "parametersJsonSchema", "parameters_json_schema")
            tools.append(
                build.make_tool(
                    name=common.as_str(declaration.get("name"), "functionDeclarations[].name"),
                    description=declaration.get("description") or None,
                    parameters=common.lower_schema_types(schema),
                )
            )
    return tools


def _tool_choice(config: JSON) -> dict[str, JSON] | None:
    if not config:
        return None
    config = common.as_dict(config, "toolConfig")
    calling = _get(config, "functionCallingConfig", "function_calling_config")
    if not calling:
        return None
    calling = common.as_dict(calling, "functionCallingConfig")
    mode = common.as_str(calling.get("mode", "AUTO"), "functionCallingConfig.mode")
    names = _get(calling, "allowedFunctionNames", "allowed_function_names") or []
    return build.make_tool_choice(mode=_MODES.get(mode.upper(), mode.lower()), names=sorted(names))


def _generation_config(
    config: dict[str, JSON],
) -> tuple[dict[str, JSON], JSON, dict[str, JSON] | None]:
    """Parameters under canonical names, ``thinkingConfig`` with snake_case keys, the output format."""
    params: dict[str, JSON] = {}
    thinking: JSON = None
    mime: JSON = None
    schema: JSON = None
    for key, value in config.items():
        name = snake(key)
        if value is None:
            continue
        if name == "thinking_config":
            thinking = {
                snake(k): v for k, v in common.as_dict(value, "thinkingConfig").items()
            } or None
        elif name == "candidate_count" and value == 1:
            continue
        elif name in ("response_schema", "response_json_schema"):
            schema = value
        elif name == "response_mime_type":
            mime = common.as_str(value, "generationConfig.responseMimeType").lower()
        else:
            params[_PARAM_NAMES.get(name, name)] = value
    return params, thinking, _output_format(mime, schema)


def _output_format(mime: str | None, schema: JSON) -> dict[str, JSON] | None:
    """``responseMimeType`` and its schema: JSON with a schema is ``json_schema``, as elsewhere."""
    if mime in (None, "text/plain") and schema is None:
        return None
    if mime in (None, "application/json"):
        return (
            build.make_output_format("json")
            if schema is None
            else common.json_schema_format(schema)
        )
    return build.make_output_format(
        common.as_str(mime, "responseMimeType"), schema=common.lower_schema_types(schema)
    )
