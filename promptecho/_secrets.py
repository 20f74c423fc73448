"""What the user asks to redact (``redact=[...]`` rules), body-path redaction, and the secret scan.

A rule is ``"<where>:<what>"``:

- ``header:x-my-key``: a request header whose value is replaced by ``<redacted>``;
- ``query:sig``: a URL query parameter, likewise;
- ``request:messages[*].content``: a path into the canonical request body (what the
  cassette stores as ``request.body``);
- ``response:choices[*].message.content``: a path into the response body (a JSON body,
  or the ``data`` of every SSE/NDJSON event).

A path is dot-separated object keys, each optionally followed by ``[*]`` (every item of a
list) or ``[N]`` (item N); ``*`` alone as a key means every value of an object. A value found
at a path is replaced by ``<redacted:`` + the first 12 hex digits of its SHA-256 + ``>``:
the same value always gives the same marker, so recordings still match, re-records give no
diff, and different values stay distinguishable. A path that is absent is ignored.

Before anything is written, `find_secret` scans the encoded interaction with one compiled
regex for well-known key shapes, and for the exact values the header and query redaction
just removed; only on a hit does it walk the interaction to name the JSON path.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import msgspec

from ._cassette import Interaction, Json, Ndjson, Sse
from ._paths import Path, parse_path, replace
from ._types import JSON

__all__ = [
    "BodyPath",
    "Rules",
    "SecretHit",
    "find_secret",
    "marker",
    "parse_rules",
    "redact_json",
    "redact_response_body",
]

_WHERE = ("header", "query", "request", "response")
_MARKER = re.compile(r"<redacted:[0-9a-f]{12}>")
_sorted = msgspec.json.Encoder(order="sorted")
_encoder = msgspec.json.Encoder()


BodyPath = Path
"""A parsed body path of a ``request:`` or ``response:`` rule (see `promptecho._paths`)."""


class Rules(NamedTuple):
    """``redact=[...]`` split by where each rule applies."""

    headers: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    request: tuple[BodyPath, ...] = ()
    response: tuple[BodyPath, ...] = ()


def parse_rules(rules: Sequence[str]) -> Rules:
    """Split and validate ``redact`` rules; raise ``ValueError`` naming a bad one.

    >>> parse_rules(["header:x-key", "response:choices[*].message.content"]).headers
    ('x-key',)
    """
    if isinstance(rules, str):
        raise ValueError(f"redact must be a sequence of rules, not the string {rules!r}")
    found: dict[str, list[str]] = {w: [] for w in _WHERE}
    paths: dict[str, list[BodyPath]] = {"request": [], "response": []}
    for rule in rules:
        where, sep, what = rule.partition(":") if isinstance(rule, str) else ("", "", "")
        if not sep or where not in _WHERE or not what:
            raise ValueError(
                f"{rule!r} is not a valid redact rule. Write 'header:NAME', 'query:NAME', "
                "'request:PATH' or 'response:PATH' (e.g. 'response:choices[*].message.content')."
            )
        if where in paths:
            paths[where].append(_parse_path(rule, what))
        else:
            found[where].append(what)
    return Rules(
        tuple(found["header"]),
        tuple(found["query"]),
        tuple(paths["request"]),
        tuple(paths["response"]),
    )


def _parse_path(rule: str, text: str) -> BodyPath:
    try:
        return parse_path(text)
    except ValueError as err:
        raise ValueError(f"redact rule {rule!r}: {err}") from None


def marker(value: JSON) -> str:
    """The stable stand-in for a redacted value; a marker is its own marker.

    >>> marker("hello")
    '<redacted:2cf24dba5fb0>'
    """
    if isinstance(value, str):
        if _MARKER.fullmatch(value):
            return value
        data = value.encode()
    else:
        data = _sorted.encode(value)
    return f"<redacted:{hashlib.sha256(data).hexdigest()[:12]}>"


def redact_json(value: JSON, paths: Iterable[BodyPath]) -> JSON:
    """``value`` with what each path names replaced by its `marker` (a copy where it changes)."""
    for path in paths:
        value = replace(value, path.steps, marker)
    return value


def redact_response_body(body: msgspec.Struct, paths: Sequence[BodyPath]) -> msgspec.Struct:
    """A response body with ``paths`` redacted in its JSON value or in each event's data."""
    if not paths:
        return body
    if isinstance(body, Json):
        return msgspec.structs.replace(body, value=redact_json(body.value, paths))
    if isinstance(body, Sse | Ndjson):
        events = [
            msgspec.structs.replace(e, data=redact_json(e.data, paths))
            if isinstance(e.data, dict | list)
            else e
            for e in body.events
        ]
        return msgspec.structs.replace(body, events=events)
    return body  # Text, Binary, Empty: no structure to follow


