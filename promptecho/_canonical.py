"""The canonical request: what a request body means, whatever wire format carried it.

``canonicalize_request`` turns the bytes of a request into a ``Canonical``: the API family,
whether a stream was asked for, and the canonical body as plain data (what the cassette
stores as ``request.body`` and what ``_match.select`` picks the match key from).

A dialect is chosen from the URL host first, then the URL path, then the body shape, so
a gateway on localhost behaves like the brand-name host it fronts. Each wire format has a
pure module in ``_dialects``; they all parse into the Structs of ``_dialects._schema``
(re-exported here), which turn into plain data once, at the end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import NamedTuple

import msgspec

from ._dialects import openai_chat
from ._dialects._common import Malformed
from ._dialects._schema import (
    Data,
    Document,
    Embedding,
    Image,
    Message,
    Other,
    Part,
    Request,
    Speech,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ._types import JSON

__all__ = [
    "Canonical",
    "Data",
    "Document",
    "Embedding",
    "Image",
    "Message",
    "Other",
    "Part",
    "Request",
    "Speech",
    "Text",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "canonicalize",
    "canonicalize_request",
    "register_normalizer",
]


class Canonical(msgspec.Struct, frozen=True):
    """A request as promptecho understands it.

    ``api`` names the wire format (``"anthropic"``, ``"openai-chat"``...), or says that no
    normalizer knew the body: ``"json"`` (the body is the JSON value itself), ``"bytes"``
    (the body is ``{"sha256": ..., "size": ...}``) or ``"empty"`` (the body is ``None``).
    """

    api: str
    stream: bool
    body: JSON


def canonicalize(url: str, body: JSON) -> dict[str, JSON]:
    """The canonical form of a parsed JSON request body, as plain data.

    This is what promptecho stores as a cassette's ``request.body`` and what ``match_on``
    names refer to: ``model``, ``system`` (one string), ``messages`` (roles ``user``,
    ``assistant`` and ``tool``, each with a list of typed content parts), ``tools`` (sorted
    by name), ``tool_choice``, the reasoning knobs ``reasoning_effort``, ``reasoning`` and
    ``thinking``, and every other parameter under ``params``. Fields at their default are
    left out. A body that no normalizer recognises is returned unchanged.

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


def canonicalize_request(method: str, url: str, body: bytes, content_type: str | None) -> Canonical:
    """The canonical request of raw request bytes; never raises but ``ValueError``."""
    if not body:
        return Canonical(api="empty", stream=False, body=None)
    mime = (content_type or "").partition(";")[0].strip().lower()
    if mime.startswith("multipart/"):
        return _bytes(_without_boundary(body, content_type or ""), len(body))
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


class _Dialect(NamedTuple):
    api: str
    parse: Callable[[dict[str, JSON], str], Request | Embedding | Speech]
    stream_by_default: bool = False


_OPENAI_CHAT = _Dialect("openai-chat", openai_chat.parse)

# Path endings, most specific first; the first that matches wins.
_PATHS: tuple[tuple[str, _Dialect], ...] = (("/chat/completions", _OPENAI_CHAT),)


def _canonical_of(url: str, body: dict[str, JSON]) -> Canonical:
    if _CUSTOM:
        custom = _custom(url, body)
        if custom is not None:
            return custom
    dialect = _detect(url, body)
    if dialect is not None:
        try:
            request = dialect.parse(body, url)
            canonical = _to_builtins(request)
        except (Malformed, TypeError, KeyError, AttributeError, ValueError, RecursionError):
            # A known shape with wrong types: match it as plain JSON rather than fail the test.
            pass
        else:
            stream = body.get("stream")
            if stream is None:
                stream = dialect.stream_by_default
            return Canonical(api=dialect.api, stream=stream is True, body=canonical)
    return Canonical(api="json", stream=body.get("stream") is True, body=body)


def _detect(url: str, body: dict[str, JSON]) -> _Dialect | None:
    path = _path(url)
    for ending, dialect in _PATHS:
        if path.endswith(ending):
            return dialect
    if type(body.get("messages")) is list:
        return _OPENAI_CHAT
    return None


def _path(url: str) -> str:
    """The path of a URL without query or trailing slash (cheaper than urlsplit)."""
    start = url.find("://")
    start = url.find("/", start + 3) if start >= 0 else url.find("/")
    if start < 0:
        return ""
    end = len(url)
    for stop in ("?", "#"):
        i = url.find(stop, start)
        if 0 <= i < end:
            end = i
    return url[start:end].rstrip("/")


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
