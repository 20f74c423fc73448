"""Test-side helpers for `promptecho.testing`: serve the wire samples in tests/data/wire/ by provider route.

`wire_handler()` is a `FakeUpstream` handler that answers each provider's real path with the response
sample that fits the request (stream or not, tools, thinking, tool results, images...), with the
provider's response headers (tests/data/wire/response-headers.json, taken from the wire reference's
HEADERS.md), gzip where that provider gzips, and one chunk per SSE event or NDJSON line.
`wire_reply(provider, scenario)` builds one sample's `Reply` directly.

Routes (method POST; the query string is ignored except Gemini's ``alt=sse``):

=====================================================  ===========================================
path                                                   provider directory
=====================================================  ===========================================
/v1/messages                                           anthropic
/v1/chat/completions                                   openai-chat, mistral or ollama (see below)
/v1/responses                                          openai-responses
/v1/embeddings                                         openai-embeddings
/v1/audio/speech                                       openai-audio
/v1/models/{model}:generateContent (or /v1beta/...)    gemini
/v1/models/{model}:streamGenerateContent?alt=sse       gemini (stream)
/openai/v1/chat/completions                            groq
/v2/chat                                               cohere
/api/chat                                              ollama (native)
=====================================================  ===========================================

``/v1/chat/completions`` is shared: a ``mistral-client`` user-agent or a Mistral model name means
mistral, an OpenAI model name (``gpt-*``, ``o1``... ``chatgpt-*``) means openai-chat, anything else
(``llama3.2``) means Ollama's OpenAI-compatible endpoint. To choose explicitly, pass
``serve={"/v1/chat/completions": "ollama"}``; see `wire_handler`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

from promptecho.testing import FakeUpstream, Reply, Seen, json_reply

WIRE = Path(__file__).parent / "data" / "wire"
"""The copied wire samples: ``<provider>/<scenario>.request.json`` and ``.response.*``."""

PROVIDERS = (
    "anthropic",
    "cohere",
    "gemini",
    "groq",
    "mistral",
    "ollama",
    "openai-audio",
    "openai-chat",
    "openai-embeddings",
    "openai-responses",
)

_MP3_CHUNK = 240  # the mp3 sample is 960 bytes: served in 4 chunks, as a chunked audio stream
_DROPPED = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection"})
_OPENAI_MODEL = re.compile(r"^(gpt-|chatgpt-|o\d|codex-|text-|omni-)")
_MISTRAL_MODEL = re.compile(
    r"^(mistral|open-mistral|ministral|magistral|codestral|pixtral|devstral)"
)
_GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<method>\w+)$")

Handler = Callable[[Seen], Reply]


def scenarios(provider: str, root: Path = WIRE) -> list[str]:
    """The scenario names with a response sample for ``provider``, sorted."""
    return sorted(p.name.split(".")[0] for p in (root / provider).glob("*.response.*"))


def request_body(provider: str, scenario: str, root: Path = WIRE) -> bytes:
    """The exact request body the provider's SDK sent for ``scenario``."""
    return (root / provider / f"{scenario}.request.json").read_bytes()


def response_path(provider: str, scenario: str, root: Path = WIRE) -> Path:
    """The response sample file of ``scenario`` (``.json``, ``.sse``, ``.ndjson`` or ``.mp3``)."""
    found = sorted((root / provider).glob(f"{scenario}.response.*"))
    if not found:
        known = ", ".join(scenarios(provider, root)) or "none"
        raise LookupError(f"no response sample {provider}/{scenario}; known: {known}")
    return found[0]


def split_body(path: Path) -> list[bytes]:
    """A sample's bytes as the chunks a server sends: one per SSE event or NDJSON line."""
    data = path.read_bytes()
    match path.suffix:
        case ".sse":
            return re.findall(rb".*?(?:\r\n\r\n|\n\n)|.+", data, re.DOTALL)
        case ".ndjson":
            return data.splitlines(keepends=True)
        case ".mp3":
            return [data[i : i + _MP3_CHUNK] for i in range(0, len(data), _MP3_CHUNK)]
        case _:
            return [data]


def wire_reply(
    provider: str,
    scenario: str,
    *,
    root: Path = WIRE,
    delay: float = 0.0,
    gzip: bool | None = None,
) -> Reply:
    """The `Reply` for one response sample: its status, its provider's headers and its chunks.

    ``gzip=None`` gzips exactly when the provider's header set says ``content-encoding: gzip``
    (most non-streaming JSON); True or False forces it. A header set that carries a
    ``content-length`` is sent with one (Anthropic and OpenAI errors, Ollama JSON).
    """
    path = response_path(provider, scenario, root)
    status, headers = _headers_for(provider, scenario, path, root)
    lowered = {name.lower(): value for name, value in headers}
    return Reply(
        status,
        headers=[(name, value) for name, value in headers if name.lower() not in _DROPPED],
        chunks=split_body(path),
        delay=delay,
        gzip=lowered.get("content-encoding") == "gzip" if gzip is None else gzip,
        content_length="content-length" in lowered,
    )


