"""Helpers more than one dialect needs: volatile fields, tool ids, JSON text, schemas, params.

Dialects raise ``Malformed`` (a ``ValueError``) for a known shape with wrong types; the
dispatcher then keeps the body as plain JSON instead of failing the test.
"""

from __future__ import annotations

from typing import Any

import msgspec

from promptecho._types import JSON

from ._build import (
    Part,
    data_part,
    make_output_format,
    make_tool_choice,
    text_part,
)

__all__ = [
    "VOLATILE",
    "CallIds",
    "Malformed",
    "add_turn",
    "add_turn_and_results",
    "as_dict",
    "as_list",
    "as_str",
    "default_tool_choice",
    "fold_params",
    "json_schema_format",
    "lower_schema_types",
    "openai_output_format",
    "parse_json_text",
    "sort_tools",
    "split_data_url",
    "tool_result_content",
]

# Fields that identify the caller or the run, or only tune delivery: never part of the key.
VOLATILE = frozenset(
    {
        "user",
        "metadata",
        "stream",
        "stream_options",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "keep_alive",
    }
)

# Aliases of the output-token limit, all folded into ``params["max_tokens"]``.
_MAX_TOKENS = ("max_tokens", "max_completion_tokens", "max_output_tokens")

_decode = msgspec.json.decode
_sorted_encode = msgspec.json.Encoder(order="sorted").encode


class Malformed(ValueError):
    """A known wire shape with a value of the wrong type."""


