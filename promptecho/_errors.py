"""Every error promptecho raises.

::

    Exception
     ├── CassetteError        a cassette file that cannot be used (bad JSON, wrong shape,
     │                        newer format, a secret about to be written)
     └── CassetteMiss         a request with no recorded answer in a mode that may not record

    ValueError                bad arguments: an unknown mode, a malformed ``match_on``

Neither derives from an httpx exception on purpose: SDKs retry httpx ``RequestError``s, and a
miss is not a network fault. Each error builds its message from structured attributes, so a
test can assert on the data as well as on the text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ._types import JSON, MODES

__all__ = ["CassetteError", "CassetteMiss", "Difference", "invalid_mode"]


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
        detail: Sequence[str] = (),
    ) -> None:
        self.cassette = Path(cassette)
        self.method = method
        self.url = url
        self.mode = mode
        self.reason = reason
        self.closest = closest
        self.differences = list(differences)
        lines = [f"no recorded request in {self.cassette} matches {method} {url} (mode {mode!r})"]
        if reason:
            lines.append(reason)
        if closest is not None and detail:
            lines.append(f"Closest recorded request (#{closest}) differs at:")
            lines.extend(f"  {line}" for line in detail)
        lines.append(
            "To re-record: pass mode='new_episodes' to record the new request beside the others, "
            "or mode='all' to record the cassette anew "
            "(pytest: --promptecho-mode=all, or @pytest.mark.promptecho(mode='new_episodes'))."
        )
        super().__init__("\n".join(lines))


def invalid_mode(mode: object) -> ValueError:
    valid = ", ".join(repr(m) for m in MODES)
    return ValueError(f"{mode!r} is not a valid mode. Valid modes are: {valid}.")
