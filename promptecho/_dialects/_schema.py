"""The canonical request: one provider-neutral schema that every dialect parses into.

The Structs are frozen (safe to share and hash) and omit fields at their default, so the
plain data they turn into (``msgspec.to_builtins``) stays short and stable: a field that a
newer promptecho adds never changes the canonical form of an older request.

Content blocks are a tagged union on ``kind``. Provider ids that are copied from one
response into the next request (tool call ids) are replaced by their order of appearance
(``call_0``, ``call_1``...), so a re-recorded conversation canonicalises the same way.
Thinking signatures, Gemini ``thoughtSignature`` and Responses ``encrypted_content`` are
dropped: they are opaque and change on every recording.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from promptecho._types import JSON

__all__ = [
    "AnyPart",
    "Data",
    "Document",
    "Embedding",
    "Image",
    "Message",
    "Other",
    "OutputFormat",
    "Part",
    "Request",
    "Speech",
    "State",
    "Text",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
]


class _Base(
    msgspec.Struct,
    forbid_unknown_fields=True,  # a typo in hand-edited canonical data is an error
    omit_defaults=True,  # fields at their default stay out: short, stable canonical data
    kw_only=True,
    frozen=True,  # canonical values are shared and never change
):
    """Options shared by every canonical Struct."""


class Part(_Base, frozen=True, tag_field="kind", tag=str.lower):
    """One content block of a message."""


class Text(Part, frozen=True):
    """Plain text. ``content: "hi"`` and ``[{"type": "text", "text": "hi"}]`` both give this."""

    text: str


class Image(Part, frozen=True):
    """An image, inline (standard base64 ``data`` + ``media_type``) or by ``url``/``file_id``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class Document(Part, frozen=True):
    """A file, PDF, audio clip or text document given as content."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    name: str | None = None
    text: str | None = None


class ToolCall(Part, frozen=True, tag="tool_call"):
    """A call the assistant made; ``arguments`` is parsed JSON whatever the wire sent."""

    name: str
    id: str | None = None
    arguments: JSON = None


class ToolResult(Part, frozen=True, tag="tool_result"):
    """The answer to a tool call; JSON text in the result becomes a ``Data`` part."""

    id: str | None = None
    content: list[AnyPart] = []
    is_error: bool = False


class Thinking(Part, frozen=True):
    """Reasoning the model showed (thinking block, reasoning summary, Gemini thought)."""

    text: str = ""
    redacted: bool = False


class Data(Part, frozen=True, tag="json"):
    """Structured data, e.g. a tool result that was JSON (Gemini sends it as an object)."""

    value: JSON


class Other(Part, frozen=True):
    """A block no dialect knows, kept as sent (minus cache hints) under its wire ``type``."""

    type: str
    value: JSON = None


AnyPart: TypeAlias = Text | Image | Document | ToolCall | ToolResult | Thinking | Data | Other
"""Any content part; ``kind`` says which."""


class Message(_Base, frozen=True):
    """One turn: ``user``, ``assistant`` or ``tool`` (system turns go to ``Request.system``)."""

    role: str
    content: list[AnyPart] = []


class Tool(_Base, frozen=True):
    """A tool the model may call. ``parameters`` is JSON Schema with lower-case types.

    Built-in tools (web search, code execution...) keep their wire ``type`` and their
    settings in ``config``.
    """

    name: str
    description: str | None = None
    parameters: JSON = None
    strict: bool = False
    type: str = "function"
    config: JSON = None


class ToolChoice(_Base, frozen=True):
    """``mode`` is ``auto``, ``required`` or ``none``; ``names`` narrows the allowed tools."""

    mode: str
    names: list[str] = []


class OutputFormat(_Base, frozen=True):
    """The structured output asked for; plain text (every API's default) is no ``OutputFormat``.

    ``type`` is ``json_schema`` (``schema`` holds the JSON Schema, lower-case types, and
    ``name``/``description``/``strict`` where the provider takes them), ``json`` (any JSON
    object: OpenAI ``json_object``, Gemini ``application/json`` without a schema, Ollama
    ``"json"``) or another MIME type Gemini was asked for (``text/x.enum``).
    """

    type: str
    name: str | None = None
    description: str | None = None
    schema: JSON = None
    strict: bool = False


class State(_Base, frozen=True):
    """Input or state the model sees beyond ``system``/``messages``/``tools``, held by the provider.

    Each field is kept as sent (ids, objects): Responses ``previous_response_id``,
    ``conversation`` (its id), ``prompt`` (id, version, variables), ``item_references`` (the
    ids of ``item_reference`` input items, in order) and ``truncation``; Gemini
    ``cached_content``; Anthropic ``container``, ``mcp_servers`` and ``context_management``;
    Cohere ``documents``; Ollama ``context``, ``suffix`` and ``template``; Bedrock
    ``prompt_variables``; Mistral's ``agent_id`` (the agent's own instructions and tools).
    """

    previous_response_id: str | None = None
    conversation: str | None = None
    prompt: JSON = None
    item_references: list[str] = []
    truncation: str | None = None
    cached_content: str | None = None
    container: JSON = None
    mcp_servers: JSON = None
    context_management: JSON = None
    documents: JSON = None
    context: JSON = None
    suffix: str | None = None
    template: str | None = None
    prompt_variables: JSON = None
    agent_id: str | None = None


class Request(_Base, frozen=True):
    """A chat-like request: the prompt (``system``, ``messages``, ``tools``), the knobs that
    steer reasoning, each kept in its own field, and every other parameter in ``params``.

    ``reasoning_effort`` is OpenAI Chat's knob, ``reasoning`` the Responses/OpenRouter
    object, ``thinking`` Anthropic's ``thinking``, Gemini's ``thinkingConfig`` (snake_case
    keys) or Ollama's ``think``. ``params`` folds the max-token aliases into
    ``max_tokens`` and drops fields that identify the caller rather than the prompt.
    ``output_format`` is the structured output asked for, ``state`` what the provider holds
    for the conversation (both decide the answer, so both are in the default key).
    """

    model: str | None = None
    system: str | None = None
    messages: list[Message] = []
    tools: list[Tool] = []
    tool_choice: ToolChoice | None = None
    reasoning_effort: str | None = None
    reasoning: JSON = None
    thinking: JSON = None
    output_format: OutputFormat | None = None
    state: State | None = None
    params: dict[str, JSON] = {}


class Embedding(_Base, frozen=True, kw_only=True):
    """An embeddings request; ``input`` is always a list, ``encoding_format`` is ``float`` if not sent."""

    model: str | None = None
    input: list[JSON] = []
    dimensions: int | None = None
    encoding_format: str
    params: dict[str, JSON] = {}


class Speech(_Base, frozen=True, kw_only=True):
    """A text-to-speech request (``/audio/speech``)."""

    model: str | None = None
    input: str | None = None
    voice: JSON = None
    response_format: str
    instructions: str | None = None
    speed: float | None = None
    params: dict[str, JSON] = {}
