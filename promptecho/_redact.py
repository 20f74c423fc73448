"""What never reaches a cassette: secret header values and secret query parameters.

Request headers are also thinned to the ones worth reviewing: transport and
environment headers (``host``, ``user-agent``, ``x-stainless-*``, retry counters,
idempotency keys) change between identical calls and would only make diffs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from ._types import Headers

if TYPE_CHECKING:
    from ._secrets import BodyPath

__all__ = [
    "DEFAULT_REDACTION",
    "MARKER",
    "SECRET_HEADERS",
    "SECRET_QUERY",
    "SECRET_RESPONSE_HEADERS",
    "Redaction",
    "redact_request_headers",
    "redact_response_headers",
    "redact_url",
]

MARKER = "<redacted>"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
    }
)
SECRET_RESPONSE_HEADERS = frozenset({"set-cookie"})
SECRET_QUERY = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token"})

# Headers that change between identical calls or say only how the bytes travelled.
_UNSTORED_REQUEST_HEADERS = frozenset(
    {
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "accept-encoding",
        "user-agent",
        "idempotency-key",
        "x-idempotency-key",
        "traceparent",
        "tracestate",
    }
)
_UNSTORED_REQUEST_PREFIXES = ("x-stainless-",)
# Replay sends the decoded body, so the headers that described the wire bytes must go.
_UNSTORED_RESPONSE_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


class Redaction:
    """The names to redact: the built-in sets extended by the user's (never reduced).

    ``rules`` are the ``redact=[...]`` rules of `promptecho._secrets` ("header:NAME",
    "query:NAME", "request:PATH", "response:PATH").
    """

    __slots__ = ("headers", "query", "request_paths", "response_headers", "response_paths")

    def __init__(
        self,
        *,
        headers: Iterable[str] = (),
        query: Iterable[str] = (),
        response_headers: Iterable[str] = (),
        rules: Sequence[str] = (),
    ) -> None:
        self.request_paths: tuple[BodyPath, ...] = ()
        self.response_paths: tuple[BodyPath, ...] = ()
        if rules:
            from ._secrets import parse_rules  # body paths are rare: load their parser then

            parsed = parse_rules(rules)
            headers = [*headers, *parsed.headers]
            query = [*query, *parsed.query]
            self.request_paths, self.response_paths = parsed.request, parsed.response
        self.headers = _extended(SECRET_HEADERS, headers)
        self.query = _extended(SECRET_QUERY, query)
        self.response_headers = _extended(SECRET_RESPONSE_HEADERS, response_headers)


def _extended(names: frozenset[str], more: Iterable[str]) -> frozenset[str]:
    # Most transports add nothing: share the built-in set rather than copy it.
    return names | {n.lower() for n in more} if more else names


DEFAULT_REDACTION = Redaction()
"""The built-in sets alone: what most transports use, shared (a `Redaction` is never changed)."""


def redact_request_headers(
    headers: Headers, redaction: Redaction, secrets: list[str] | None = None
) -> dict[str, str]:
    """Lower-cased names, volatile ones dropped, secret values replaced by `MARKER`.

    The removed values are appended to ``secrets`` when given, so that a later scan can
    make sure they appear nowhere else in the cassette.
    """
    kept: dict[str, str] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in _UNSTORED_REQUEST_HEADERS or lname.startswith(_UNSTORED_REQUEST_PREFIXES):
            continue
        if lname in redaction.headers:
            if secrets is not None and value:
                secrets.append(value)
            value = MARKER
        kept[lname] = f"{kept[lname]}, {value}" if lname in kept else value
    return kept


def redact_response_headers(headers: Headers, redaction: Redaction) -> dict[str, str]:
    """Lower-cased names; secret ones (``set-cookie``) and wire-encoding ones dropped."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in _UNSTORED_RESPONSE_HEADERS or lname in redaction.response_headers:
            continue
        kept[lname] = f"{kept[lname]}, {value}" if lname in kept else value
    return kept


def redact_url(url: str, redaction: Redaction, secrets: list[str] | None = None) -> str:
    """Replace the values of secret query parameters; every other byte of the URL is kept."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hsep, fragment = query.partition("#")
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and unquote_plus(name).lower() in redaction.query:
            if secrets is not None and value:
                secrets.append(unquote_plus(value))
            part = f"{name}={MARKER}"
        parts.append(part)
    return f"{base}?{'&'.join(parts)}{hsep}{fragment}"