# -- the scan ---------------------------------------------------------------------------------

# Ordered most specific first: the first alternative that matches names the kind.
_KINDS = {
    "anthropic": rb"sk-ant-[A-Za-z0-9_-]{20,}",
    "openai": rb"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "google": rb"AIza[0-9A-Za-z_-]{35}",
    "aws": rb"(?:AKIA|ASIA)[0-9A-Z]{16}",
    "github": rb"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    "bearer": rb"[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*",
}


@functools.cache
def _shapes() -> re.Pattern[bytes]:
    # Compiled on first use: a run that only replays never scans anything.
    return re.compile(
        rb"(?<![A-Za-z0-9_-])(?:"
        + b"|".join(b"(?P<%s>%s)" % (k.encode(), p) for k, p in _KINDS.items())
        + b")"
    )


_ORDER = {kind: n for n, kind in enumerate(_KINDS)}

# Generic shapes are only keys when they look random: prose such as "sk-learn-compatible-
# estimators" or "Bearer YOUR_TOKEN_HERE" is not.
_NEEDS_ENTROPY = frozenset({"openai", "anthropic", "bearer"})


class SecretHit(NamedTuple):
    """Where a secret would have been written, and what kind it looks like."""

    path: str
    kind: str


def find_secret(
    interaction: Interaction, removed: Sequence[str] = (), *, encoded: bytes | None = None
) -> SecretHit | None:
    """The first secret in ``interaction``: a well-known key shape, or one of ``removed``.

    ``removed`` are the values the header and query redaction took out of this request; they
    must not come back anywhere else (an echoed header, a URL in a response body).
    ``encoded`` is the interaction's compact JSON when the caller has it already.
    """
    data = _encoder.encode(interaction) if encoded is None else encoded
    kinds = _kinds_in(data)
    values = [v for v in removed if len(v) >= 8 and _json_text(v) in data]
    if not kinds and not values:
        return None
    tree = msgspec.to_builtins(interaction)
    for path, text in _strings(tree, "$"):
        for kind in kinds:
            if _has_kind(text.encode(), kind):
                return SecretHit(path, kind)
        for value in values:
            if value in text:
                return SecretHit(path, "the value of a redacted header or query parameter")
    # Found in the encoding but in no single string (a JSON escape split it): name the whole.
    return SecretHit(
        "$", kinds[0] if kinds else "the value of a redacted header or query parameter"
    )


# Where a shape could start. The shapes' regex, with its lookbehind and alternation, costs
# ~50 µs per KB when it scans; these literal searches run at memory speed, and the shapes
# are tried only where one matched. Four searches, not one per prefix: each is a pass over
# the interaction (~2.5 µs for 3.5 KB). ("gh" alone would be in "thought".) A search match
# inside another one cannot hide a key: the byte before a key must not be a key byte.
_STARTS = (
    (re.compile(rb"sk-"), 0),
    (re.compile(rb"A(?:Iza|KIA|SIA)"), 0),
    (re.compile(rb"gh[pousr]_|github_pat_"), 0),
    (re.compile(rb"earer"), 1),  # Bearer, bearer: one byte before
)


def _kinds_in(data: bytes) -> list[str]:
    kinds: list[str] = []
    shapes = None
    for search, back in _STARTS:
        for found in search.finditer(data):
            at = found.start() - back
            if at < 0:
                continue
            shapes = shapes or _shapes()
            match = shapes.match(data, at)  # the lookbehind still sees the byte before
            if match is not None:
                kind = match.lastgroup
                assert kind is not None
                if kind not in kinds and (
                    kind not in _NEEDS_ENTROPY or _random_looking(kind, match.group())
                ):
                    kinds.append(kind)
    # In the order the shapes are listed, as a scan from the start would not promise.
    return sorted(kinds, key=_ORDER.__getitem__)


def _has_kind(text: bytes, kind: str) -> bool:
    return kind in _kinds_in(text)


def _random_looking(kind: str, token: bytes) -> bool:
    tail = token.split(None, 1)[-1] if kind == "bearer" else token[3:]
    return (
        any(c in b"0123456789" for c in tail)
        and any(c in b"abcdefghijklmnopqrstuvwxyz" for c in tail)
        and any(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in tail)
    )


def _json_text(value: str) -> bytes:
    return _encoder.encode(value)[1:-1]


def _strings(value: JSON, path: str) -> Iterable[tuple[str, str]]:
    # Iterative: a hostile body may nest deeper than the recursion limit.
    stack = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            for key, item in reversed(node.items()):
                yield where, str(key)
                stack.append((f"{where}.{key}", item))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(node))))
