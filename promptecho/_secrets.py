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

Before anything is written, `find_secret` scans the encoded interaction for well-known key
shapes (literal prefix searches, then one compiled regex where a prefix is), for the exact
values the header and query redaction just removed, and for the values of key-named
environment variables; only on a hit does it walk the interaction to name the JSON path.
It also scans what the encoding hides: a binary body's bytes and a stream's joined data.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import msgspec

from ._cassette import (
    Binary,
    BinaryFrame,
    Event,
    Interaction,
    Json,
    Ndjson,
    Sse,
    WebSocketSession,
)
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

# Ordered most specific first: the first alternative that matches names the kind. Formats as
# the providers issue them and the common secret scanners (gitleaks, detect-secrets) match
# them; lengths are lower bounds where a provider has changed its length before.
_KINDS = {
    "anthropic": rb"sk-ant-[A-Za-z0-9_-]{20,}",
    "openrouter": rb"sk-or-v1-[0-9a-f]{64}",
    "deepseek": rb"sk-[0-9a-f]{32}(?![A-Za-z0-9_-])",
    "openai": rb"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "google": rb"AIza[0-9A-Za-z_-]{35}",
    "google-oauth": rb"ya29\.[0-9A-Za-z_-]{20,}",
    "aws": rb"(?:AKIA|ASIA)[0-9A-Z]{16}",
    "github": rb"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    "huggingface": rb"hf_[A-Za-z0-9]{30,}",
    "groq": rb"gsk_[A-Za-z0-9]{40,}",
    "xai": rb"xai-[A-Za-z0-9]{40,}",
    "perplexity": rb"pplx-[A-Za-z0-9]{40,}",
    "replicate": rb"r8_[A-Za-z0-9]{30,}",
    "fireworks": rb"fw_[A-Za-z0-9]{20,}",
    "bearer": rb"[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*",
}
_AWS_SECRET_KIND = "aws-secret"


@functools.cache
def _shapes() -> re.Pattern[bytes]:
    # Compiled on first use: a run that only replays never scans anything.
    return re.compile(
        b"|".join(b"(?P<%s>%s)" % (k.replace("-", "_").encode(), p) for k, p in _KINDS.items())
    )


_ORDER = {kind: n for n, kind in enumerate([*_KINDS, _AWS_SECRET_KIND])}
_GROUP = {kind.replace("-", "_"): kind for kind in _KINDS}

# A shape is only a key when it looks random: prose such as "sk-learn-compatible-estimators",
# "Bearer YOUR_TOKEN_HERE" or "hf_xxxx..." is not. Each kind needs the character classes its
# keys always have (d: digit, l: lower case, u: upper case) after its prefix.
_RANDOM = {
    "anthropic": (3, "dlu"),
    "openrouter": (9, "dl"),
    "deepseek": (3, "dl"),
    "openai": (3, "dlu"),
    "google-oauth": (5, "dlu"),
    "huggingface": (3, "lu"),
    "groq": (4, "dlu"),
    "xai": (4, "dlu"),
    "perplexity": (5, "dlu"),
    "replicate": (3, "dlu"),
    "fireworks": (3, "dlu"),
    "bearer": (0, "dlu"),
}
_CLASSES = {
    "d": b"0123456789",
    "l": b"abcdefghijklmnopqrstuvwxyz",
    "u": b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
}
_KEY_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HEX_BYTES = frozenset(b"0123456789abcdefABCDEF")

