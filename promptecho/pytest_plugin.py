"""The pytest plugin: one cassette per test, handed out as clients and transports.

It owns the fixtures (`promptecho_cassette`, `promptecho_client`, `promptecho_async_client`),
the ``promptecho`` marker, the ``--promptecho-mode`` and ``--promptecho-strict`` options, the
``promptecho_*`` ini keys, the end-of-session summary line, and the only read of the ``CI``
environment variable. It is the only promptecho module that imports pytest.

Inside pytest a `CassetteMiss` fails the test at once: the transports handed out here are
given an ``on_miss`` hook that raises pytest's ``Failed`` (a ``BaseException``), which an SDK's
``except Exception`` retry loop cannot catch, so no retry or back-off sleep is spent on it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import inspect
import os
import re
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NoReturn, TypeAlias

import httpx
import msgspec
import pytest

from ._adapter import split_options
from ._cassette import Cassette, Interaction
from ._errors import CassetteMiss, invalid_mode
from ._match import describe, diff, select
from ._recorder import Recorder
from ._types import MODES, Mode

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - depends on the environment
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = [
    "CassetteHandle",
    "default_cassette_path",
    "promptecho_async_client",
    "promptecho_cassette",
    "promptecho_client",
    "resolve_mode",
]

Flavor: TypeAlias = Literal["httpx", "httpx2"]
FLAVORS: tuple[Flavor, ...] = ("httpx", "httpx2")
_TRUE = frozenset({"1", "true", "yes", "on"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+@\[\]-]")  # ASCII only: valid on every filesystem
_MAX_STEM = 100  # a file name stays far below the common 255-byte limit
_SHOWN_DIFFERENCES = 3


# -- naming ----------------------------------------------------------------------------


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
    return folder / f"{_safe_name(name)}.json"


@functools.lru_cache(maxsize=1024)  # one per test module: every test of it asks again
def _cassette_folder(test_file: str, cassette_dir: str | None) -> Path:
    module = Path(test_file)
    folder = Path(cassette_dir) if cassette_dir is not None else module.parent / "cassettes"
    return folder / _safe_name(module.stem)


def _safe_name(name: str) -> str:
    # Leading dots would hide the file (or make it ".."); Windows drops trailing dots.
    safe = _UNSAFE.sub("_", name).strip(".")
    if safe == name and 0 < len(safe) <= _MAX_STEM:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: _MAX_STEM - 9]}-{digest}" if safe else digest


def _is_path(cassette: str | os.PathLike[str]) -> bool:
    if not isinstance(cassette, str):
        return True
    return "/" in cassette or os.sep in cassette or cassette.endswith(".json")


# -- the mode ---------------------------------------------------------------------------


def resolve_mode(*, option: str | None, marker: str | None, ci: bool, ini: str | None) -> Mode:
    """The mode a transport gets, from every place that can set it.

    >>> resolve_mode(option=None, marker="all", ci=True, ini="once")
    'all'
    """
    # Highest first: the command line (--promptecho-mode), the closest marker (or mode=
    # given to the handle), CI set to a true value in the environment (then "none": a
    # forgotten recording fails the build instead of calling a live API), the ini key
    # promptecho_mode, and last the default "once".
    for mode in (option, marker, "none" if ci else None, ini or None, "once"):
        if mode is not None:
            if mode not in MODES:
                raise invalid_mode(mode)
            return mode
    raise AssertionError("unreachable")  # pragma: no cover


# -- the session: settings and the summary --------------------------------------------


@dataclass
class _Stats:
    replayed: int = 0
    recorded: int = 0
    rerecorded: int = 0
    misses: int = 0
    unplayed: int = 0
    used: bool = False

    def add(self, recorder: Recorder, misses: int) -> None:
        self.used = True
        self.misses += misses
        self.unplayed += len(recorder.unplayed())
        if recorder.existed and recorder.recorded:
            self.rerecorded += 1
        elif recorder.recorded:
            self.recorded += 1
        elif recorder.existed:
            self.replayed += 1

    def merge(self, other: Mapping[str, int | bool]) -> None:
        for name in ("replayed", "recorded", "rerecorded", "misses", "unplayed"):
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))
        self.used = self.used or bool(other.get("used"))

    def line(self) -> str:
        return (
            f"promptecho: {_plural(self.replayed, 'cassette')} replayed, {self.recorded} recorded, "
            f"{self.rerecorded} re-recorded, {_plural(self.misses, 'miss', 'misses')}, "
            f"{_plural(self.unplayed, 'unplayed interaction')}"
        )


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


@dataclass
class _Settings:
    option_mode: str | None
    strict: bool
    ci: bool
    ini_mode: str | None
    flavor: Flavor
    cassette_dir: Path | None
    stats: _Stats = field(default_factory=_Stats)


_SETTINGS = pytest.StashKey[_Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptecho", "record and replay LLM API calls")
    group.addoption(
        "--promptecho-mode",
        choices=MODES,
        default=None,
        help="record mode for every cassette; overrides markers, CI and the ini file.",
    )
    group.addoption(
        "--promptecho-strict",
        action="store_true",
        default=False,
        help="fail a test whose cassette holds interactions it did not play.",
    )
    parser.addini(
        "promptecho_cassette_dir", "folder of cassettes (default: cassettes/ beside each test file)"
    )
    parser.addini("promptecho_mode", "default record mode: once, none, new_episodes or all")
    parser.addini("promptecho_flavor", "default HTTP library of the fixtures: httpx or httpx2")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "promptecho(*, mode=None, match_on=None, cassette=None, allow_repeats=False, "
        "**transport_options): options of this test's cassette; the closest marker wins.",
    )
    ini_mode = str(config.getini("promptecho_mode") or "") or None
    if ini_mode is not None and ini_mode not in MODES:
        raise pytest.UsageError(f"promptecho_mode: {invalid_mode(ini_mode)}")
    flavor = str(config.getini("promptecho_flavor") or "httpx")
    if flavor not in FLAVORS:
        raise pytest.UsageError(f"promptecho_flavor: {flavor!r} is not 'httpx' or 'httpx2'.")
    folder = str(config.getini("promptecho_cassette_dir") or "")
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    config.stash[_SETTINGS] = _Settings(
        option_mode=config.getoption("promptecho_mode"),
        strict=bool(config.getoption("promptecho_strict")),
        # The only place promptecho reads CI.
        ci=os.environ.get("CI", "").strip().lower() in _TRUE,
        ini_mode=ini_mode,
        flavor=flavor,
        cassette_dir=base / folder if folder else None,
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    settings = session.config.stash.get(_SETTINGS, None)
    workeroutput = getattr(session.config, "workeroutput", None)  # a pytest-xdist worker
    if settings is not None and workeroutput is not None:
        workeroutput["promptecho"] = dict(vars(settings.stats))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    stats = getattr(node, "workeroutput", {}).get("promptecho")
    if stats:
        node.config.stash[_SETTINGS].stats.merge(stats)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is not None and settings.stats.used:
        terminalreporter.write_line(settings.stats.line())


# -- the handle -------------------------------------------------------------------------


@dataclass
class _HandedOut:
    echo: Any  # the EchoTransport or AsyncEchoTransport
    closer: Any  # what to close: the client, or the transport itself
    is_async: bool
    closed: bool = False


def _fail_now(miss: CassetteMiss) -> NoReturn:
    __tracebackhide__ = True
    # Failed derives from BaseException: an SDK's `except Exception` lets it through.
    # `from None`: the miss it replaces has the same text, shown once is enough.
    raise pytest.fail.Exception(f"CassetteMiss: {miss}", pytrace=False) from None


def _flavour(name: str) -> tuple[ModuleType, ModuleType]:
    """promptecho's module for the flavour, and the HTTP library itself."""
    if name == "httpx":
        return importlib.import_module("promptecho._httpx"), httpx
    if name == "httpx2":
        # Imported only when asked for; without httpx2 this raises an ImportError that says
        # pip install "promptecho[httpx2]".
        module = importlib.import_module("promptecho.httpx2")
        return module, module.httpx2
    raise ValueError(f"{name!r} is not a valid flavor. Valid flavors are: 'httpx', 'httpx2'.")


