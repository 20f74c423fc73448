"""The play log: which cassettes a full test run used, and which of their interactions it played.

The pytest plugin writes it after a full run as ``.promptecho/playlog.json`` under the
rootdir (a file to git-ignore); ``promptecho check`` reads it to report cassettes no test used
and interactions never played. Cassettes are named by their path relative to the root, in
posix form, so the file is the same on every platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from ._cassette import read_if_exists, write_atomically
from ._errors import CassetteError

__all__ = ["PLAYLOG", "Plays", "read_playlog", "write_playlog"]

PLAYLOG = Path(".promptecho") / "playlog.json"
"""Where the play log lives, relative to the pytest rootdir."""


class Plays(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One cassette in the log: how many interactions it had, and the indexes played."""

    interactions: int
    played: list[int]


class _Log(msgspec.Struct, forbid_unknown_fields=True):
    version: int = 1
    cassettes: dict[str, Plays] = msgspec.field(default_factory=dict)


_decoder = msgspec.json.Decoder(_Log)
_encoder = msgspec.json.Encoder(order="sorted")


def read_playlog(root: Path) -> dict[str, Plays] | None:
    """The log under ``root``, or None when no run wrote one; a `CassetteError` if it is bad."""
    path = root / PLAYLOG
    data = read_if_exists(path)
    if data is None:
        return None
    try:
        return _decoder.decode(data).cassettes
    except msgspec.DecodeError as err:
        raise CassetteError(path, f"is not a valid play log ({err})") from None


def write_playlog(root: Path, plays: Mapping[str, tuple[int, Sequence[int]]]) -> None:
    """Record this run's cassettes (``path -> (interactions, indexes played)``).

    The entries of cassettes this run did not use are kept, so a run of a subset of the tests
    never makes the others look unused; the entries of this run's cassettes are replaced.
    """
    try:
        cassettes = read_playlog(root) or {}
    except CassetteError:
        cassettes = {}  # a damaged log is rewritten, not a reason to fail the run
    for name, (count, played) in plays.items():
        cassettes[name] = Plays(interactions=count, played=sorted(set(played)))
    data = msgspec.json.format(_encoder.encode(_Log(cassettes=cassettes)), indent=2) + b"\n"
    write_atomically(root / PLAYLOG, data)
