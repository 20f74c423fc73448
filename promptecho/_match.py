"""What decides a match, and how two requests differ.

``select`` picks, from a canonical body, the part that decides which recorded response
answers it (the caller hashes it). ``diff`` lists the leaves where two selections differ,
and ``describe`` renders them one line each for a ``CassetteMiss``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from ._errors import Difference
from ._types import JSON

__all__ = ["ABSENT", "DEFAULT_MATCH_ON", "MatchOn", "describe", "diff", "select"]


class MatchOn(tuple[str, ...]):
    """An immutable sequence of ``match_on`` names; ``+`` with any iterable of names extends it.

    >>> DEFAULT_MATCH_ON + ["temperature"]  # doctest: +ELLIPSIS
    MatchOn('model', 'messages', ..., 'thinking', 'temperature')
    """

    __slots__ = ()

    def __new__(cls, names: Iterable[str] = ()) -> MatchOn:
        return super().__new__(cls, _names(names))

    def __add__(self, other: Iterable[object]) -> MatchOn:
        return MatchOn((*self, *_names(other)))

    def __radd__(self, other: Iterable[object]) -> MatchOn:
        return MatchOn((*_names(other), *self))

    def __repr__(self) -> str:
        return f"MatchOn({', '.join(map(repr, self))})"


def _names(names: Iterable[object]) -> tuple[str, ...]:
    if isinstance(names, str | bytes):
        raise ValueError(
            f"match_on takes a list of field names, not the single string {names!r}; "
            f"write [{names!r}]"
        )
    out: list[str] = []
    for name in names:
        if type(name) is not str or not name or name.startswith(".") or name.endswith("."):
            raise ValueError(
                f"{name!r} is not a valid match_on name. Use a canonical field such as 'model' "
                f"or 'temperature', or a dotted path such as 'reasoning.effort'."
            )
        out.append(name)
    return tuple(out)


DEFAULT_MATCH_ON: Final = MatchOn(
    (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "reasoning",
        "thinking",
    )
)

# The default selection of the API families that are not chats.
_DEFAULTS: Final[dict[str, tuple[str, ...]]] = {
    "embeddings": ("input", "model", "dimensions", "encoding_format"),
    "speech": ("model", "input", "voice", "response_format", "instructions", "speed"),
}
# Chat APIs promptecho parses itself; a registered normalizer's api is not among them.
_BUILTIN: Final = frozenset(
    {
        "anthropic",
        "openai-chat",
        "openai-responses",
        "gemini",
        "cohere",
        "ollama-chat",
        "ollama-generate",
    }
)


class _Absent:
    """The side of a difference where the field does not exist."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()


def select(body: JSON, api: str, match_on: Sequence[str] | None) -> JSON:
    """The part of a canonical body that decides which recorded response answers it.

    ``None`` means the API family's default. A name is a top-level canonical field or a
    dotted path into one; a name that is neither is looked up in ``params`` (so
    ``"temperature"`` and ``"params.temperature"`` both work). Names whose field is absent
    are left out, so the result is a dict of the names present.
    """
    if api == "empty":
        return None
    if api == "bytes":
        return body.get("sha256") if type(body) is dict else body
    if match_on is None:
        if api in _BUILTIN and type(body) is dict:  # the hot path: a chat request
            return {name: body[name] for name in DEFAULT_MATCH_ON if name in body}
        if api == "json":
            return body
        picked = _pick(body, _DEFAULTS.get(api, DEFAULT_MATCH_ON))
        if not picked and api not in _BUILTIN and api not in _DEFAULTS:
            return body  # a registered normalizer with a shape of its own: match all of it
        return picked
    return _pick(body, match_on if type(match_on) is MatchOn else _names(match_on))


def _pick(body: JSON, names: Iterable[str]) -> dict[str, JSON]:
    picked: dict[str, JSON] = {}
    if type(body) is not dict:
        return picked
    params = body.get("params")
    for name in names:
        if "." not in name:
            if name in body:
                picked[name] = body[name]
            elif type(params) is dict and name in params:
                picked[name] = params[name]
            continue
        value = _lookup(body, name.split("."))
        if value is ABSENT and type(params) is dict:
            value = _lookup(params, name.split("."))
        if value is not ABSENT:
            picked[name] = value
    return picked


