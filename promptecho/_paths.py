"""The one path language: how a miss names a field, and how users name fields back.

A path is what a `CassetteMiss` prints: ``messages[0].content[0].text``. Keys are joined
with ``.``; an item of a list is ``[N]``; ``[*]`` is every item of a list and ``*`` every
value of an object; a key that is not a plain identifier is written as a JSON string in
brackets, ``["x-my key"]``. ``match_on`` names, drift reports and ``redact=["request:..."]``
rules all speak it: what a miss prints can be pasted back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Literal, NamedTuple, TypeAlias

import msgspec

from ._types import JSON

__all__ = ["ABSENT", "Path", "Step", "join_index", "join_key", "lookup", "parse_path", "replace"]

StepKind: TypeAlias = Literal["key", "index", "any-key", "any-item"]
Step: TypeAlias = tuple[StepKind, str | int]


class Path(NamedTuple):
    """A parsed path: ``text`` as the user wrote it, ``steps`` to follow."""

    text: str
    steps: tuple[Step, ...]


class _Absent:
    """The side of a difference where the field does not exist."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()

_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")
# One token at a time: a bare key, a bracketed index, [*], a bracketed JSON string, or a dot.
_TOKEN: Final = re.compile(r'\[(\*|\d+)\]|\[("(?:[^"\\]|\\.)*")\]|(\*)|([^.\[\]"*]+)|(\.)')
_encode = msgspec.json.Encoder(order="sorted").encode
_EXAMPLE: Final = "e.g. 'messages[0].content[0].text' or 'tools[*].name'"


def parse_path(text: str) -> Path:
    """Parse a path; a malformed one is a `ValueError` that shows where it goes wrong.

    >>> parse_path('messages[0].content[*]["x y"]').steps
    (('key', 'messages'), ('index', 0), ('key', 'content'), ('any-item', '*'), ('key', 'x y'))
    """
    if type(text) is not str or not text:
        raise ValueError(f"{text!r} is not a path: {_EXAMPLE}")
    steps: list[Step] = []
    position = 0
    expect_key = True  # at the start and after a dot a key must follow
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _malformed(text, position)
        index, quoted, star, bare, dot = match.groups()
        if dot is not None:
            if expect_key:
                raise _malformed(text, position)
            expect_key = True
        elif bare is not None or star is not None:
            if not expect_key:
                raise _malformed(text, position)
            if bare is not None and bare.isdigit():
                raise ValueError(
                    f"{text!r}: a list item is written [{bare}], not .{bare} ({_EXAMPLE})"
                )
            steps.append(("any-key", "*") if star is not None else ("key", bare))
            expect_key = False
        else:
            if expect_key:  # "[0]" or "a.[0]": an item belongs to a field
                raise _malformed(text, position)
            if index is not None:
                steps.append(("any-item", "*") if index == "*" else ("index", int(index)))
            else:
                try:
                    key = msgspec.json.decode(quoted)
                except msgspec.DecodeError:
                    raise _malformed(text, position) from None
                steps.append(("key", key))
            expect_key = False
        position = match.end()
    if expect_key:  # empty, or a trailing dot
        raise _malformed(text, len(text))
    return Path(text, tuple(steps))


def _malformed(text: str, position: int) -> ValueError:
    return ValueError(
        f"{text!r} is not a valid path (at character {position + 1}): keys joined by '.', "
        f'[N] for an item, [*] for every item, ["..."] for an odd key; {_EXAMPLE}'
    )


def lookup(value: JSON, steps: tuple[Step, ...]) -> JSON:
    """The value a path names, `ABSENT` if it names nothing; ``[*]``/``*`` give a list."""
    for position, (kind, arg) in enumerate(steps):
        if kind == "key":
            if type(value) is not dict or arg not in value:
                return ABSENT
            value = value[arg]
        elif kind == "index":
            if type(value) is not list or not -len(value) <= arg < len(value):  # type: ignore[operator]
                return ABSENT
            value = value[arg]  # type: ignore[index]
        else:
            if kind == "any-item" and type(value) is list:
                items = value
            elif kind == "any-key" and type(value) is dict:
                items = list(value.values())
            else:
                return ABSENT
            rest = steps[position + 1 :]
            found = [lookup(item, rest) for item in items]
            return [item for item in found if item is not ABSENT]
    return value


def replace(value: JSON, steps: tuple[Step, ...], change: Callable[[JSON], JSON]) -> JSON:
    """``value`` with what the path names passed through ``change`` (a copy where it changes)."""
    if not steps:
        return change(value)
    (kind, arg), rest = steps[0], steps[1:]
    if kind == "key" and type(value) is dict and arg in value:
        return {**value, arg: replace(value[arg], rest, change)}
    if kind == "any-key" and type(value) is dict:
        return {k: replace(v, rest, change) for k, v in value.items()}
    if kind == "index" and type(value) is list and -len(value) <= arg < len(value):  # type: ignore[operator]
        changed = list(value)
        changed[arg] = replace(value[arg], rest, change)  # type: ignore[index]
        return changed
    if kind == "any-item" and type(value) is list:
        return [replace(v, rest, change) for v in value]
    return value


def join_key(path: str, key: str) -> str:
    """``path`` extended by an object key, as `parse_path` reads it back."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_encode(key).decode()}]"


def join_index(path: str, index: int) -> str:
    """``path`` extended by a list index (``$`` stands for the root)."""
    return f"{path or '$'}[{index}]"