def route(seen: Seen, serve: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The (provider, scenario) that `wire_handler` serves for ``seen``, or None for an unknown route.

    ``serve`` overrides the choice, keyed by path (without query) or by provider; a value is
    ``"provider/scenario"``, a ``"provider"`` (whose scenario is then chosen from the request) or,
    under a provider key, a bare ``"scenario"``.
    """
    path = seen.path.split("?", 1)[0]
    provider = _provider_for(seen, path)
    override = (serve or {}).get(path)
    if override is None and provider is not None:
        override = (serve or {}).get(provider)
    if override is not None:
        if "/" in override:
            provider, scenario = override.split("/", 1)
            return provider, scenario
        if override in PROVIDERS:
            provider = override
        else:
            if provider is None:
                return None
            return provider, override
    if provider is None:
        return None
    return provider, _CHOOSERS[provider](seen, _body(seen))


def wire_handler(
    root: Path = WIRE,
    *,
    serve: Mapping[str, str] | None = None,
    delay: float = 0.0,
    gzip: bool | None = None,
) -> Handler:
    """A `FakeUpstream` handler answering every provider route with the matching wire sample.

    Parameters
    ----------
    root
        The samples directory (tests/data/wire by default).
    serve
        Explicit choices, e.g. ``{"anthropic": "error-529"}``, ``{"/v1/chat/completions": "mistral"}``
        or ``{"/v1/chat/completions": "ollama/openai-compat-stream"}``; see `route`.
    delay, gzip
        Passed to `wire_reply`.

    An unknown route gets a 404 JSON body that names the path.

    >>> from promptecho.testing import Seen
    >>> handler = wire_handler(serve={"anthropic": "error-529"})
    >>> handler(Seen("POST", "/v1/messages", [], b"{}")).status
    529
    """

    def handle(seen: Seen) -> Reply:
        target = route(seen, serve)
        if target is None:
            return json_reply(
                {"error": f"no wire sample route for {seen.method} {seen.path}"}, status=404
            )
        return wire_reply(*target, root=root, delay=delay, gzip=gzip)

    return handle


def serve_wire(
    root: Path = WIRE,
    *,
    serve: Mapping[str, str] | None = None,
    delay: float = 0.0,
    gzip: bool | None = None,
) -> Generator[FakeUpstream, None, None]:
    """Fixture body: a started `FakeUpstream` serving `wire_handler`, stopped afterwards.

    In conftest::

        @pytest.fixture
        def wire_upstream() -> Generator[FakeUpstream, None, None]:
            yield from serve_wire()
    """
    with FakeUpstream(wire_handler(root, serve=serve, delay=delay, gzip=gzip)) as up:
        yield up


def wire_servers(root: Path = WIRE) -> Generator[Callable[..., FakeUpstream], None, None]:
    """Fixture body: a factory of started wire upstreams (keywords as `wire_handler`), all stopped afterwards.

    In conftest::

        @pytest.fixture
        def wire_server() -> Iterator[Callable[..., FakeUpstream]]:
            yield from wire_servers()

    and in a test: ``up = wire_server(serve={"anthropic": "error-529"})``.
    """
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> FakeUpstream:
            return stack.enter_context(FakeUpstream(wire_handler(root, **options)))

        yield start


# Implementation details: which provider a path belongs to, and which scenario a request wants.


def _provider_for(seen: Seen, path: str) -> str | None:
    if seen.method != "POST":
        return None
    match path:
        case "/v1/messages":
            return "anthropic"
        case "/v1/responses":
            return "openai-responses"
        case "/v1/embeddings":
            return "openai-embeddings"
        case "/v1/audio/speech":
            return "openai-audio"
        case "/openai/v1/chat/completions":
            return "groq"
        case "/v2/chat":
            return "cohere"
        case "/api/chat":
            return "ollama"
        case "/v1/chat/completions":
            return _chat_completions_provider(seen)
    if _GEMINI_PATH.match(path):
        return "gemini"
    return None


def _chat_completions_provider(seen: Seen) -> str:
    model = str(_body(seen).get("model", ""))
    if "mistral" in (seen.header("user-agent") or "").lower() or _MISTRAL_MODEL.match(model):
        return "mistral"
    if _OPENAI_MODEL.match(model):
        return "openai-chat"
    return "ollama"


def _body(seen: Seen) -> dict[str, Any]:
    try:
        body = json.loads(seen.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict nested in a decoded JSON value, depth first."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _has_type(value: Any, *types: str) -> bool:
    return any(d.get("type") in types for d in _dicts(value))


def _has_key(value: Any, key: str) -> bool:
    return any(key in d for d in _dicts(value))


def _anthropic(seen: Seen, body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if _has_type(messages, "tool_result"):
        base = "tool-result"
    elif (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        base = "thinking"
    elif body.get("tools"):
        base = "tool-use"
    elif _has_type(messages, "image"):
        base = "image-input"
    else:
        base = "text"
    if body.get("stream") is True:  # only these three have a streamed sample
        return f"{base}-stream" if base in ("text", "thinking", "tool-use") else "text-stream"
    return base


def _openai_chat(seen: Seen, body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if body.get("stream") is True:
        return "tools-stream" if body.get("tools") else "text-stream"
    roles = {m.get("role") for m in messages if isinstance(m, dict)}
    if "tool" in roles:
        return "tool-result"
    if _has_type(messages, "image_url"):
        return "image-url"
    if "developer" in roles or "reasoning_effort" in body:
        return "developer-reasoning"
    return "text"  # also for a non-streaming tools request: there is no such sample


def _openai_responses(seen: Seen, body: dict[str, Any]) -> str:
    if body.get("stream") is True:
        return "function-call-stream" if body.get("tools") else "stream"
    if _has_type(body.get("input"), "function_call_output"):
        return "function-call-output"
    if body.get("tools"):
        return "items-tools-reasoning"
    return "string-input"


def _gemini(seen: Seen, body: dict[str, Any]) -> str:
    match = _GEMINI_PATH.match(seen.path.split("?", 1)[0])
    if match and match["method"] == "streamGenerateContent":
        return "stream"
    contents = body.get("contents")
    if _has_key(contents, "functionResponse") or _has_key(contents, "function_response"):
        return "function-response"
    if body.get("tools"):
        return "tools-thinking"
    if _has_key(contents, "inlineData") or _has_key(contents, "inline_data"):
        return "image-input"
    return "generate"


def _mistral(seen: Seen, body: dict[str, Any]) -> str:
    if body.get("stream") is True:
        return "tools-stream" if body.get("tools") else "chat-stream"
    return "chat"


def _groq(seen: Seen, body: dict[str, Any]) -> str:
    return "chat-stream" if body.get("stream") is True else "chat"


def _ollama(seen: Seen, body: dict[str, Any]) -> str:
    if seen.path.split("?", 1)[0] == "/v1/chat/completions":
        return "openai-compat-stream" if body.get("stream") is True else "openai-compat"
    if body.get("stream", True) is not False:  # the native server streams unless told not to
        return "tools-stream" if body.get("tools") else "chat-stream"
    return "chat"


def _embeddings(seen: Seen, body: dict[str, Any]) -> str:
    return "explicit-float" if body.get("encoding_format") == "float" else "default-base64"


_CHOOSERS: dict[str, Callable[[Seen, dict[str, Any]], str]] = {
    "anthropic": _anthropic,
    "cohere": _mistral,  # same decision: stream with or without tools, else the plain chat
    "gemini": _gemini,
    "groq": _groq,
    "mistral": _mistral,
    "ollama": _ollama,
    "openai-audio": lambda seen, body: "speech",
    "openai-chat": _openai_chat,
    "openai-embeddings": _embeddings,
    "openai-responses": _openai_responses,
}


def _headers_for(
    provider: str, scenario: str, path: Path, root: Path
) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers: the scenario's own set, else the provider's set for the same kind of body."""
    sets: dict[str, dict[str, Any]] = json.loads((root / "response-headers.json").read_text()).get(
        provider, {}
    )
    error = re.match(r"error-(\d{3})$", scenario)
    status = int(error[1]) if error else 200
    if scenario in sets:
        chosen = sets[scenario]
        return chosen["status"], [(k, v) for k, v in chosen["headers"]]
    kind = _content_kind(path.suffix)
    candidates = [
        (name, s)
        for name, s in sets.items()
        if s["status"] == 200 and _content_kind_of(s["headers"]) == kind
    ]
    if not candidates:
        return status, [("content-type", _CONTENT_TYPES[kind])]
    _, best = max(candidates, key=lambda c: len(_common_prefix(c[0], scenario)))
    return status, [(k, v) for k, v in best["headers"]]


_CONTENT_TYPES = {
    "json": "application/json",
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
    "audio": "audio/mpeg",
}


def _content_kind(suffix: str) -> str:
    return {".sse": "sse", ".ndjson": "ndjson", ".mp3": "audio"}.get(suffix, "json")


def _content_kind_of(headers: list[list[str]]) -> str:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if "event-stream" in ctype:
        return "sse"
    if "ndjson" in ctype:
        return "ndjson"
    if ctype.startswith("audio/"):
        return "audio"
    return "json"


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
