"""Every error promptecho raises.

::

    Exception
     ├── CassetteError        a cassette file that cannot be used (bad JSON, wrong shape,
     │    │                   newer format, a secret about to be written)
     │    └── CassetteExpired  its oldest recording is older than max_age (on_expiry="fail")
     └── CassetteMiss         a request with no recorded answer in a mode that may not record

    UserWarning
     ├── DriftWarning         a replayed request differs from its recording outside the key
     └── CassetteExpiredWarning  a cassette older than max_age (on_expiry="warn")

    ValueError                bad arguments: an unknown mode, a malformed ``match_on``

Neither derives from an httpx exception on purpose: SDKs retry httpx ``RequestError``s, and a
miss is not a network fault. Each error builds its message from structured attributes, so a
test can assert on the data as well as on the text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ._types import JSON, MODES

if TYPE_CHECKING:
    from datetime import timedelta

__all__ = [
    "CassetteError",
    "CassetteExpired",
    "CassetteExpiredWarning",
    "CassetteMiss",
    "Difference",
    "Drift",
    "DriftWarning",
    "Verification",
    "invalid_mode",
]


class Difference(NamedTuple):
    """One leaf that differs between a recorded request and an incoming one."""

    path: str
    recorded: JSON
    incoming: JSON


class CassetteError(Exception):
    """A cassette file that cannot be read or written as it is."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CassetteExpired(CassetteError):
    """A cassette whose oldest recording is older than the ``max_age`` it was given."""

    def __init__(
        self, path: str | os.PathLike[str], oldest: str, age: timedelta, max_age: timedelta
    ) -> None:
        self.oldest = oldest
        self.age = age
        self.max_age = max_age
        super().__init__(
            path,
            f"has expired: its oldest recording is from {oldest}, {_days(age)} ago, older "
            f"than max_age {_days(max_age)}. Re-record it (--promptecho-mode=rewrite, or "
            "on_expiry='rerecord').",
        )


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


class CassetteExpiredWarning(UserWarning):
    """A cassette older than its ``max_age``, with ``on_expiry="warn"``."""


class CassetteMiss(Exception):
    """No recorded interaction answers this request, and the mode may not record it."""

    def __init__(
        self,
        cassette: str | Path,
        method: str,
        url: str,
        mode: str,
        *,
        reason: str = "",
        closest: int | None = None,
        differences: Sequence[Difference] = (),
        hint: str | None = None,
    ) -> None:
        self.cassette = Path(cassette)
        self.method = method
        self.url = url
        self.mode = mode
        self.reason = reason
        self.closest = closest
        self.differences = list(differences)
        self.hint = _RERECORD if hint is None else hint
        lines = [f"no recorded request in {self.cassette} matches {method} {url} (mode {mode!r})"]
        if reason:
            lines.append(reason)
        if closest is not None and self.differences:
            lines.append(f"Closest recorded request (#{closest}) differs at:")
            lines.extend(f"  {line}" for line in _describe(self.differences))
        lines.append(self.hint)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[object, ...]:  # picklable (pytest-xdist sends errors across)
        return (
            _rebuild_miss,
            (
                self.cassette,
                self.method,
                self.url,
                self.mode,
                self.reason,
                self.closest,
                self.differences,
                self.hint,
            ),
        )


def _rebuild_miss(*args: object) -> CassetteMiss:
    cassette, method, url, mode, reason, closest, differences, hint = args
    return CassetteMiss(
        cassette,  # type: ignore[arg-type]
        method,  # type: ignore[arg-type]
        url,  # type: ignore[arg-type]
        mode,  # type: ignore[arg-type]
        reason=reason,  # type: ignore[arg-type]
        closest=closest,  # type: ignore[arg-type]
        differences=differences,  # type: ignore[arg-type]
        hint=hint,  # type: ignore[arg-type]
    )


_RERECORD = (
    "To re-record: pass mode='new_episodes' to record the new request beside the others, "
    "or mode='all' to record the cassette anew "
    "(pytest: --promptecho-mode=all, or @pytest.mark.promptecho(mode='new_episodes'))."
)


def _describe(differences: Sequence[Difference]) -> list[str]:
    # Imported when a miss or a drift is described, never on a plain replay: _match imports
    # this module, and the secret scan is not loaded by a run that only replays.
    from ._match import describe
    from ._secrets import mask  # a key in a prompt is shown as its kind, never its value

    return [mask(line) for line in describe(differences)]


class Drift:
    """A replayed request that differs from its recording in fields outside the match key.

    The recording still answered (the test author left those fields out of ``match_on``),
    but the difference is reported, never silent: ``differences`` are (path, recorded,
    incoming) triples, rendered like a miss.
    """

    __slots__ = ("cassette", "differences", "index", "method", "url")

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        index: int,
        method: str,
        url: str,
        differences: Sequence[Difference],
    ) -> None:
        self.cassette = Path(cassette)
        self.index = index
        self.method = method
        self.url = url
        self.differences = list(differences)

    @property
    def request(self) -> str:
        """The request line: method and URL."""
        return f"{self.method} {self.url}"

    def __str__(self) -> str:
        lines = [
            f"{self.request} replayed recording #{self.index} of {self.cassette}, "
            "which was recorded with other values at:"
        ]
        lines.extend(f"  {line}" for line in _describe(self.differences))
        return "\n".join(lines)

    def __repr__(self) -> str:
        paths = ", ".join(d.path for d in self.differences)
        return f"<Drift #{self.index} {self.request}: {paths}>"


class Verification:
    """Verify mode: how a live answer compares with the recording its request matched.

    ``verdict`` is ``"identical"``, ``"text changed"`` (only prose differs; ``ratio`` is the
    similarity), ``"structure changed"`` (``changes`` says what: status, finish reason,
    tool calls, JSON keys, stream event types) or ``"not recorded"`` (no recording matched).
    """

    __slots__ = ("cassette", "changes", "index", "ratio", "request", "verdict")

    def __init__(
        self,
        cassette: str | os.PathLike[str],
        index: int | None,
        request: str,
        verdict: str,
        *,
        ratio: float = 1.0,
        changes: Sequence[str] = (),
    ) -> None:
        self.cassette = Path(cassette)
        self.index = index
        self.request = request
        self.verdict = verdict
        self.ratio = ratio
        self.changes = tuple(changes)

    def __str__(self) -> str:
        where = f"recording #{self.index}" if self.index is not None else "no recording"
        text = f"{self.request} ({where} of {self.cassette}): {self.verdict}"
        if self.verdict == "text changed":
            text += f" (similarity {self.ratio:.2f})"
        if self.changes:
            text += "\n" + "\n".join(f"  {change}" for change in self.changes)
        return text

    def __repr__(self) -> str:
        return f"<Verification {self.request}: {self.verdict}>"


class DriftWarning(UserWarning):
    """Issued by the pytest plugin for a test whose replayed requests drifted."""


def invalid_mode(mode: object) -> ValueError:
    valid = ", ".join(repr(m) for m in MODES)
    return ValueError(f"{mode!r} is not a valid mode. Valid modes are: {valid}.")
