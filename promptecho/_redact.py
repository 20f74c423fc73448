"""What never reaches a cassette: secret header values, secret query parameters, URL userinfo.

A request header is secret when it is in `SECRET_HEADERS` (or the user's list) or when its
name says so (key, token, secret, auth, password, credential), except the rate-limit and
usage headers whose names count tokens. A query parameter is secret when it is in
`SECRET_QUERY` (or the user's list). Userinfo (``https://user:pass@host/``) is taken out of
every stored URL, the request's and a response's ``Location``.

Each removed value is remembered, with its bare parts (the credential after the scheme of
``Bearer``/``Token``/``Basic``..., a ``Basic`` credential's decoded user and password, the
values of ``k=v`` parameters), so that the scan of `promptecho._secrets` refuses it anywhere
else in the cassette.

Request headers are also thinned to the ones worth reviewing: transport and
environment headers (``host``, ``user-agent``, ``x-stainless-*``, retry counters,
idempotency keys) change between identical calls and would only make diffs.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

from ._types import Headers
from ._url import split_url

if TYPE_CHECKING:
    from ._secrets import BodyPath

__all__ = [
    "DEFAULT_REDACTION",
    "MARKER",
    "SECRET_HEADERS",
    "SECRET_QUERY",
    "SECRET_RESPONSE_HEADERS",
    "Redaction",
    "credential_parts",
    "redact_request_headers",
    "redact_response_headers",
    "redact_url",
    "says_secret",
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
SECRET_QUERY = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        # signed URLs: AWS SigV4 presigning, Google Cloud Storage V4, Azure SAS
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "sig",
    }
)
# A header whose name says it carries a credential (x-amz-security-token, helicone-auth,
# ocp-apim-subscription-key, x-portkey-api-key...). Rate-limit and usage headers count
# tokens: those words are taken out of the name before it is read.
_SECRET_WORD = re.compile(r"key|token|secret|auth|passw|credential")
_COUNTING = re.compile(r"rate-?limit|usage|[-_]tokens(?=$|[-_])")
_RESPONSE_URL_HEADERS = frozenset({"location", "content-location"})

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
        if lname in redaction.headers or says_secret(lname):
            if secrets is not None and value:
                secrets.extend(credential_parts(value))
            value = MARKER
        kept[lname] = f"{kept[lname]}, {value}" if lname in kept else value
    return kept


@functools.lru_cache(maxsize=512)  # the same few names on every recorded request
def says_secret(name: str) -> bool:
    """Whether a lower-cased header name says it holds a credential.

    >>> says_secret("x-amz-security-token"), says_secret("anthropic-ratelimit-tokens-remaining")
    (True, False)
    """
    return _SECRET_WORD.search(_COUNTING.sub("", name)) is not None


def credential_parts(value: str) -> list[str]:
    """A secret header value and the bare credentials inside it, for the scan to refuse.

    >>> credential_parts("Basic dXNlcjpwYXNz")
    ['Basic dXNlcjpwYXNz', 'dXNlcjpwYXNz', 'user:pass', 'user', 'pass']
    """
    parts = [value]
    scheme, space, rest = value.strip().partition(" ")
    rest = rest.strip()
    if not space or not rest or not scheme.replace("-", "").isalnum():
        return parts
    parts.append(rest)  # Bearer <key>, Token <key>, ...: a server may echo the bare key
    if scheme.lower() == "basic":
        try:
            decoded = binascii.a2b_base64(rest.encode("ascii"), strict_mode=True).decode()
        except (ValueError, UnicodeError):
            return parts
        user, colon, password = decoded.partition(":")
        parts.extend((decoded, user, password) if colon else (decoded,))
    elif "=" in rest:  # AWS4-HMAC-SHA256 Credential=AKIA.../..., Signature=...; Digest ...
        for param in rest.split(","):
            _, eq, item = param.strip().partition("=")
            item = item.strip('"')
            if eq and item:
                parts.append(item)
                if "/" in item:
                    parts.append(item.partition("/")[0])  # the access key id of a scope
    return [p for p in parts if p]


def redact_response_headers(headers: Headers, redaction: Redaction) -> dict[str, str]:
    """Lower-cased names; secret ones (``set-cookie``) and wire-encoding ones dropped.

    A redirect's ``location`` is redacted as a request URL is (userinfo, secret query
    parameters): a signed download URL is a credential.
    """
    kept: dict[str, str] = {}
    for name, value in headers:
        lname = name.lower()
        if lname in _UNSTORED_RESPONSE_HEADERS or lname in redaction.response_headers:
            continue
        if lname in _RESPONSE_URL_HEADERS:
            value = redact_url(value, redaction)
        kept[lname] = f"{kept[lname]}, {value}" if lname in kept else value
    return kept


def redact_url(url: str, redaction: Redaction, secrets: list[str] | None = None) -> str:
    """Replace userinfo and the values of secret query parameters; keep every other byte.

    >>> redact_url("https://u:p@h/x?key=k&n=1", DEFAULT_REDACTION)
    'https://<redacted>@h/x?key=<redacted>&n=1'
    """
    parts = split_url(url)
    userinfo, at_sign, host = parts.netloc.rpartition("@")
    if at_sign and parts.scheme is not None:
        if secrets is not None and userinfo:
            user, _, password = userinfo.partition(":")
            found = (unquote(userinfo), unquote(user), unquote(password))
            secrets.extend(p for p in found if p)
        parts = parts._replace(netloc=f"{MARKER}@{host}")
    if parts.query is None:
        return parts.join()
    kept = []
    for part in parts.query.split("&"):
        name, eq, value = part.partition("=")
        if eq and unquote_plus(name).lower() in redaction.query:
            if secrets is not None and value:
                secrets.append(unquote_plus(value))
            part = f"{name}={MARKER}"
        kept.append(part)
    return parts._replace(query="&".join(kept)).join()
