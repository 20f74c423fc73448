"""The comparator: does a new answer to the same request differ from the recorded one, and how.

One pure function, `compare`, shared by ``promptecho diff`` and by a live verify run. Its
verdict is ``identical``, ``text changed`` (only prose differs: the assistant text,
thinking, the values of tool arguments; with a similarity ratio) or ``structure changed``
(what the caller's code depends on: the status code, the finish/stop reason, the tool calls'
names, argument keys and argument value types, the keys of a structured JSON answer, the
event types of a stream but not how many text deltas it took, the kind of body). Volatile
fields (ids, timestamps, usage counts, fingerprints) are never a change.
"""

from __future__ import annotations

import difflib
import re
from typing import Final, Literal

import msgspec

from ._answer import Answer, answer_of
from ._cassette import Binary, RecordedResponse
from ._types import JSON

__all__ = ["Verdict", "compare", "compare_answers"]

VerdictKind = Literal["identical", "text changed", "structure changed"]


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """How a new answer differs from the recorded one.

    ``changes`` names what changed, one ``path: recorded -> new`` line each (structure
    changes for ``structure changed``, the prose fields for ``text changed``); ``ratio``
    is difflib's similarity of the prose (1.0 when it is the same).
    """

    kind: VerdictKind
    ratio: float = 1.0
    changes: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "identical":
            return "identical"
        if self.kind == "text changed":
            return f"text changed (ratio {self.ratio:.2f})"
        return f"structure changed ({'; '.join(self.changes)})"


def compare(
    api: str,
    recorded: RecordedResponse | None,
    new: RecordedResponse | None,
    *,
    recorded_error: str | None = None,
    new_error: str | None = None,
) -> Verdict:
    """Compare two responses to one request of API family ``api``.

    ``*_error`` are transport failures (an `Interaction.error`'s type), which are structure.
    """
    verdict = compare_answers(
        answer_of(api, recorded, recorded_error), answer_of(api, new, new_error)
    )
    if (
        verdict.kind == "identical"
        and recorded is not None
        and new is not None
        and isinstance(recorded.body, Binary)
        and isinstance(new.body, Binary)
        and recorded.body.data != new.body.data
    ):
        ratio = difflib.SequenceMatcher(None, recorded.body.data, new.body.data).quick_ratio()
        return Verdict(kind="text changed", ratio=ratio, changes=("body: bytes differ",))
    return verdict


def compare_answers(recorded: Answer, new: Answer) -> Verdict:
    """The verdict for two `Answer` values (see `compare`)."""
    structure: list[str] = []

    def check(path: str, old: object, now: object) -> None:
        if old != now:
            structure.append(f"{path}: {_show(old)} -> {_show(now)}")

    check("status", recorded.status, new.status)
    check("body", recorded.kind, new.kind)
    check("error", recorded.error is not None, new.error is not None)
    check("finish_reason", recorded.finish_reason, new.finish_reason)
    check("tool_calls", [c.name for c in recorded.tool_calls], [c.name for c in new.tool_calls])
    if len(recorded.tool_calls) == len(new.tool_calls):
        for n, (old, now) in enumerate(zip(recorded.tool_calls, new.tool_calls, strict=True)):
            check(f"tool_calls[{n}].arguments", _shape(old.arguments), _shape(now.arguments))
    check("structured", _shape(recorded.structured), _shape(new.structured))
    if recorded.events != new.events:
        structure.append(f"events: {_sequence_change(recorded.events, new.events)}")
    check("data", _shape(_stable(recorded.data)), _shape(_stable(new.data)))
    if structure:
        return Verdict(
            kind="structure changed", ratio=_ratio(recorded, new), changes=tuple(structure)
        )
    prose: list[str] = []
    for field in ("text", "thinking"):
        if getattr(recorded, field) != getattr(new, field):
            prose.append(field)
    for n, (old, now) in enumerate(zip(recorded.tool_calls, new.tool_calls, strict=True)):
        if old.arguments != now.arguments:
            prose.append(f"tool_calls[{n}].arguments")
    if _stable(recorded.data) != _stable(new.data):
        prose.append("data")
    if not prose:
        return Verdict(kind="identical")
    return Verdict(kind="text changed", ratio=_ratio(recorded, new), changes=tuple(prose))


# Implementation details

# Keys whose values change on every call and mean nothing to the caller's code.
_VOLATILE: Final = re.compile(
    r"^(?:id|ids|created|timestamp|fingerprint|system_fingerprint|usage|usageMetadata|"
    r"responseId|modelVersion|sequence_number|obfuscation|signature|x_groq)$"
    r"|_id$|Id$|_at$|_fingerprint$"
)
_encode = msgspec.json.Encoder(order="sorted").encode


def _stable(value: JSON) -> JSON:
    """``value`` without its volatile fields."""
    if type(value) is dict:
        return {k: _stable(v) for k, v in value.items() if not _VOLATILE.search(k)}
    if type(value) is list:
        return [_stable(v) for v in value]
    return value


def _shape(value: JSON) -> JSON:
    """The skeleton of a JSON value: object keys with the shapes of their values, types for
    scalars, and the shapes a list holds (in first-seen order, so its length does not count)."""
    if type(value) is dict:
        return {k: _shape(v) for k, v in sorted(value.items())}
    if type(value) is list:
        shapes: list[JSON] = []
        for item in value:
            shape = _shape(item)
            if shape not in shapes:
                shapes.append(shape)
        return shapes
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) in (int, float):
        return "number"
    return "string"


def _sequence_change(old: list[str], new: list[str]) -> str:
    """The event types removed (``-``) and added (``+``), in stream order."""
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            out += [f"-{kind}" for kind in old[i1:i2]] + [f"+{kind}" for kind in new[j1:j2]]
    return " ".join(out)


def _prose(answer: Answer) -> str:
    args = "\n".join(_encode(call.arguments).decode() for call in answer.tool_calls)
    return "\n".join((answer.text, answer.thinking, args))


def _ratio(recorded: Answer, new: Answer) -> float:
    return round(difflib.SequenceMatcher(None, _prose(recorded), _prose(new)).ratio(), 4)


def _show(value: object) -> str:
    try:
        text = _encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
