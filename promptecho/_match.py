"""What decides a match, and how two requests differ.

``select`` picks, from a canonical body, the part that decides which recorded response
answers it (the caller hashes it). ``diff`` lists the leaves where two selections differ,
and ``describe`` renders them one line each for a ``CassetteMiss``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from ._canonical import CHAT_APIS
from ._errors import Difference
from ._paths import ABSENT, Step, join_index, join_key, lookup, parse_path
from ._types import JSON

__all__ = [
    "ABSENT",
    "CANONICAL_FIELDS",
    "COMMON_PARAMETERS",
    "DEFAULT_MATCH_ON",
    "MatchOn",
    "compile_match_on",
    "covered",
    "describe",
    "diff",
    "select",
]


class MatchOn(tuple[str, ...]):
    """An immutable sequence of ``match_on`` paths; ``+`` with any iterable of paths extends it.

    Each name is checked when the sequence is built: a malformed path or an unknown field
    is a `ValueError` listing the valid ones.

    >>> DEFAULT_MATCH_ON + ["temperature"]  # doctest: +ELLIPSIS
    MatchOn('model', 'messages', ..., 'temperature')
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
        if type(name) is not str:
            raise ValueError(f"{name!r} is not a valid match_on name: it must be a string path.")
        try:
            _compiled(name)
        except ValueError as err:
            raise ValueError(f"match_on: {err}") from None
        out.append(name)
    return tuple(out)


# Fields of the canonical request of every built-in API family (see `canonicalize`).
CANONICAL_FIELDS: Final = (
    "model",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "output_format",
    "state",
    "params",
    "input",
    "dimensions",
    "encoding_format",
    "voice",
    "response_format",
    "instructions",
    "speed",
)
# Request parameters (kept under ``params``) that may also be named without ``params.``.
COMMON_PARAMETERS: Final = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "max_tokens",
        "stop",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "parallel_tool_calls",
        "modalities",
        "audio",
        "prediction",
        "service_tier",
        "truncation",
        "safety_settings",
        "candidate_count",
        "verbosity",
        "web_search_options",
        "options",
        "keep_alive",
    }
)
_KNOWN: Final = frozenset(CANONICAL_FIELDS) | COMMON_PARAMETERS


@functools.lru_cache(maxsize=512)
def _compiled(name: str) -> tuple[str, tuple[Step, ...], bool]:
    """(name, steps, whether the steps may also be looked up under ``params``)."""
    path = parse_path(name)
    kind, first = path.steps[0]
    if kind != "key":
        raise ValueError(f"{name!r}: a match_on path starts with a field name")
    if first == "body":  # any path from the root of the body, for bodies of no known family
        if len(path.steps) == 1:
            return name, (), False
        return name, path.steps[1:], False
    if first not in _KNOWN:
        raise ValueError(
            f"{name!r} is not a canonical request field. Valid fields: "
            f"{', '.join(CANONICAL_FIELDS)}. A request parameter is 'params.NAME' (common "
            f"ones also by their bare name: {', '.join(sorted(COMMON_PARAMETERS))}); a field "
            "of a body promptecho does not parse (plain JSON, a registered normalizer) is "
            "'body.NAME'."
        )
    return name, path.steps, first != "params"


def compile_match_on(
    match_on: Sequence[str] | None,
) -> tuple[tuple[str, tuple[Step, ...], bool], ...] | None:
    """``match_on`` checked and parsed once (`ValueError` on a bad name); None stays None."""
    if match_on is None:
        return None
    return tuple(_compiled(name) for name in _names(match_on))


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
        "output_format",
        "state",
    )
)

# The default selection of the API families that are not chats.
_DEFAULTS: Final[dict[str, tuple[str, ...]]] = {
    "embeddings": ("input", "model", "dimensions", "encoding_format"),
    "speech": ("model", "input", "voice", "response_format", "instructions", "speed"),
}
# Chat APIs promptecho parses itself; a registered normalizer's api is not among them.
_BUILTIN: Final = CHAT_APIS  # the chat families, from the dialect table


def select(body: JSON, api: str, match_on: Sequence[str] | None) -> JSON:
    """The part of a canonical body that decides which recorded response answers it.

    ``None`` means the API family's default. A name is a path (see `promptecho._paths`)
    from a canonical field; a request parameter is found under ``params`` by its bare name
    too (``"temperature"`` and ``"params.temperature"`` both work); ``body.PATH`` starts at
    the root of a body of no known family. Names whose field is absent are left out, so
    the result is a dict of the names present.
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
        picked = _pick(body, compile_match_on(_DEFAULTS.get(api, DEFAULT_MATCH_ON)) or ())
        if not picked and api not in _BUILTIN and api not in _DEFAULTS:
            return body  # a registered normalizer with a shape of its own: match all of it
        return picked
    return _pick(body, compile_match_on(match_on) or ())


@functools.lru_cache(maxsize=256)
def _covered(api: str, match_on: tuple[str, ...] | None) -> frozenset[str] | None:
    if match_on is None:
        if api in _BUILTIN:
            match_on = DEFAULT_MATCH_ON
        elif api in _DEFAULTS:
            match_on = _DEFAULTS[api]
        else:
            return None
    # Only plain top-level names: a path picks part of a field, and a parameter's bare name
    # is looked up under params.
    return frozenset(n for n in match_on if "." not in n and "[" not in n)


def covered(api: str, match_on: Sequence[str] | None) -> frozenset[str] | None:
    """The top-level fields a key on ``match_on`` holds whole (two requests with one key agree
    on them); None when that is not known (a registered normalizer's own shape).

    >>> sorted(covered("openai-chat", ["model", "params.temperature"]))
    ['model']
    """
    return _covered(api, None if match_on is None else tuple(match_on))


def _pick(body: JSON, names: Iterable[tuple[str, tuple[Step, ...], bool]]) -> dict[str, JSON]:
    picked: dict[str, JSON] = {}
    if type(body) is not dict:
        return picked
    params = body.get("params")
    for name, steps, in_params in names:
        value = lookup(body, steps)
        if value is ABSENT and in_params and type(params) is dict:
            value = lookup(params, steps)
        if value is not ABSENT:
            picked[name] = value
    return picked


def diff(recorded: JSON, incoming: JSON, *, named: bool = False) -> list[Difference]:
    """The leaves where two canonical values (or selections) differ, in document order.

    Paths read like ``messages[1].content[0].text``; a side where the field does not exist
    holds ``ABSENT``. Lists of unequal length are aligned, so one inserted message is one
    difference rather than one per later message. ``named``: the values are selections by
    a user's ``match_on``, whose top-level keys are paths already (written as they are).
    """
    out: list[Difference] = []
    if named and type(recorded) is dict and type(incoming) is dict:
        for key in _keys(recorded, incoming):
            _diff(recorded.get(key, ABSENT), incoming.get(key, ABSENT), key, out)
        return out
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
_encode = msgspec.json.Encoder(order="sorted").encode


def _diff(recorded: JSON, incoming: JSON, path: str, out: list[Difference]) -> None:
    if type(recorded) is dict and type(incoming) is dict:
        if recorded == incoming and _same(recorded, incoming):
            return
        for key in _keys(recorded, incoming):
            _diff(recorded.get(key, ABSENT), incoming.get(key, ABSENT), join_key(path, key), out)
    elif type(recorded) is list and type(incoming) is list:
        if recorded == incoming and _same(recorded, incoming):
            return
        if len(recorded) == len(incoming):
            for i, (left, right) in enumerate(zip(recorded, incoming, strict=True)):
                _diff(left, right, join_index(path, i), out)
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
