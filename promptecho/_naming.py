"""Cassette file names: a test's default cassette, and names made safe for every filesystem."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

__all__ = ["default_cassette_path", "resolve_cassette", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+@\[\]-]")  # ASCII only: valid on every filesystem
_MAX_STEM = 100  # a file name stays far below the common 255-byte limit
# Windows opens a device, not a file, for these names whatever the extension ("nul.json").
_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{n}" for port in ("com", "lpt") for n in [*"0123456789", "¹", "²", "³"]}
)


def default_cassette_path(
    test_file: str | os.PathLike[str],
    test_name: str,
    class_name: str | None = None,
    *,
    cassette_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The cassette of one test: ``<cassette_dir>/<module>/[<Class>.]<test name>.json``.

    ``cassette_dir`` defaults to ``cassettes`` beside the test file. A name that is not
    plain ASCII letters, digits and ``_.,=+@[]-``, or is longer than 100 characters, is
    made safe and gets ``-`` plus 8 hex digits of its hash, so two ids never share a file
    and no id can leave the folder.

    Examples
    --------
    >>> default_cassette_path("tests/test_chat.py", "test_hello", "TestChat").as_posix()
    'tests/cassettes/test_chat/TestChat.test_hello.json'
    >>> default_cassette_path("tests/test_chat.py", "test_x[a/b]").name
    'test_x[a_b]-804c3669.json'
    """
    folder = _cassette_folder(
        os.fspath(test_file), None if cassette_dir is None else os.fspath(cassette_dir)
    )
    name = test_name if class_name is None else f"{class_name}.{test_name}"
    return folder / f"{safe_name(name)}.json"


@functools.lru_cache(maxsize=1024)  # one per test module: every test of it asks again
def _cassette_folder(test_file: str, cassette_dir: str | None) -> Path:
    module = Path(test_file)
    folder = Path(cassette_dir) if cassette_dir is not None else module.parent / "cassettes"
    return folder / safe_name(module.stem)


def safe_name(name: str) -> str:
    """``name`` as a file name stem: safe characters, bounded length, collisions hashed apart."""
    # Leading dots would hide the file (or make it ".."); Windows drops trailing dots.
    safe = _UNSAFE.sub("_", name).strip(".")
    if safe.partition(".")[0].lower() in _DEVICES:
        safe = safe.replace(".", "_", 1)  # then the digest makes it a name Windows accepts
    elif safe == name and 0 < len(safe) <= _MAX_STEM:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: _MAX_STEM - 9]}-{digest}" if safe else digest


def resolve_cassette(cassette: str | os.PathLike[str], *, folder: Path, beside: Path) -> Path:
    """The file a ``cassette=`` option names: a path (with a ``/`` or ending in ``.json``)
    relative to ``folder``, or a bare name, made safe, for a file in ``beside``.

    >>> resolve_cassette("shared", folder=Path("tests"), beside=Path("tests/cassettes")).as_posix()
    'tests/cassettes/shared.json'
    >>> resolve_cassette("data/a.json", folder=Path("tests"), beside=Path("x")).as_posix()
    'tests/data/a.json'
    """
    if (
        not isinstance(cassette, str)
        or "/" in cassette
        or os.sep in cassette
        or (cassette.endswith(".json"))
    ):
        return folder / cassette
    return beside / f"{safe_name(cassette)}.json"