# An AWS secret access key has no prefix: 40 base64 characters. It counts next to what names
# it, a ``secret_access_key`` / ``SecretAccessKey`` label or an access key id, within
# `_AWS_WINDOW` bytes; anywhere else 40 such characters are as likely an etag or a hash.
_AWS_SECRET = re.compile(rb"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
_AWS_WINDOW = 256

# Environment variables whose values count as removed values: never written, whatever their
# shape (OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, MY_SERVICE_SECRET...).
_CONFIGURED_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")  # _API_KEY, _ACCESS_KEY end in _KEY
_CONFIGURED_SUFFIXES_B = tuple(s.encode() for s in _CONFIGURED_SUFFIXES)
_CONFIGURED_MIN = 12
_REMOVED_MIN = 8
_REMOVED_KIND = "the value of a redacted header or query parameter"
_CONFIGURED_KIND = "the value of a configured key (an environment variable)"


class SecretHit(NamedTuple):
    """Where a secret would have been written, and what kind it looks like.

    ``url`` is the request URL with every secret in it masked: what an error may print.
    """

    path: str
    kind: str
    url: str = ""


def find_secret(
    interaction: Interaction | WebSocketSession,
    removed: Sequence[str] = (),
    *,
    encoded: bytes | None = None,
) -> SecretHit | None:
    """The first secret in ``interaction``: a well-known key shape, or one of ``removed``.

    ``removed`` are the values the header and query redaction took out of this request; they
    must not come back anywhere else (an echoed header, a URL in a response body). The values
    of environment variables named ``*_KEY``, ``*_TOKEN`` or ``*_SECRET`` (12 characters or
    more) count as removed too. ``encoded`` is the interaction's compact JSON when the caller
    has it already.

    What is scanned is what the text says: a key after a JSON escape (``\\n``) is found, a
    key split across the events of a stream is found in their joined data, and a binary body
    is scanned as its decoded bytes.
    """
    data = _encoder.encode(interaction) if encoded is None else encoded
    configured = _configured()
    candidates = [(v, _REMOVED_KIND) for v in removed if len(v) >= _REMOVED_MIN]
    candidates += [(v, _CONFIGURED_KIND) for v in configured]
    hit = _find_in_encoding(interaction, data, candidates)
    if isinstance(interaction, WebSocketSession):
        hit = hit or _find_in_frames(interaction, candidates)
        url = interaction.path
    else:
        hit = hit or _find_in_extras(interaction, candidates)
        url = interaction.request.url
    if hit is None:
        return None
    return hit._replace(url=_masked(url, [v for v, _ in candidates]))


def _find_in_encoding(
    interaction: Interaction | WebSocketSession, data: bytes, candidates: list[tuple[str, str]]
) -> SecretHit | None:
    kinds = _kinds_in(data)
    values = [(v, kind) for v, kind in candidates if _json_text(v) in data]
    if not kinds and not values:
        return None
    tree = msgspec.to_builtins(interaction)
    for path, text in _strings(tree, "$"):
        for kind in kinds:
            if _has_kind(text.encode(), kind):
                return SecretHit(path, kind)
        for value, what in values:
            if value in text:
                return SecretHit(path, what)
    # Found in the encoding but in no single string (a JSON escape split it): name the whole.
    return SecretHit("$", kinds[0] if kinds else values[0][1])


def _find_in_extras(
    interaction: Interaction, candidates: list[tuple[str, str]]
) -> SecretHit | None:
    """What the JSON spelling hides: a binary body's bytes, a key split across events."""
    response = interaction.response
    if response is None:
        return None
    body = response.body
    if isinstance(body, Binary):
        return _hit_in("$.response.body.data (the decoded bytes)", body.data, candidates)
    if not isinstance(body, Sse | Ndjson) or len(body.events) < 2:
        return None
    hit = _hit_in(_JOINED, _joined_by_field(body.events), candidates, spelled=True)
    if hit is None:
        return None
    for path, text in _joined_by_path(body.events):  # on a hit only: name the path
        precise = _hit_in(f"$.response.body.events[*].data{path} {_JOINED}", text, candidates)
        if precise is not None:
            return precise
    return hit._replace(path=f"$.response.body.events[*].data {_JOINED}")


def _find_in_frames(
    session: WebSocketSession, candidates: list[tuple[str, str]]
) -> SecretHit | None:
    """`_find_in_extras` for a WebSocket session: binary frames' bytes, keys split across frames."""
    for n, frame in enumerate(session.frames):
        if isinstance(frame, BinaryFrame):
            hit = _hit_in(f"$.frames[{n}].data (the decoded bytes)", frame.data, candidates)
            if hit is not None:
                return hit
    if len(session.frames) < 2:
        return None
    joined = _joined_by_field(session.frames)
    return _hit_in(f"$.frames[*] {_JOINED}", joined, candidates, spelled=True)


_JOINED = "(joined across events)"
# A string field of the compact JSON msgspec writes: "name":"value", the value still spelled
# as JSON (escapes kept, so the removed values are looked for in their JSON spelling too).
_FIELD = re.compile(rb'"([^"\\]*)":"([^"\\]*(?:\\.[^"\\]*)*)"')


def _joined_by_field(events: Sequence[msgspec.Struct]) -> bytes:
    """Every string field of a stream's events, joined across events by field name.

    A client puts the deltas back together (``delta.content``, ``delta.text``,
    ``partial_json``...); so does this, at C speed, from the events' encoding. Joining by
    name rather than by path may join more than a client would: it can only find more.
    Events are encoded a batch at a time and each name's text grows in place, so a stream
    of many tiny events costs about its own size again, not a tuple per field.
    """
    joined: dict[bytes, bytearray] = {}
    seen: dict[bytes, int] = {}
    for at in range(0, len(events), _BATCH):
        for name, value in _FIELD.findall(_encoder.encode(events[at : at + _BATCH])):
            text = joined.get(name)
            if text is None:
                joined[name] = bytearray(value)
                seen[name] = 1
            else:
                text += value
                seen[name] += 1
    return b"\n".join(text for name, text in joined.items() if seen[name] > 1)


_BATCH = 256


def _joined_by_path(events: Sequence[Event]) -> list[tuple[str, bytes]]:
    # The string leaves of every event's data, joined per path in event order.
    joined: dict[str, list[str]] = {}
    for event in events:
        stack: list[tuple[str, JSON]] = [("", event.data)]
        while stack:  # iterative, as `_strings`
            where, node = stack.pop()
            if isinstance(node, str):
                joined.setdefault(where, []).append(node)
            elif isinstance(node, dict):
                stack.extend((f"{where}.{key}", item) for key, item in node.items())
            elif isinstance(node, list):
                stack.extend((f"{where}[{i}]", item) for i, item in enumerate(node))
    return [(path, "".join(texts).encode()) for path, texts in joined.items() if len(texts) > 1]


def _hit_in(
    path: str, data: bytes, candidates: list[tuple[str, str]], *, spelled: bool = False
) -> SecretHit | None:
    kinds = _kinds_in(data)
    if kinds:
        return SecretHit(path, kinds[0])
    for value, what in candidates:
        if (_json_text(value) if spelled else value.encode()) in data:
            return SecretHit(path, what)
    return None


def _configured() -> list[str]:
    # Read on every scan: a test may set a variable after the transport was built.
    # os.environ decodes every name and value on each read (~80 µs for 40 variables);
    # CPython's os._Environ keeps the encoded mapping in ``_data``, read here at C speed.
    # (On Windows its keys are upper-cased str; elsewhere bytes.)
    raw = getattr(os.environ, "_data", None)
    if not isinstance(raw, dict):
        raw = dict(os.environ)
    found: list[str] = []
    for name, value in raw.items():
        if len(value) < _CONFIGURED_MIN:
            continue
        if isinstance(name, bytes):
            if name.endswith(_CONFIGURED_SUFFIXES_B):
                found.append(os.fsdecode(value))
        elif name.upper().endswith(_CONFIGURED_SUFFIXES):
            found.append(str(value))
    return [v for v in found if len(v) >= _CONFIGURED_MIN]


def mask(text: str) -> str:
    """``text`` with every key shape and configured secret replaced by its kind: what an
    error message (a miss, a drift) may print of a request's values.

    >>> mask('recorded "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEf"')
    'recorded "<anthropic>"'
    """
    return _masked(text, _configured())


def _masked(url: str, values: Sequence[str]) -> str:
    """``url`` with every removed value and key shape replaced: what an error may print."""
    for value in sorted(values, key=len, reverse=True):
        url = url.replace(value, "<redacted>")
    data = _shapes().sub(lambda m: b"<%s>" % _GROUP[m.lastgroup or ""].encode(), url.encode())
    data = _AWS_SECRET.sub(b"<redacted>", data)
    return data.decode("utf-8", "replace")


# Where a shape could start. The shapes' regex, with its alternation, costs ~50 µs per KB
# when it scans; these literal searches run at memory speed, and the shapes are tried only
# where one matched. Few searches, not one per prefix: each is a pass over the interaction
# (~2.5 µs for 3.5 KB). ("gh" alone would be in "thought".) A search match inside another one
# cannot hide a key: the byte before a key must not be a key byte.
_STARTS = (
    (re.compile(rb"sk-"), 0),
    (re.compile(rb"A(?:Iza|KIA|SIA)"), 0),
    (re.compile(rb"gh[pousr]_|github_pat_"), 0),
    (re.compile(rb"earer"), 1),  # Bearer, bearer: one byte before
)
# The newer prefixes share no first byte: an alternation of them scans ~50x slower than
# one literal, so each is a `bytes.find` loop (memory speed).
_LITERAL_STARTS = (b"hf_", b"gsk_", b"xai-", b"ya29.", b"pplx-", b"r8_", b"fw_")
_AWS_LABELS = (b"ecret_access_key", b"ECRET_ACCESS_KEY", b"ecretAccessKey")


def _kinds_in(data: bytes) -> list[str]:
    kinds: list[str] = []
    anchors: list[int] = []  # where an AWS secret may sit beside what names it
    for at in _starts(data):
        if not _boundary(data, at, _KEY_BYTES):
            continue
        match = _shapes().match(data, at)
        if match is None:
            continue
        kind = _GROUP[match.lastgroup or ""]
        if kind == "aws":
            anchors.append(at)
        if kind not in kinds and _random_looking(kind, match.group()):
            kinds.append(kind)
    for label in _AWS_LABELS:
        anchors.extend(_finds(data, label))
    if anchors and _aws_secret_near(data, anchors):
        kinds.append(_AWS_SECRET_KIND)
    # In the order the shapes are listed, as a scan from the start would not promise.
    return sorted(kinds, key=_ORDER.__getitem__)


def _starts(data: bytes) -> Iterable[int]:
    for search, back in _STARTS:
        for found in search.finditer(data):
            if found.start() >= back:
                yield found.start() - back
    for prefix in _LITERAL_STARTS:
        yield from _finds(data, prefix)


def _finds(data: bytes, literal: bytes) -> Iterable[int]:
    at = data.find(literal)
    while at >= 0:
        yield at
        at = data.find(literal, at + 1)


def _boundary(data: bytes, at: int, word: frozenset[int]) -> bool:
    """Whether a key may start at ``at``: what the text says before it is not a key byte.

    The scan reads JSON, and a string that holds JSON or a URL spells a character again:
    a newline before a key is ``\\n`` (or ``\\\\n``), a control character ``\\u001b``,
    a URL's ``%0A``. An escape ends a word as the character it stands for does.
    """
    if at == 0 or data[at - 1] not in word:
        return True
    if at >= 2 and data[at - 2] == 0x5C:  # \n \t \r \b \f, and \\n: an escape
        return True
    if at >= 6 and data[at - 6 : at - 4] == b"\\u" and _is_hex(data[at - 4 : at]):
        return True
    return at >= 3 and data[at - 3] == 0x25 and _is_hex(data[at - 2 : at])  # %0A


def _is_hex(chunk: bytes) -> bool:
    return all(c in _HEX_BYTES for c in chunk)


def _aws_secret_near(data: bytes, anchors: list[int]) -> bool:
    # Windows that overlap are merged, so a body full of labels is still read once.
    ranges: list[list[int]] = []
    for anchor in sorted(anchors):
        start, end = max(0, anchor - _AWS_WINDOW), anchor + _AWS_WINDOW
        if ranges and start <= ranges[-1][1]:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])
    for start, end in ranges:
        for found in _AWS_SECRET.finditer(data, start, end):
            if (
                (found.end() < end or found.end() == len(data))
                and _boundary(data, found.start(), _AWS_BYTES)
                and _has_classes(found.group(), "dlu")
            ):
                return True
    return False


def _has_kind(text: bytes, kind: str) -> bool:
    return kind in _kinds_in(text)


def _random_looking(kind: str, token: bytes) -> bool:
    rule = _RANDOM.get(kind)
    if rule is None:
        return True
    skip, classes = rule
    tail = token.split(None, 1)[-1] if kind == "bearer" else token[skip:]
    return _has_classes(tail, classes)


def _has_classes(token: bytes, classes: str) -> bool:
    return all(any(c in _CLASSES[k] for c in token) for k in classes)


def _json_text(value: str) -> bytes:
    return _encoder.encode(value)[1:-1]


def _strings(value: JSON, path: str, *, keys: bool = True) -> Iterable[tuple[str, str]]:
    # Iterative: a hostile body may nest deeper than the recursion limit.
    stack = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            for key, item in reversed(node.items()):
                if keys:
                    yield where, str(key)
                stack.append((f"{where}.{key}", item))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(node))))
