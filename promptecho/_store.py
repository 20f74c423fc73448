"""The cassette on disk: a lock around read-merge-write, and the journal of new interactions.

Keeping an interaction costs one append to ``<cassette>.journal`` (one line of compact
JSON), not a rewrite of the whole file, so recording stays O(1) per interaction. The
journal is folded into the cassette, atomically, when a transport closes; a journal left
behind by a killed process is folded in by the next recording transport. Reading
(`read_merged`: `Cassette.load`, the commands, a transport in mode ``none``) sees the
cassette plus the journal's whole lines and writes nothing.

Nothing is dropped in silence. An append is one ``write`` of one whole line, its count
checked, under the lock: a short write (a full disk) is undone and raised at that call. A
line a fold cannot read is not lost with the lines after it: every readable line is
folded, and the damaged one is appended to ``<cassette>.damaged`` with a warning naming
both files and lines.

Several processes (pytest-xdist workers, two runs at once) may share a cassette: every
append and every fold happens under an exclusive ``fcntl.flock`` on a lock file named after
the cassette's real path (a cassette reached through a symlinked folder takes the same
lock), kept in a folder of the temporary directory that belongs to the user
(``promptecho-locks-<uid>``, created 0700, its owner and mode checked at each lock). A lock
is waited for at most `LOCK_TIMEOUT` seconds. Files are created with ``O_NOFOLLOW`` (and
``O_EXCL`` for temporary files): a symlink planted at a journal or lock path is an error,
never followed. Where ``fcntl`` does not exist (Windows) the lock is a no-op: one process
per cassette there.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import stat
import time
import warnings
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
from ._errors import CassetteError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_TIMEOUT",
    "append_journal",
    "damaged_path",
    "delete_cassette",
    "fold",
    "has_journal",
    "journal_path",
    "line_digest",
    "lock_folder",
    "locked",
    "read_merged",
]

LOCK_TIMEOUT = 60.0
"""Seconds a process waits for a cassette's lock before a `CassetteError` naming the lock."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLD_TMP = "fold"  # the tag of a fold's temporary file (see `_clean_stray_tmp`)


def journal_path(path: Path) -> Path:
    return Path(_journal(path))


def damaged_path(path: Path) -> Path:
    """Where a fold keeps the journal lines it could not read: ``<cassette>.damaged``."""
    return Path(f"{os.fspath(path)}.damaged")


def _journal(path: str | os.PathLike[str]) -> str:
    # Strings, not Paths, on the paths every transport takes: building a Path costs more
    # than the stat it is built for.
    return f"{os.fspath(path)}.journal"


# -- the lock --------------------------------------------------------------------------


def lock_folder() -> str:
    """This user's lock folder in the temporary directory (not created here)."""
    import tempfile  # here, not at the top: it is slow to import and needed only to record

    return os.path.join(tempfile.gettempdir(), f"promptecho-locks-{os.geteuid()}")


@functools.lru_cache(maxsize=4096)
def _lock_name(real: str) -> str:
    return f"{hashlib.sha256(real.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.lock"


def _open_lock_folder(folder: str) -> int:
    """A descriptor on the lock folder, created 0700 if missing, refused unless private."""
    for _ in range(2):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:  # first use, or deleted mid-run: (re)create it
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
            continue
        except OSError as err:  # ELOOP (a symlink), ENOTDIR (a file)...
            raise CassetteError(
                folder, f"cannot be used as promptecho's lock folder: {err.strerror or err}"
            ) from None
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            os.close(fd)
            raise CassetteError(
                folder,
                f"is promptecho's lock folder but is owned by uid {info.st_uid} with mode "
                f"{stat.S_IMODE(info.st_mode):04o}: it must be yours and 0700. Someone else may "
                "have created it to interfere; remove it, or set TMPDIR to a private folder.",
            )
        return fd
    raise CassetteError(folder, "cannot be created as promptecho's lock folder")


def _open_lock(path: str | os.PathLike[str]) -> tuple[int, str]:
    folder = lock_folder()
    name = _lock_name(os.path.realpath(path))
    dir_fd = _open_lock_folder(folder)
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as err:
        raise CassetteError(
            os.path.join(folder, name), f"cannot be opened as a lock: {err.strerror or err}"
        ) from None
    finally:
        os.close(dir_fd)
    return fd, os.path.join(folder, name)