class CassetteHandle:
    """This test's cassette: hands out clients and transports, and closes them at teardown.

    The `promptecho_cassette` fixture builds it. ``path`` and ``mode`` are the test's own
    (after markers, options and CI). Every method takes ``cassette=`` to use another file: a
    bare name is ``<path without .json>/<name>.json``; anything with a ``/`` or ending in
    ``.json`` is a path, relative to the test file's folder. ``flavor=`` picks ``"httpx"``
    or ``"httpx2"`` (default: the ini key ``promptecho_flavor``, else ``"httpx"``). Other
    keywords are `promptecho.EchoTransport` options, then (for the clients) client options.

    Examples
    --------
    >>> def test_two_providers(promptecho_cassette):  # doctest: +SKIP
    ...     openai_http = promptecho_cassette.client(cassette="openai", flavor="httpx2")
    """

    def __init__(
        self,
        path: Path,
        *,
        test_dir: Path,
        marker: Mapping[str, Any],
        settings: _Settings,
    ) -> None:
        self.path = path
        self._test_dir = test_dir
        self._marker = dict(marker)
        self._settings = settings
        self._handed_out: list[_HandedOut] = []
        self.mode: Mode = self._mode(self._marker.get("mode"))

    def transport(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """An ``EchoTransport`` of the flavour, closed at teardown."""
        echo = self._echo("EchoTransport", cassette, flavor, options, client=False)[0]
        self._handed_out.append(_HandedOut(echo, echo, is_async=False))
        return echo

    def async_transport(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """An ``AsyncEchoTransport`` of the flavour, closed at teardown."""
        echo = self._echo("AsyncEchoTransport", cassette, flavor, options, client=False)[0]
        self._handed_out.append(_HandedOut(echo, echo, is_async=True))
        return echo

    def client(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """A ``Client`` of the flavour over an ``EchoTransport``, closed at teardown."""
        echo, http, rest = self._echo("EchoTransport", cassette, flavor, options, client=True)
        client = http.Client(transport=echo, **rest)
        self._handed_out.append(_HandedOut(echo, client, is_async=False))
        return client

    def async_client(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """An ``AsyncClient`` of the flavour over an ``AsyncEchoTransport``, closed at teardown."""
        echo, http, rest = self._echo("AsyncEchoTransport", cassette, flavor, options, client=True)
        client = http.AsyncClient(transport=echo, **rest)
        self._handed_out.append(_HandedOut(echo, client, is_async=True))
        return client

    def __repr__(self) -> str:
        return f"<CassetteHandle {self.path} mode={self.mode!r}>"

    # Implementation details

    def _mode(self, marker_mode: str | None) -> Mode:
        s = self._settings
        return resolve_mode(option=s.option_mode, marker=marker_mode, ci=s.ci, ini=s.ini_mode)

    def _echo(
        self,
        cls: str,
        cassette: str | os.PathLike[str] | None,
        flavor: Flavor | None,
        options: dict[str, Any],
        *,
        client: bool,
    ) -> tuple[Any, ModuleType, dict[str, Any]]:
        __tracebackhide__ = True
        module, http = _flavour(flavor or self._settings.flavor)
        echo_options, rest = split_options({**self._marker, **options})
        if rest and not client:
            raise TypeError(f"unexpected transport option(s): {', '.join(sorted(rest))}")
        echo_options["mode"] = self._mode(echo_options.get("mode"))
        echo_options.setdefault("on_miss", _fail_now)  # on_miss=None gives the plain CassetteMiss
        echo = getattr(module, cls)(self._resolve(cassette), **echo_options)
        return echo, http, rest

    def _resolve(self, cassette: str | os.PathLike[str] | None) -> Path:
        if cassette is None:
            return self.path
        if _is_path(cassette):
            return self._test_dir / cassette
        return self.path.with_suffix("") / f"{_safe_name(str(cassette))}.json"

    def _close(self) -> None:
        """Close everything still open; async ones on a loop of their own (see `_aclose`)."""
        errors: list[BaseException] = []
        for item in reversed(self._handed_out):
            if item.closed:
                continue
            item.closed = True
            try:
                if item.is_async:
                    asyncio.run(item.closer.aclose())
                else:
                    item.closer.close()
            except BaseException as err:  # close the others first, then raise the first
                errors.append(err)
        if errors:
            raise errors[0]

    async def _aclose(self) -> None:
        """Close the async clients and transports on the running loop, the one they used."""
        errors: list[BaseException] = []
        for item in reversed(self._handed_out):
            if item.is_async and not item.closed:
                item.closed = True
                try:
                    await item.closer.aclose()
                except BaseException as err:
                    errors.append(err)
        if errors:
            raise errors[0]

    def _unplayed_report(self) -> str:
        """What ``--promptecho-strict`` reports: each unplayed interaction, and how it differs."""
        lines: list[str] = []
        for item in self._handed_out:
            recorder: Recorder = item.echo.recorder
            unplayed = recorder.unplayed()
            if not unplayed:
                continue
            left = {msgspec.json.encode(i) for i in unplayed}
            played = (
                [
                    i
                    for i in Cassette.load(recorder.path).interactions
                    if msgspec.json.encode(i) not in left
                ]
                if recorder.path.exists()
                else []
            )
            lines.append(
                f"{recorder.path} holds {_plural(len(unplayed), 'interaction')} this test did not play:"
            )
            for interaction in unplayed:
                lines.extend(_describe_unplayed(interaction, played, recorder.match_on))
        if not lines:
            return ""
        lines.append("Remove them with --promptecho-mode=all (re-records the cassette).")
        return "\n".join(lines)


def _describe_unplayed(
    interaction: Interaction, played: list[Interaction], match_on: tuple[str, ...] | None
) -> list[str]:
    request = interaction.request
    lines = [f"  {request.method} {request.url}"]
    same = [
        i.request
        for i in played
        if (i.request.method, i.request.url) == (request.method, request.url)
    ]
    if not same:
        return [*lines, "    (the test made no request to this endpoint)"]
    recorded = select(request.body, request.api, match_on)
    closest = min(
        (diff(recorded, select(other.body, other.api, match_on)) for other in same), key=len
    )
    if not closest:
        return [*lines, "    (identical to a request that was played; an extra recording)"]
    lines.append("    differs from the closest played request at:")
    lines.extend(f"      {line}" for line in describe(closest[:_SHOWN_DIFFERENCES]))
    if len(closest) > _SHOWN_DIFFERENCES:
        lines.append(f"      ... and {len(closest) - _SHOWN_DIFFERENCES} more")
    return lines


# -- fixtures and the hooks around a test -----------------------------------------------

_HANDLE = pytest.StashKey[CassetteHandle]()


def _marker_options(item: pytest.Item) -> dict[str, Any]:
    """The merged kwargs of every ``promptecho`` marker: the closest one wins, key by key."""
    merged: dict[str, Any] = {}
    for marker in reversed(list(item.iter_markers("promptecho"))):  # farthest first
        if marker.args:
            raise TypeError("@pytest.mark.promptecho takes keyword arguments only")
        merged |= marker.kwargs
    return merged


def _handle_for(request: pytest.FixtureRequest) -> CassetteHandle:
    __tracebackhide__ = True
    settings = request.config.stash[_SETTINGS]
    item = request.node
    assert isinstance(item, pytest.Item)
    marker = _marker_options(item)
    test_file = item.path
    class_name = item.cls.__name__ if getattr(item, "cls", None) is not None else None  # type: ignore[attr-defined]
    path = default_cassette_path(
        test_file, item.name, class_name, cassette_dir=settings.cassette_dir
    )
    cassette = marker.pop("cassette", None)
    if cassette is not None:
        path = (
            test_file.parent / cassette
            if _is_path(cassette)
            else path.parent / f"{_safe_name(str(cassette))}.json"
        )
    _, rest = split_options(marker)
    if rest:
        raise TypeError(
            f"@pytest.mark.promptecho got unexpected option(s): {', '.join(sorted(rest))}"
        )
    return CassetteHandle(path, test_dir=test_file.parent, marker=marker, settings=settings)


def _this_test(request: pytest.FixtureRequest) -> Generator[CassetteHandle, None, None]:
    """The test's handle, shared by every promptecho fixture it uses.

    The first of them to set up builds it and, at its teardown, closes all it handed out.
    `promptecho_client` takes the handle from here rather than from the
    `promptecho_cassette` fixture: one fixture less to set up and tear down per test.
    """
    handle = request.node.stash.get(_HANDLE, None)
    if handle is not None:
        yield handle
        return
    handle = _handle_for(request)
    request.node.stash[_HANDLE] = handle
    try:
        yield handle
    finally:
        try:
            handle._close()
        finally:
            stats = request.config.stash[_SETTINGS].stats
            for item in handle._handed_out:
                stats.add(item.echo.recorder, len(item.echo.misses))
            # A test item lives for the whole session: were it to keep its handle, every
            # cassette ever loaded would stay in memory, and each garbage collection and the
            # interpreter's exit would walk them all (measured: ~1 ms per test at 300 tests).
            handle._handed_out.clear()
            del request.node.stash[_HANDLE]


@pytest.fixture
def promptecho_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteHandle]:
    """This test's cassette (a `CassetteHandle`); what it hands out is closed at teardown."""
    yield from _this_test(request)


@pytest.fixture
def promptecho_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``promptecho_cassette.client()``: a client on this test's cassette."""
    __tracebackhide__ = True
    handles = _this_test(request)
    handle = next(handles)
    try:
        client = handle.client()
    except BaseException:
        handles.close()  # a handle this fixture built is closed and counted all the same
        raise
    yield client
    next(handles, None)


@_async_fixture
async def promptecho_async_client(promptecho_cassette: CassetteHandle) -> AsyncIterator[Any]:
    """``promptecho_cassette.async_client()``, closed on the test's event loop."""
    client = promptecho_cassette.async_client()
    try:
        yield client
    finally:
        await promptecho_cassette._aclose()


@_async_fixture
async def _promptecho_async_teardown(promptecho_cassette: CassetteHandle) -> AsyncIterator[None]:
    # Added to async tests that use promptecho_cassette (see pytest_runtest_setup): the async
    # clients they made are closed on the test's event loop, before pytest-asyncio closes it.
    yield
    await promptecho_cassette._aclose()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if (
        isinstance(item, pytest.Function)
        and "promptecho_cassette" in item.fixturenames
        and inspect.iscoroutinefunction(item.obj)
        and item.config.pluginmanager.has_plugin("asyncio")
        and "_promptecho_async_teardown" not in item.fixturenames
    ):
        item.fixturenames.append("_promptecho_async_teardown")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield  # raises if the test failed: then there is nothing more to say
    handle = item.stash.get(_HANDLE, None)
    if handle is not None and item.config.stash[_SETTINGS].strict:
        report = handle._unplayed_report()
        if report:
            pytest.fail(report, pytrace=False)
    return result
