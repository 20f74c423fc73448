"""A transport's options: checked once, when the transport (or a cassette scope) is built.

`Options` is the one list of what a cassette can be told: the transport's keywords, the
``promptecho`` marker's and ``use_cassette``'s all come from `OPTION_NAMES`. A bad value is a
`ValueError` (or `TypeError`) at construction, never at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ._errors import invalid_mode
from ._match import MatchOn
from ._redact import DEFAULT_REDACTION, Redaction
from ._types import MODES, ON_EXPIRY, Mode, OnExpiry, ReplayTiming

if TYPE_CHECKING:
    from datetime import timedelta

    from ._cassette import Interaction
    from ._errors import CassetteMiss

__all__ = ["OPTION_NAMES", "RECORDER_OPTIONS", "Options", "parse_duration", "split_options"]

OPTION_NAMES: Final = (
    "mode",
    "match_on",
    "transport",
    "allow_repeats",
    "replay_timing",
    "redact_headers",
    "redact_query",
    "before_record",
    "fsync",
    "on_miss",
    "redact",
    "allow_secrets",
    "max_age",
    "on_expiry",
)
"""Every option of a transport, in the order of its signature."""

RECORDER_OPTIONS: Final = frozenset(
    {
        "mode",
        "match_on",
        "allow_repeats",
        "redact_headers",
        "redact_query",
        "before_record",
        "fsync",
        "redact",
        "allow_secrets",
        "max_age",
        "on_expiry",
    }
)
"""The options that belong to the cassette rather than to one transport: the transports of
one cassette scope share a play state, so they must agree on these."""


class Options:
    """The validated options of one transport (immutable; `replace` makes a changed copy)."""

    __slots__ = (*OPTION_NAMES, "redaction")

    mode: Mode
    match_on: MatchOn | None
    transport: Any
    allow_repeats: bool
    replay_timing: ReplayTiming
    redact_headers: tuple[str, ...]
    redact_query: tuple[str, ...]
    before_record: Callable[[Interaction], Interaction | None] | None
    fsync: bool
    on_miss: Callable[[CassetteMiss], object] | None
    redact: tuple[str, ...]
    allow_secrets: bool
    max_age: timedelta | None
    on_expiry: OnExpiry
    redaction: Redaction

    def __init__(
        self,
        *,
        mode: Mode = "once",
        match_on: Sequence[str] | None = None,
        transport: Any = None,
        allow_repeats: bool = False,
        replay_timing: ReplayTiming = None,
        redact_headers: Sequence[str] = (),
        redact_query: Sequence[str] = (),
        before_record: Callable[[Interaction], Interaction | None] | None = None,
        fsync: bool = False,
        on_miss: Callable[[CassetteMiss], object] | None = None,
        redact: Sequence[str] = (),
        allow_secrets: bool = False,
        max_age: str | timedelta | None = None,
        on_expiry: OnExpiry = "warn",
    ) -> None:
        if mode not in MODES:
            raise invalid_mode(mode)
        _set = object.__setattr__
        _set(self, "mode", mode)
        _set(self, "match_on", None if match_on is None else MatchOn(match_on))
        _set(self, "transport", transport)
        _set(self, "allow_repeats", _flag("allow_repeats", allow_repeats))
        _set(self, "replay_timing", _timing(replay_timing))
        _set(self, "redact_headers", _strings("redact_headers", redact_headers))
        _set(self, "redact_query", _strings("redact_query", redact_query))
        _set(self, "before_record", _callable("before_record", before_record))
        _set(self, "fsync", _flag("fsync", fsync))
        _set(self, "on_miss", _callable("on_miss", on_miss))
        _set(self, "redact", _strings("redact", redact))
        _set(self, "allow_secrets", _flag("allow_secrets", allow_secrets))
        _set(self, "max_age", None if max_age is None else parse_duration(max_age))
        if on_expiry not in ON_EXPIRY:
            raise ValueError(
                f"{on_expiry!r} is not a valid on_expiry. Valid values are: "
                f"{', '.join(map(repr, ON_EXPIRY))}."
            )
        _set(self, "on_expiry", on_expiry)
        _set(
            self,
            "redaction",
            Redaction(headers=self.redact_headers, query=self.redact_query, rules=self.redact)
            if self.redact_headers or self.redact_query or self.redact
            else DEFAULT_REDACTION,  # the built-in sets, shared
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Options are immutable; use .replace({name}=...)")

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` applied (and checked)."""
        return Options(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in OPTION_NAMES}

    def cassette_part(self) -> tuple[object, ...]:
        """What transports sharing one cassette's play state must agree on."""
        return tuple(getattr(self, name) for name in OPTION_NAMES if name in RECORDER_OPTIONS)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.as_dict().items() if v != _DEFAULTS[k]}
        return f"Options({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def parse_duration(value: str | timedelta) -> timedelta:
    """``"12h"``, ``"30d"``, ``"4w"`` (also ``"90m"``, ``"45s"``) or a `timedelta`; positive.

    >>> parse_duration("30d")
    datetime.timedelta(days=30)
    """
    from datetime import timedelta  # only when an age is given: keep `import promptecho` light

    if isinstance(value, timedelta):
        duration = value
    else:
        match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"{value!r} is not a valid max_age. Write a number and a unit: '45s', '90m', "
                "'12h', '30d' or '4w' (or pass a datetime.timedelta)."
            )
        duration = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if duration <= timedelta(0):
        raise ValueError(f"max_age must be positive, not {value!r}")
    return duration


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split keyword arguments into a transport's options and the rest (a client's, an SDK's)."""
    echo = {k: v for k, v in options.items() if k in _NAMES}
    return echo, {k: v for k, v in options.items() if k not in _NAMES}


# Implementation details

_NAMES: Final = frozenset(OPTION_NAMES)
_DURATION: Final = re.compile(r"(\d+)\s*([smhdw])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def _strings(name: str, value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str | bytes):
        raise ValueError(f"{name} must be a sequence of strings, not the string {value!r}")
    out = tuple(value)
    for item in out:
        if type(item) is not str:
            raise TypeError(f"{name} must hold strings, not {item!r}")
    return out


def _callable(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable or None, not {value!r}")
    return value


def _timing(timing: ReplayTiming) -> ReplayTiming:
    if timing is None or timing == "recorded":
        return timing
    if isinstance(timing, int | float) and not isinstance(timing, bool) and timing >= 0:
        return float(timing)
    raise ValueError(
        f"{timing!r} is not a valid replay_timing. Use None (as fast as possible), "
        "'recorded' (the recorded gaps) or a non-negative number (the gaps scaled by it)."
    )


_DEFAULTS: Final = {
    "mode": "once",
    "match_on": None,
    "transport": None,
    "allow_repeats": False,
    "replay_timing": None,
    "redact_headers": (),
    "redact_query": (),
    "before_record": None,
    "fsync": False,
    "on_miss": None,
    "redact": (),
    "allow_secrets": False,
    "max_age": None,
    "on_expiry": "warn",
}