@contextmanager
def locked(path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the inter-process lock of one cassette (its real path), waiting ``timeout`` s at most."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd, lock = _open_lock(path)
    try:
        _acquire(fd, lock, path, timeout)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, lock: str, path: str | os.PathLike[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CassetteError(
                    path,
                    f"timed out after {timeout:g} s waiting for its lock {lock}: another "
                    "process holds it (a run still recording, or one that hangs)",
                ) from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)


# -- the journal -----------------------------------------------------------------------


def _open_for_append(file: str, path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | _NOFOLLOW | _CLOEXEC
    try:
        try:
            return os.open(file, flags, 0o644)
        except FileNotFoundError:  # the first recording into a new folder
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise CassetteError(
                    path,
                    f"cannot be recorded: its folder {path.parent} cannot be created "
                    f"({err.strerror or err}). Point the cassette at a folder you can write.",
                ) from None
            return os.open(file, flags, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            problem = (
                "is a symbolic link: promptecho never writes through one (someone planted it?)"
            )
        else:
            problem = f"cannot be opened for writing: {err.strerror or err}"
        raise CassetteError(file, problem) from None


def _append_whole(file: str, path: Path, data: list[bytes], *, fsync: bool) -> None:
    """Append the pieces of ``data`` in one write, or not at all: a short write is undone and
    raised. (One ``writev``: a line and its newline go out together without being copied
    into one buffer first, which for a large recording would hold it twice.)

    A file that does not end with a newline holds the torn line of a writer killed inside
    its write: a newline first ends that line, so it is set aside alone and ours stays whole.
    """
    fd = _open_for_append(file, path)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = [b"\n", *data]
        expected = sum(map(len, data))
        try:
            written = os.writev(fd, data)
            if written != expected:
                raise OSError(
                    errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({written} of {expected} bytes)"
                )
            if fsync:
                os.fsync(fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # under the lock: nobody appended after us
            raise CassetteError(
                file,
                f"could not append a recorded interaction: {err.strerror or err}. It is not "
                "recorded; the cassette and the journal's earlier lines are unchanged.",
            ) from None
    finally:
        os.close(fd)


def append_journal(path: Path, encoded: bytes, *, fsync: bool = False) -> None:
    """Make one interaction (its compact JSON) durable: one line, one write, under the lock."""
    with locked(path):
        _append_whole(_journal(path), path, [encoded, b"\n"], fsync=fsync)


def line_digest(encoded: bytes) -> bytes:
    """What a recorder remembers of each line it appends (see `fold`'s ``trusted``)."""
    return hashlib.sha256(encoded).digest()


class _Damaged:
    __slots__ = ("file", "line", "number", "reason")

    def __init__(self, file: Path, number: int, line: bytes, reason: str) -> None:
        self.file = file
        self.number = number
        self.line = line
        self.reason = reason


def _scan(
    file: Path, trusted: Collection[bytes] = (), *, torn: bool
) -> tuple[list[bytes], list[_Damaged]]:
    """The readable lines of a journal, and the damaged ones.

    ``torn``: whether a last line without its newline is damaged (under the lock, where no
    append is in flight) or skipped (a reader without the lock: it may be being written).
    A line whose `line_digest` is in ``trusted`` was appended by the caller from an
    `Interaction` it had just encoded: it is not decoded again to be checked (decoding is
    most of the cost of a fold).
    """
    data = read_if_exists(file)
    if not data:
        return [], []
    lines = data.split(b"\n")
    del data  # the lines are a copy: a large journal is not held twice
    last = lines.pop()  # b"" when the journal ends with a newline
    good: list[bytes] = []
    damaged: list[_Damaged] = []
    for number, line in enumerate(lines, 1):
        if not line or (trusted and line_digest(line) in trusted):
            if line:
                good.append(line)
            continue
        try:
            interaction_decoder.decode(line)
        except (msgspec.DecodeError, RecursionError) as err:
            damaged.append(_Damaged(file, number, line, str(err) or type(err).__name__))
            continue
        good.append(line)
    if last and torn:
        damaged.append(_Damaged(file, len(lines) + 1, last, "cut short (no newline at its end)"))
    return good, damaged


def _set_aside(path: Path, damaged: list[_Damaged], *, fsync: bool) -> None:
    target = damaged_path(path)
    data = read_if_exists(target)
    first = (data.count(b"\n") if data else 0) + 1
    _append_whole(os.fspath(target), path, [b"".join(d.line + b"\n" for d in damaged)], fsync=fsync)
    for n, d in enumerate(damaged):
        warnings.warn(
            f"promptecho: line {d.number} of {d.file} could not be read ({d.reason}); "
            f"it is kept as line {first + n} of {target}, and every other line was folded "
            f"into {path}",
            RuntimeWarning,
            stacklevel=4,
        )


def _warn_unread(damaged: list[_Damaged]) -> None:
    for d in damaged:
        warnings.warn(
            f"promptecho: line {d.number} of {d.file} could not be read ({d.reason}); it is "
            "skipped, and the next recording will keep it aside",
            RuntimeWarning,
            stacklevel=4,
        )


def read_merged(path: str | os.PathLike[str]) -> bytes | None:
    """The cassette's bytes with the journal's readable lines folded in, writing nothing.

    What a transport would replay: `Cassette.load` and the commands read through this. None
    when there is neither a cassette nor a journal line.
    """
    current = read_if_exists(path)
    if not has_journal(path):
        return current
    file = Path(path)
    new: list[bytes] = []
    for journal in [*_leftovers(file, current, delete=False), journal_path(file)]:
        good, damaged = _scan(journal, torn=False)
        _warn_unread(damaged)
        new += good
    if not new:
        return current
    return _merged(file, current, new, None)


def _merged(
    path: Path,
    current: bytes | None,
    new: list[bytes],
    keep: Callable[[list[Interaction]], list[Interaction]] | None,
) -> bytes:
    cassette = Cassette.from_bytes(current, path) if current is not None else None
    old = cassette.interactions if cassette is not None else []
    if keep is not None:
        old = keep(old)
    # The journal's lines are the interactions' compact JSON already: spliced, not
    # decoded and encoded again. The WebSocket sessions in the file are kept as they are.
    websockets = cassette.websockets if cassette is not None else []
    lines = [encode_interaction(i) for i in old]
    lines += new
    new.clear()  # cassette_bytes empties `lines`: each journal line is freed once joined
    return cassette_bytes(lines, websockets)


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
    Lines that cannot be read are kept in `damaged_path`, with a warning.
    """
    with locked(path):
        _clean_stray_tmp(path)
        current = read_if_exists(path)
        journals = [*_leftovers(path, current, delete=True), journal_path(path)]
        new: list[bytes] = []
        damaged: list[_Damaged] = []
        for journal in journals:
            good, bad = _scan(journal, trusted, torn=True)
            new += good
            good.clear()  # `new` holds them now; the merge frees each as it is joined
            damaged += bad
        if not new and keep is None:
            # Nothing readable to fold: keep the damaged lines aside, keep the file.
            if damaged:
                _set_aside(path, damaged, fsync=fsync)
            for journal in journals:
                journal.unlink(missing_ok=True)
            return None
        data = _merged(path, current, new, keep)
        # os.replace is the commit point. The journals are first renamed after the digest of
        # the file about to replace the cassette, so a fold killed between the replace and the
        # unlink is recognised next time (the cassette has that digest) instead of folding
        # the same lines twice; one killed before the replace is simply redone.
        tag = _digest(data)
        folding = _folding_dir(path)
        moved = []
        for n, file in enumerate(journals):
            if file.exists():
                folding.mkdir(exist_ok=True)
                moved.append(file.rename(folding / f"{tag}.{n}.folding"))
        write_atomically(path, data, fsync=fsync, tag=_FOLD_TMP)
        if damaged:
            _set_aside(path, damaged, fsync=fsync)
        for file in moved:
            file.unlink()
        with contextlib.suppress(OSError):  # another process may have refilled it meanwhile
            folding.rmdir()
        return data


def _clean_stray_tmp(path: Path) -> None:
    """Remove the temporary files of folds that were killed.

    Only files it can prove are such: named as `write_atomically` names a fold's file
    (``.<name>.<pid>.<random>.fold.tmp``), owned by this user, a regular file, and made by
    a process that no longer exists.
    """
    prefix, suffix = f".{path.name}.", f".{_FOLD_TMP}.tmp"
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid, _, rest = name[len(prefix) : -len(suffix)].partition(".")
        if not (pid.isdigit() and len(rest) == 12 and _gone(int(pid))):
            continue
        file = path.parent / name
        with contextlib.suppress(OSError):
            info = file.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                file.unlink()


def _gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


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


def _leftovers(path: Path, current: bytes | None, *, delete: bool) -> list[Path]:
    """Journals of a fold that was killed, but those the cassette holds (deleted if asked)."""
    folding = _folding_dir(path)
    if not folding.is_dir():
        return []
    found = sorted(folding.iterdir())
    digest = _digest(current) if current is not None and found else None
    unfolded = []
    for file in found:
        if file.name.partition(".")[0] == digest:
            if delete:
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
