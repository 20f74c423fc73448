"""The canonical request: what a request body means, whatever wire format carried it.

``canonicalize_request`` turns the bytes of a request into a ``Canonical``: the API family,
whether a stream was asked for, and the canonical body as plain data (what the cassette
stores as ``request.body`` and what ``_match.select`` picks the match key from).

A dialect is chosen from the URL host first, then the URL path, then the body shape, so
a gateway on localhost behaves like the brand-name host it fronts. Each wire format has a
pure module in ``_dialects``, loaded on first use; each builds the canonical body as
plain data directly. ``_dialects._schema`` describes that shape as msgspec Structs (the
tests validate every canonical body against them); nothing imports it at run time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Callable, Mapping
from typing import Any, cast

import msgspec

from ._types import JSON
from ._url import split_url

__all__ = [
    "CHAT_APIS",
    "Canonical",
    "canonicalize",
    "canonicalize_request",
    "register_normalizer",
]


class Canonical(msgspec.Struct, frozen=True):
    """A request as promptecho understands it.

    ``api`` names the wire format (``"anthropic"``, ``"openai-chat"``...), or says that no
    normalizer knew the body: ``"json"`` (the body is the JSON value itself), ``"bytes"``
    (the body is ``{"sha256": ..., "size": ...}``) or ``"empty"`` (the body is ``None``).
    ``unparsed`` says why a body sent to an endpoint that names a wire format was kept as
    plain JSON instead: ``"not parsed as anthropic: messages[]: expected an object..."``.
    """

    api: str
    stream: bool
    body: JSON
    unparsed: str | None = None


def canonicalize(url: str, body: JSON) -> dict[str, JSON]:
    """The canonical form of a parsed JSON request body, as plain data.

    This is what promptecho stores as a cassette's ``request.body`` and what ``match_on``
    names refer to: ``model``, ``system`` (one string), ``messages`` (roles ``user``,
    ``assistant`` and ``tool``, each with a list of typed content parts), ``tools`` (sorted
    by name), ``tool_choice``, the reasoning knobs ``reasoning_effort``, ``reasoning`` and
    ``thinking``, ``output_format``, ``state``, and every other parameter under ``params``.
    Fields at their default are left out. A body that no normalizer recognises is returned
    unchanged.

    ``output_format`` is the structured output asked for, whatever the provider's knob:
    ``{"type": "json_schema", "name": ..., "description": ..., "schema": {...}, "strict":
    True}`` (the schema with lower-case types; ``name``, ``description`` and ``strict`` only
    where the wire carries them), ``{"type": "json"}`` for any JSON object, or another MIME
    type Gemini was asked for (``{"type": "text/x.enum", "schema": ...}``). Plain text, the
    default, leaves it out. ``state`` holds the input a provider keeps for the conversation,
    each under its snake_case name: ``previous_response_id``, ``conversation`` (the id),
    ``prompt``, ``item_references`` (ids, in order), ``truncation``, ``cached_content``,
    ``container``, ``mcp_servers``, ``context_management``, ``documents``, ``context``,
    ``suffix``, ``template``, ``prompt_variables``, ``agent_id``. Both are in ``DEFAULT_MATCH_ON``.

    Parameters
    ----------
    url : str
        The request URL. It picks the wire format (and, for Gemini, gives the model).
    body : JSON
        The decoded JSON request body; it must be an object.

    Returns
    -------
    dict
        The canonical request.

    Raises
    ------
    ValueError
        If ``body`` is not a JSON object, or a registered normalizer fails.

    Examples
    --------
    >>> import promptecho
    >>> promptecho.canonicalize(
    ...     "https://api.openai.com/v1/chat/completions",
    ...     {"model": "gpt-4.1-mini", "max_tokens": 64, "messages": [
    ...         {"role": "system", "content": "Be brief."},
    ...         {"role": "user", "content": "Say hello."}]},
    ... )  # doctest: +NORMALIZE_WHITESPACE
    {'model': 'gpt-4.1-mini', 'system': 'Be brief.',
     'messages': [{'role': 'user', 'content': [{'kind': 'text', 'text': 'Say hello.'}]}],
     'params': {'max_tokens': 64}}
    """
    if type(body) is not dict:
        raise ValueError(
            f"canonicalize() takes a decoded JSON object (a request body), "
            f"got {type(body).__name__}"
        )
    return _canonical_of(url, body).body  # type: ignore[no-any-return]


def canonicalize_request(url: str, body: bytes, content_type: str | None) -> Canonical:
    """The canonical request of raw request bytes; never raises but ``ValueError``."""
    if not body:
        return Canonical(api="empty", stream=False, body=None)
    if content_type is not None and content_type != "application/json":
        mime = content_type.partition(";")[0].strip().lower()
        if mime.startswith("multipart/"):
            return _bytes(_without_boundary(body, content_type), len(body))
        if mime and "json" not in mime and not mime.startswith("text/"):
            return _bytes(body, len(body))
    try:
        value = _decode(body)
    except (msgspec.DecodeError, RecursionError):
        return _bytes(body, len(body))
    if type(value) is not dict:
        return Canonical(api="json", stream=False, body=value)
    return _canonical_of(url, value)


def register_normalizer(
    detect: Callable[[str, JSON], bool],
    normalize: Callable[[str, JSON], Mapping[str, JSON]],
    *,
    api: str = "custom",
) -> None:
    """Teach promptecho the request format of an in-house gateway.

    Registered normalizers are tried before the built-in ones, in the order they were
    registered. The default ``match_on`` names (``model``, ``messages``...) apply to what
    ``normalize`` returns; when it returns none of them, the whole result is matched.

    Parameters
    ----------
    detect : callable
        ``detect(url, body) -> bool``: whether this normalizer handles the request.
        ``body`` is the decoded JSON object.
    normalize : callable
        ``normalize(url, body) -> Mapping``: the canonical request as plain data (Structs
        and tuples are converted). Leave volatile fields (request ids, timestamps) out.
    api : str
        The name stored as the cassette's ``request.api``.

    Examples
    --------
    >>> import promptecho
    >>> def is_gateway(url, body):
    ...     return "/gateway/v1/generate" in url
    >>> def normalize(url, body):
    ...     return {"model": body["engine"], "messages": [
    ...         {"role": "user", "content": [{"kind": "text", "text": body["query"]}]}]}
    >>> promptecho.register_normalizer(is_gateway, normalize, api="acme-gateway")
    """
    if not callable(detect) or not callable(normalize):
        raise ValueError(
            "register_normalizer() needs two callables: detect(url, body) and normalize(url, body)"
        )
    if type(api) is not str or not api:
        raise ValueError(f"api must be a non-empty string, got {api!r}")
    _CUSTOM.append((detect, normalize, api))


# Implementation details

_decode = msgspec.json.decode
_to_builtins = msgspec.to_builtins

# The one piece of mutable module state, because the public contract registers globally.
_CUSTOM: list[
    tuple[Callable[[str, JSON], bool], Callable[[str, JSON], Mapping[str, JSON]], str]
] = []


def _body_stream(url: str, body: dict[str, JSON]) -> bool:
    return body.get("stream") is True


def _ollama_stream(url: str, body: dict[str, JSON]) -> bool:
    return body.get("stream") is not False  # Ollama's server streams unless told not to


def _anthropic_stream(url: str, body: dict[str, JSON]) -> bool:
    return body.get("stream") is True or bool(_function("anthropic", "stream_from_url")(url))


def _gemini_stream(url: str, body: dict[str, JSON]) -> bool:
    return bool(_function("gemini", "stream_from_url")(url))


def _converse_stream(url: str, body: dict[str, JSON]) -> bool:
    return bool(_function("bedrock", "stream_from_url")(url))


def _speech_stream(url: str, body: dict[str, JSON]) -> bool:
    return body.get("stream_format") == "sse"


def _never(url: str, body: dict[str, JSON]) -> bool:
    return False


@functools.cache
def _function(module: str, name: str) -> Callable[..., Any]:
    # Dialect modules load on first use: a suite that talks to one provider, or replays
    # only, does not pay for importing all of them.
    return cast(
        Callable[..., Any],
        getattr(importlib.import_module(f"{__package__}._dialects.{module}"), name),
    )


class _Dialect:  # a plain class: a NamedTuple costs more to create at import time
    __slots__ = ("api", "function", "module", "stream")

    def __init__(
        self,
        api: str,
        module: str,  # in promptecho._dialects
        function: str,  # parse(body, url) -> canonical body
        stream: Callable[[str, dict[str, JSON]], bool] = _body_stream,
    ) -> None:
        self.api = api
        self.module = module
        self.function = function
        self.stream = stream

    def parse(self, body: dict[str, JSON], url: str) -> dict[str, JSON]:
        return cast(dict[str, JSON], _function(self.module, self.function)(body, url))


_ANTHROPIC = _Dialect("anthropic", "anthropic", "parse", _anthropic_stream)
_OPENAI_CHAT = _Dialect("openai-chat", "openai_chat", "parse")
_OPENAI_RESPONSES = _Dialect("openai-responses", "openai_responses", "parse")
_GEMINI = _Dialect("gemini", "gemini", "parse", _gemini_stream)
_CONVERSE = _Dialect("bedrock-converse", "bedrock", "parse", _converse_stream)
# Bedrock count-tokens wraps another body: ``parse`` hands back the URL and body it wraps.
_COUNT_TOKENS = _Dialect("bedrock-count-tokens", "bedrock", "unwrap_count_tokens", _never)
_COHERE = _Dialect("cohere", "cohere", "parse")
_OLLAMA_CHAT = _Dialect("ollama-chat", "ollama", "parse_chat", _ollama_stream)
_OLLAMA_GENERATE = _Dialect("ollama-generate", "ollama", "parse_generate", _ollama_stream)
_EMBEDDINGS = _Dialect("embeddings", "embeddings", "parse", _never)
_GEMINI_EMBEDDINGS = _Dialect("embeddings", "embeddings", "parse_gemini", _never)
_SPEECH = _Dialect("speech", "speech", "parse", _speech_stream)

CHAT_APIS = frozenset(
    d.api
    for d in (
        _ANTHROPIC,
        _OPENAI_CHAT,
        _OPENAI_RESPONSES,
        _GEMINI,
        _CONVERSE,
        _COHERE,
        _OLLAMA_CHAT,
        _OLLAMA_GENERATE,
    )
)
"""The API families whose canonical body is a chat request (`DEFAULT_MATCH_ON` applies)."""

# Hosts that speak one chat wire format; their embeddings and OpenAI-compatibility
# endpoints are left to the path rules.
_HOSTS: dict[str, _Dialect] = {
    "api.anthropic.com": _ANTHROPIC,
    "api.cohere.com": _COHERE,
    "api.cohere.ai": _COHERE,
    "generativelanguage.googleapis.com": _GEMINI,
}
_NOT_BY_HOST = (
    "/chat/completions",
    "/embed",
    "/embeddings",
    ":embedContent",
    ":batchEmbedContents",
)
# Path endings; the first that matches wins, so longer endings come first.
_PATHS: tuple[tuple[str, _Dialect], ...] = (
    ("/chat/completions", _OPENAI_CHAT),
    ("/messages/count_tokens", _ANTHROPIC),
    ("/messages", _ANTHROPIC),
    ("/responses", _OPENAI_RESPONSES),
    ("/api/chat", _OLLAMA_CHAT),
    ("/api/generate", _OLLAMA_GENERATE),
    ("/v2/chat", _COHERE),
    ("/embeddings", _EMBEDDINGS),
    ("/api/embed", _EMBEDDINGS),
    ("/embed", _EMBEDDINGS),
    ("/audio/speech", _SPEECH),
    ("/converse", _CONVERSE),  # Bedrock: /model/{id}/converse
    ("/converse-stream", _CONVERSE),
    ("/count-tokens", _COUNT_TOKENS),
)
# Google-style ``resource:method`` paths (Gemini, and Vertex for every publisher).
_METHODS: dict[str, _Dialect] = {
    "generateContent": _GEMINI,
    "streamGenerateContent": _GEMINI,
    "countTokens": _GEMINI,
    "embedContent": _GEMINI_EMBEDDINGS,
    "batchEmbedContents": _GEMINI_EMBEDDINGS,
}


def _canonical_of(url: str, body: dict[str, JSON]) -> Canonical:
    if _CUSTOM:
        custom = _custom(url, body)
        if custom is not None:
            return custom
    named = _by_url(url)  # host, then path, then body shape: a gateway is known by path or shape
    dialect = named if named is not None else _by_shape(body)
    if dialect is not None:
        try:
            canonical = dialect.parse(body, url)
        except _REJECTED as err:
            # A known shape with wrong types: match it as plain JSON rather than fail the test,
            # and say why when the URL named the wire format (a shape is only a guess).
            if named is not None:
                return Canonical(
                    api="json",
                    stream=body.get("stream") is True,
                    body=body,
                    unparsed=f"not parsed as {named.api}: {_reason(err)}",
                )
        else:
            if dialect is _COUNT_TOKENS:  # parsed as what it wraps; counting never streams
                inner = _canonical_of(*cast(tuple[str, dict[str, JSON]], canonical))
                return Canonical(
                    api=inner.api, stream=False, body=inner.body, unparsed=inner.unparsed
                )
            return Canonical(api=dialect.api, stream=dialect.stream(url, body), body=canonical)
    return Canonical(api="json", stream=body.get("stream") is True, body=body)


_REJECTED = (ValueError, TypeError, KeyError, AttributeError, RecursionError)


def _reason(err: Exception) -> str:
    """Why a dialect rejected a body, in one short line."""
    if type(err) is KeyError:
        reason = f"no {err.args[0]!r} field" if err.args else "a field is missing"
    elif isinstance(err, ValueError):  # Malformed: the message names the place
        reason = str(err)
    else:
        reason = f"{type(err).__name__}: {err}"
    return reason if len(reason) <= 160 else reason[:157] + "..."


@functools.lru_cache(maxsize=256)  # a test session posts to a handful of URLs, many times
def _by_url(url: str) -> _Dialect | None:
    host, path = _split(url)
    dialect = _HOSTS.get(host)
    if dialect is not None and not path.endswith(_NOT_BY_HOST):
        return dialect
    method = path.rpartition("/")[2].partition(":")[2]
    if method:
        dialect = _METHODS.get(method)
        if dialect is not None:
            return dialect
    for ending, dialect in _PATHS:
        if path.endswith(ending):
            return dialect
    return None


def _by_shape(body: dict[str, JSON]) -> _Dialect | None:
    """The dialect a body's keys suggest (Bedrock ``invoke``, Vertex ``rawPredict``, proxies)."""
    if "contents" in body:
        return _GEMINI
    if "messages" in body:
        if (
            "inferenceConfig" in body
            or "toolConfig" in body
            or "additionalModelRequestFields" in body
        ):
            return _CONVERSE  # Bedrock Converse behind a proxy: camelCase config blocks
        if "anthropic_version" in body or "system" in body or "stop_sequences" in body:
            return _ANTHROPIC
        if "options" in body or "think" in body or "keep_alive" in body:
            return _OLLAMA_CHAT
        return _OPENAI_CHAT
    if "input" in body:
        if "voice" in body:
            return _SPEECH
        if "encoding_format" in body or "dimensions" in body:
            return _EMBEDDINGS
        return _OPENAI_RESPONSES
    if "instructions" in body:
        return _OPENAI_RESPONSES
    if "prompt" in body and ("options" in body or "images" in body or "keep_alive" in body):
        return _OLLAMA_GENERATE
    return None


def _split(url: str) -> tuple[str, str]:
    """The host (lower case, no port) and the path (no query, no trailing slash).

    A few string operations: cheaper than ``urlsplit`` on every request.
    """
    parts = split_url(url)
    return parts.host, parts.path.rstrip("/")


def _custom(url: str, body: dict[str, JSON]) -> Canonical | None:
    for detect, normalize, api in _CUSTOM:
        try:
            if not detect(url, body):
                continue
            result = _to_builtins(dict(normalize(url, body)))
        except Exception as err:
            name = getattr(normalize, "__qualname__", repr(normalize))
            raise ValueError(
                f"the registered normalizer {name} for api {api!r} failed on {url}: {err!r}"
            ) from err
        return Canonical(api=api, stream=body.get("stream") is True, body=result)
    return None


def _bytes(body: bytes, size: int) -> Canonical:
    return Canonical(
        api="bytes", stream=False, body={"sha256": hashlib.sha256(body).hexdigest(), "size": size}
    )


def _without_boundary(body: bytes, content_type: str) -> bytes:
    """Multipart bytes with the random boundary replaced, so equal uploads hash equal."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return body.replace(
                value.strip('"').encode("latin-1", "replace"), b"promptecho-boundary"
            )
    return body