def as_dict(value: JSON, where: str) -> dict[str, JSON]:
    if type(value) is not dict:
        raise Malformed(f"{where}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: JSON, where: str) -> list[JSON]:
    if type(value) is not list:
        raise Malformed(f"{where}: expected an array, got {type(value).__name__}")
    return value


def as_str(value: JSON, where: str) -> str:
    if type(value) is not str:
        raise Malformed(f"{where}: expected a string, got {type(value).__name__}")
    return value


class CallIds:
    """Replaces provider tool-call ids by their order of appearance (``call_0``...).

    Providers that link results by name only (Gemini, Ollama native) get the id of the
    oldest call of that name still waiting for its result.
    """

    __slots__ = ("_answered", "_ids", "_pending")

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._pending: list[tuple[str, str]] = []
        self._answered: set[str] = set()

    def _fresh(self, raw: JSON) -> str:
        canonical = f"call_{len(self._ids)}"
        self._ids[raw if type(raw) is str and raw else f"\x00{canonical}"] = canonical
        return canonical

    def call(self, raw: JSON, name: str) -> str:
        """The canonical id of a call (a new one when ``raw`` is missing or new)."""
        canonical = self._ids.get(raw) if type(raw) is str else None
        if canonical is None:
            canonical = self._fresh(raw)
        self._pending.append((name, canonical))
        return canonical

    def result(self, raw: JSON, name: str | None = None) -> str:
        """The canonical id a result refers to: by raw id, else by name, else a fresh one."""
        if type(raw) is str and raw:
            canonical = self._ids.get(raw) or self._fresh(raw)
            self._answered.add(canonical)
            return canonical
        for i, (pending_name, canonical) in enumerate(self._pending):
            if canonical not in self._answered and (name is None or pending_name == name):
                del self._pending[i]
                self._answered.add(canonical)
                return canonical
        return self._fresh(None)


def parse_json_text(value: JSON) -> JSON:
    """Tool-call arguments sent as JSON text, parsed; anything else unchanged."""
    if type(value) is not str:
        return value
    if not value.strip():
        return {}
    try:
        return _decode(value)
    except (msgspec.DecodeError, RecursionError):
        return value


def tool_result_content(text: str) -> Part:
    """A tool result given as text: JSON objects and arrays become ``Data``."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return data_part(_decode(text))
        except (msgspec.DecodeError, RecursionError):
            pass
    return text_part(text)


def add_turn(messages: list[dict[str, JSON]], role: str, parts: list[Part]) -> None:
    """Append a turn to the canonical messages, merging it into the last one of its role.

    Providers split one turn differently (OpenAI sends one ``tool`` message per result,
    Anthropic one user turn holding every result; Responses sends each reasoning item and
    call as its own item), so adjacent turns of one role are one canonical message.
    ``parts`` must be a fresh list: it may become the message's content.
    """
    if messages:
        last = messages[-1]
        if last["role"] == role:
            if parts:
                content = last.get("content")
                if content is None:
                    last["content"] = parts
                else:
                    content.extend(parts)
            return
    messages.append({"role": role, "content": parts} if parts else {"role": role})


def add_turn_and_results(
    turns: list[dict[str, JSON]], role: str, parts: list[Part], *, keep_empty: bool
) -> None:
    """Append one wire turn whose ``tool_result`` parts leave it for ``tool`` turns, in order.

    Anthropic, Gemini and Bedrock send results inside the user turn; canonically they are
    ``tool`` turns, as OpenAI sends them. ``keep_empty``: append the turn even with no parts.
    """
    pending: list[Part] = []
    for part in parts:
        if part["kind"] == "tool_result":
            if pending:
                add_turn(turns, role, pending)
                pending = []
            add_turn(turns, "tool", [part])
        else:
            pending.append(part)
    if pending or keep_empty:
        add_turn(turns, role, pending)


def split_data_url(url: str) -> tuple[str | None, str | None]:
    """``data:image/png;base64,XXXX`` -> (``image/png``, ``XXXX``); (None, None) otherwise."""
    if not url.startswith("data:"):
        return None, None
    header, sep, data = url.partition(",")
    if not sep:
        return None, None
    media_type = header[5:].split(";", 1)[0] or None
    return media_type, data


def lower_schema_types(schema: JSON) -> JSON:
    """A JSON schema with every ``type`` in lower case (Gemini's SDK sends ``"OBJECT"``)."""
    if type(schema) is dict:
        out: dict[str, JSON] = {}
        for key, value in schema.items():
            if key == "type":
                if type(value) is str:
                    value = value.lower()
                elif type(value) is list:
                    value = [v.lower() if type(v) is str else v for v in value]
            else:
                value = lower_schema_types(value)
            out[key] = value
        return out
    if type(schema) is list:
        return [lower_schema_types(v) for v in schema]
    return schema


def json_schema_format(
    schema: JSON, *, name: JSON = None, description: JSON = None, strict: bool = False
) -> dict[str, JSON]:
    """A ``json_schema`` output format; the schema is normalised as tool parameters are.

    A schema sent as JSON text (Bedrock) is parsed first, so text and object compare equal.
    """
    return make_output_format(
        "json_schema",
        name=name if type(name) is str and name else None,
        description=description if type(description) is str and description else None,
        schema=lower_schema_types(parse_json_text(schema)),
        strict=strict,
    )


def openai_output_format(value: JSON, where: str = "response_format") -> dict[str, JSON] | None:
    """An OpenAI-style ``response_format`` (Chat, Mistral, Groq, Cohere) or Responses ``text.format``.

    ``text`` (the default) is no format. ``json_schema`` carries its schema nested under
    ``json_schema`` (Chat) or flat (Responses); ``json_object`` is ``json``, or
    ``json_schema`` when Cohere adds a schema to it.
    """
    if value is None:
        return None
    fmt = as_dict(value, where)
    kind = fmt.get("type")
    if kind is None or kind == "text":
        return None
    if kind == "json_object":
        schema = fmt.get("json_schema", fmt.get("schema"))
        return make_output_format("json") if schema is None else json_schema_format(schema)
    if kind == "json_schema":
        inner = fmt.get("json_schema")
        spec = inner if type(inner) is dict else fmt
        return json_schema_format(
            spec.get("schema"),
            name=spec.get("name"),
            description=spec.get("description"),
            strict=spec.get("strict") is True,
        )
    rest = {k: v for k, v in fmt.items() if k != "type"}
    return make_output_format(as_str(kind, f"{where}.type"), schema=rest or None)


def sort_tools(tools: list[dict[str, JSON]]) -> list[dict[str, JSON]]:
    """Tools by name (then by content, for duplicates), so their order never matters."""
    if len(tools) < 2:
        return tools
    names = [t["name"] for t in tools]
    if len(set(names)) == len(names):
        return sorted(tools, key=lambda t: t["name"])
    return sorted(tools, key=lambda t: (t["name"], _sorted_encode(t)))


def default_tool_choice(
    choice: dict[str, JSON] | None, tools: list[dict[str, JSON]]
) -> dict[str, JSON] | None:
    """Omitting ``tool_choice`` means ``auto`` whenever tools are offered."""
    if choice is None and tools:
        return make_tool_choice(mode="auto")
    return choice


def fold_params(body: dict[str, JSON], known: frozenset[str]) -> dict[str, JSON]:
    """Every top-level field not in ``known`` and not volatile, with aliases folded.

    The max-token aliases become ``max_tokens``; a single ``stop`` string becomes a list;
    ``n: 1`` and ``parallel_tool_calls: true`` (the defaults) are dropped.
    """
    params: dict[str, Any] = {}
    for key, value in body.items():
        if key in known or key in VOLATILE or value is None:
            continue
        if key in _MAX_TOKENS:
            params["max_tokens"] = value
        elif key == "stop" and type(value) is str:
            params["stop"] = [value]
        elif (key == "n" and value == 1) or (key == "parallel_tool_calls" and value is True):
            continue
        else:
            params[key] = value
    return params
