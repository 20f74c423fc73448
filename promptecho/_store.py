"""The cassette on disk: a lock around read-merge-write, and the journal of new interactions.

Keeping an interaction costs one append to ``<cassette>.journal`` (one line of compact
JSON), not a rewrite of the whole file, so recording stays O(1) per interaction. The
journal is folded into the cassette, atomically, when a transport closes; a journal left
behind by a killed process is folded in by the next load. A torn last line (the process
died inside its write) is ignored: every line before it is a complete interaction.

Several processes (pytest-xdist workers, two runs at once) may share a cassette: every
append and every fold happens under an exclusive ``fcntl.flock`` on a lock file kept in
the temporary folder (so nothing extra appears beside the cassette). Where ``fcntl`` does
not exist (Windows) the lock is a no-op: one process per cassette there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from ._cassette import (
    Cassette,
    Interaction,
    cassette_bytes,
    encode_interaction,
    interaction_decoder,
    read_if_exists,
    write_atomically,
)

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "append_journal",
    "delete_cassette",
    "fold",
    "has_journal",
    "journal_path",
    "line_digest",
    "locked",
    "read_journal",
]


def journal_path(path: Path) -> Path:
    return Path(_journal(path))


def _journal(path: str | os.PathLike[str]) -> str:
    # Strings, not Paths, on the paths every transport takes: building a Path costs more
    # than the stat it is built for.
    return f"{os.fspath(path)}.journal"


def _lock_path(path: Path) -> str:
    return _lock_file(os.path.abspath(path))


@functools.lru_cache(maxsize=4096)
def _lock_file(absolute: str) -> str:
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:32]
    import tempfile  # here, not at the top: it is slow to import and needed only to record

    folder = os.path.join(tempfile.gettempdir(), "promptecho-locks")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{digest}.lock")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the inter-process lock of one cassette."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def append_journal(path: Path, encoded: bytes, *, fsync: bool = False) -> None:
    """Make one interaction (its compact JSON) durable: one line, one write, under the lock."""
    line = encoded + b"\n"
    journal = _journal(path)
    with locked(path):
        try:
            fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except FileNotFoundError:  # the first recording into a new folder
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)


def line_digest(encoded: bytes) -> bytes:
    """What a recorder remembers of each line it appends (see `fold`'s ``trusted``)."""
    return hashlib.sha256(encoded).digest()


def read_journal(path: Path) -> list[Interaction]:
    """The complete interactions of a journal; a torn or unreadable line ends it."""
    return [interaction_decoder.decode(line) for line in _lines(journal_path(path))]


def _lines(file: Path, trusted: Collection[bytes] = ()) -> list[bytes]:
    """The complete lines of a journal, each one a valid interaction.

    A torn or unreadable line ends it. A line whose `line_digest` is in ``trusted`` was
    appended by the caller from an `Interaction` it had just encoded: it is not decoded
    again to be checked (decoding is most of the cost of a fold).
    """
    data = read_if_exists(file)
    if data is None:
        return []
    found = []
    for line in data.split(b"\n"):
        if not line:
            continue
        if not (trusted and line_digest(line) in trusted):
            try:
                interaction_decoder.decode(line)
            except msgspec.DecodeError:
                break  # the writer died mid-line: nothing after it was written
        found.append(line)
    return found


def fold(
    path: Path,
    *,
    keep: Callable[[list[Interaction]], list[Interaction]] | None = None,
    fsync: bool = False,
    trusted: Collection[bytes] = (),
) -> bytes | None:
    """Merge the journal into the cassette, atomically, and remove the journal.

    ``keep`` filters the interactions already in the file (mode ``all`` drops the ones it
    replaces). ``trusted`` holds the `line_digest` of lines the caller appended itself.
    Returns the bytes of the cassette as written, or None when there was nothing to do.
    """
    with locked(path):
        current = read_if_exists(path)
        leftovers = _unfolded_leftovers(path, current)
        new = [line for f in [*leftovers, journal_path(path)] for line in _lines(f, trusted)]
        if not new and keep is None:
            # Nothing complete to fold (at most a torn line): drop the journal, keep the file.
            journal_path(path).unlink(missing_ok=True)
            return None
        cassette = Cassette.from_bytes(current, path) if current is not None else None
        old = cassette.interactions if cassette is not None else []
        if keep is not None:
            old = keep(old)
        # The journal's lines are the interactions' compact JSON already: spliced, not
        # decoded and encoded again. The WebSocket sessions in the file are kept as they are.
        websockets = cassette.websockets if cassette is not None else []
        data = cassette_bytes([encode_interaction(i) for i in old] + new, websockets)
        # os.replace is the commit point. The journals are first renamed after the digest of
        # the file about to replace the cassette, so a fold killed between the replace and the
        # unlink is recognised next time (the cassette has that digest) instead of folding
        # the same lines twice; one killed before the replace is simply redone.
        tag = _digest(data)
        folding = _folding_dir(path)
        moved = []
        for n, file in enumerate([*leftovers, journal_path(path)]):
            if file.exists():
                folding.mkdir(exist_ok=True)
                moved.append(file.rename(folding / f"{tag}.{n}.folding"))
        write_atomically(path, data, fsync=fsync)
        for file in moved:
            file.unlink()
        with contextlib.suppress(OSError):  # another process may have refilled it meanwhile
            folding.rmdir()
        return data


def has_journal(path: str | os.PathLike[str]) -> bool:
    """Whether a journal (or a killed fold's leftovers) waits to be folded into ``path``.

    Two ``access`` calls, without the lock: a journal that another process starts a moment
    later is folded by that process when it closes. (`os.access` answers False without
    raising, where `os.path.exists` builds and catches an exception per missing file.)
    """
    return os.access(_journal(path), os.F_OK) or os.access(_folding(path), os.F_OK)


def _folding(path: str | os.PathLike[str]) -> str:
    # Journals being folded are moved here, named after the digest of the cassette the
    # fold is about to write (see fold).
    return f"{_journal(path)}.folding"


def _folding_dir(path: Path) -> Path:
    return Path(_folding(path))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _unfolded_leftovers(path: Path, current: bytes | None) -> list[Path]:
    """Journals of a fold that was killed: drop those the cassette holds, return the rest."""
    folding = _folding_dir(path)
    if not folding.is_dir():
        return []
    found = sorted(folding.iterdir())
    digest = _digest(current) if current is not None and found else None
    unfolded = []
    for file in found:
        if file.name.partition(".")[0] == digest:
            file.unlink()
        else:
            unfolded.append(file)
    return unfolded


def delete_cassette(path: Path) -> bool:
    """Remove a cassette, its journal and a killed fold's leftovers, under the lock; whether
    there was a cassette (or a journal) to remove."""
    with locked(path):
        existed = path.exists() or journal_path(path).exists()
        path.unlink(missing_ok=True)
        journal_path(path).unlink(missing_ok=True)
        folding = _folding_dir(path)
        if folding.is_dir():
            for file in folding.iterdir():
                file.unlink()
            folding.rmdir()
    return existed