def _lookup(value: JSON, segments: list[str]) -> JSON:
    for segment in segments:
        if type(value) is dict and segment in value:
            value = value[segment]
        elif type(value) is list and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return ABSENT
    return value


def diff(recorded: JSON, incoming: JSON) -> list[Difference]:
    """The leaves where two canonical values (or selections) differ, in document order.

    Paths read like ``messages[1].content[0].text``; a side where the field does not exist
    holds ``ABSENT``. Lists of unequal length are aligned, so one inserted message is one
    difference rather than one per later message.
    """
    out: list[Difference] = []
    _diff(recorded, incoming, "", out)
    return out


def describe(differences: Sequence[Difference]) -> list[str]:
    """One plain-text line per difference, values JSON-encoded and long ones cut.

    >>> from promptecho._errors import Difference
    >>> describe([Difference("messages[0].content[0].text", "summarize the cat", "summarize the dog")])
    ['messages[0].content[0].text: recorded "summarize the cat" / incoming "summarize the dog"']
    """
    lines: list[str] = []
    for path, recorded, incoming in differences:
        left, right = _render(recorded), _render(incoming)
        at = _first_difference(left, right)
        lines.append(f"{path or '$'}: recorded {_cut(left, at)} / incoming {_cut(right, at)}")
    return lines


# Implementation details

_WIDTH: Final = 80  # longest value shown whole
_BEFORE: Final = 20  # characters kept before the first difference when cutting
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")
_encode = msgspec.json.Encoder(order="sorted").encode


def _diff(recorded: JSON, incoming: JSON, path: str, out: list[Difference]) -> None:
    if type(recorded) is dict and type(incoming) is dict:
        if recorded == incoming and _same(recorded, incoming):
            return
        for key in _keys(recorded, incoming):
            _diff(recorded.get(key, ABSENT), incoming.get(key, ABSENT), _join(path, key), out)
    elif type(recorded) is list and type(incoming) is list:
        if recorded == incoming and _same(recorded, incoming):
            return
        if len(recorded) == len(incoming):
            for i, (left, right) in enumerate(zip(recorded, incoming, strict=True)):
                _diff(left, right, f"{path or '$'}[{i}]", out)
        else:
            _diff_aligned(recorded, incoming, path or "$", out)
    elif type(recorded) is not type(incoming) or recorded != incoming:
        out.append(Difference(path or "$", recorded, incoming))


def _same(recorded: JSON, incoming: JSON) -> bool:
    """Equal as JSON: Python's ``==`` also holds for ``1 == 1.0 == True``, the key does not."""
    return _encode(recorded) == _encode(incoming)


def _keys(recorded: dict[str, JSON], incoming: dict[str, JSON]) -> list[str]:
    """Keys of both, recorded order first, then the incoming ones that are new."""
    return [*recorded, *(k for k in incoming if k not in recorded)]


def _diff_aligned(
    recorded: list[JSON], incoming: list[JSON], path: str, out: list[Difference]
) -> None:
    left = [_encode(v) for v in recorded]
    right = [_encode(v) for v in incoming]
    import difflib  # only a miss aligns lists, and a run without misses never needs it

    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        common = min(i2 - i1, j2 - j1)
        for k in range(common):
            _diff(recorded[i1 + k], incoming[j1 + k], f"{path}[{j1 + k}]", out)
        for i in range(i1 + common, i2):
            out.append(Difference(f"{path}[{i}]", recorded[i], ABSENT))
        for j in range(j1 + common, j2):
            out.append(Difference(f"{path}[{j}]", ABSENT, incoming[j]))


def _join(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_encode(key).decode()}]"


def _render(value: JSON) -> str:
    if value is ABSENT:
        return "<absent>"
    try:
        return _encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return repr(value)


def _first_difference(left: str, right: str) -> int:
    for i, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return i
    return min(len(left), len(right))


def _cut(text: str, at: int) -> str:
    """``text`` cut to about ``_WIDTH`` characters around index ``at``; "…" marks the cuts."""
    if len(text) <= _WIDTH:
        return text
    start = max(0, min(at - _BEFORE, len(text) - _WIDTH))
    end = start + _WIDTH
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
