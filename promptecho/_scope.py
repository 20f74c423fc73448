"""A cassette scope: one play state, handed out as clients and transports of any flavour.

`use_cassette` opens one (a context manager and a decorator); the pytest fixture
``promptecho_cassette`` is the same `CassetteHandle`. Everything a handle hands out for one
cassette file shares one `Recorder`: a sync and an async client, an httpx and an httpx2
client, all play from the same recordings in order and record into the same journal, and
the file is written once, when the scope closes.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal, TypeAlias, TypeVar

from ._cassette import Interaction
from ._errors import CassetteMiss, Drift, Verification
from ._naming import resolve_cassette
from ._options import Options, split_options
from ._recorder import Recorder
from ._types import Mode

__all__ = ["FLAVORS", "CassetteHandle", "Flavor", "flavour", "use_cassette"]

Flavor: TypeAlias = Literal["httpx", "httpx2"]
FLAVORS: tuple[Flavor, ...] = ("httpx", "httpx2")

R = TypeVar("R")


def flavour(name: str) -> tuple[ModuleType, ModuleType]:
    """promptecho's module for the flavour, and the HTTP library itself."""
    if name == "httpx":
        module = importlib.import_module("promptecho._httpx")
        return module, module.httpx
    if name == "httpx2":
        # Imported only when asked for; without httpx2 this raises an ImportError that says
        # pip install "promptecho[httpx2]".
        module = importlib.import_module("promptecho.httpx2")
        return module, module.httpx2
    raise ValueError(f"{name!r} is not a valid flavor. Valid flavors are: 'httpx', 'httpx2'.")


class _HandedOut:
    __slots__ = ("closed", "closer", "echo", "is_async")

    def __init__(self, echo: Any, closer: Any, is_async: bool) -> None:
        self.echo = echo  # the EchoTransport or AsyncEchoTransport
        self.closer = closer  # what to close: the client, or the transport itself
        self.is_async = is_async
        self.closed = False


class CassetteHandle:
    """A cassette scope: hands out clients and transports that share one play state.

    ``path`` is the cassette; ``mode`` the mode in force. Every method takes ``cassette=``
    to use another file (a bare name is ``<path without .json>/<name>.json``; anything with
    a ``/`` or ending in ``.json`` is a path, relative to the scope's folder), ``flavor=``
    (``"httpx"`` or ``"httpx2"``), promptecho's options (``match_on=``, ``allow_repeats=``...:
    they override the scope's), and, for the clients, any client option (``base_url=``...).

    Examples
    --------
    >>> import promptecho
    >>> with promptecho.use_cassette("cassettes/chat.json") as cassette:  # doctest: +SKIP
    ...     http = cassette.client(flavor="httpx2")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        options: dict[str, Any] | None = None,
        folder: Path | None = None,
        flavor: Flavor = "httpx",
        settle: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.path = Path(path)
        defaults = dict(options or {})
        echo, rest = split_options(defaults)
        if rest:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(rest))}")
        self._defaults = echo
        self._folder = folder if folder is not None else self.path.parent
        self._flavor = flavor
        # A harness's last word on the options of everything handed out (the pytest plugin's:
        # the mode from the command line, CI and markers; no re-recording under CI).
        self._settle = settle or _as_given
        self.mode: Mode = Options(**self._options({})).mode  # checked now, not at first use
        self._recorders: dict[Path, tuple[Recorder, tuple[object, ...]]] = {}
        self._handed_out: list[_HandedOut] = []

    # -- what it hands out -------------------------------------------------------------

    def transport(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """An ``EchoTransport`` of the flavour on this scope's play state."""
        echo, _ = self._echo("EchoTransport", cassette, flavor, options, client=False)
        self._handed_out.append(_HandedOut(echo, echo, is_async=False))
        return echo

    def async_transport(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """An ``AsyncEchoTransport`` of the flavour on this scope's play state."""
        echo, _ = self._echo("AsyncEchoTransport", cassette, flavor, options, client=False)
        self._handed_out.append(_HandedOut(echo, echo, is_async=True))
        return echo

    def client(
        self,
        *,
        cassette: str | os.PathLike[str] | None = None,
        flavor: Flavor | None = None,
        **options: Any,
    ) -> Any:
        """A ``Client`` of the flavour over an ``EchoTransport`` on this scope's play state."""
        echo, (http, rest) = self._echo("EchoTransport", cassette, flavor, options, client=True)
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
        """An ``AsyncClient`` of the flavour over an ``AsyncEchoTransport``."""
        echo, (http, rest) = self._echo(
            "AsyncEchoTransport", cassette, flavor, options, client=True
        )
        client = http.AsyncClient(transport=echo, **rest)
        self._handed_out.append(_HandedOut(echo, client, is_async=True))
        return client

    def sdk(
        self,
        sdk_class: Callable[..., Any],
        /,
        *,
        cassette: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> Any:
        """A ready SDK client (`promptecho.sdk`) whose HTTP clients this scope hands out: they
        share its play state (a sync and an async client of one SDK included) and close with it.

        promptecho's options go to its transports, ``flavor`` is the SDK's own, every other
        keyword goes to the SDK; a placeholder key is given when the cassette will replay.
        """
        from ._sdk import build_sdk, options_for, will_replay

        echo, sdk_kwargs = split_options(options)

        def http_client(flavor: Flavor, is_async: bool) -> Any:
            hand_out = self.async_client if is_async else self.client
            return hand_out(cassette=cassette, flavor=flavor, **options_for(echo, is_async))

        mode = Options(**self._options(echo)).mode
        return build_sdk(
            sdk_class,
            sdk_kwargs,
            http_client=http_client,
            will_replay=will_replay(self.resolve(cassette), mode),
        )

    def websocket(
        self,
        upstream: str,
        *,
        cassette: str | os.PathLike[str] | None = None,
        tls: bool = False,
        audio_bytes: int | None = None,
        timeout: float = 10.0,
    ) -> Any:
        """A started `promptecho.WebSocketEcho` for ``upstream`` on this scope's cassette (its
        sessions go beside the HTTP interactions), in the scope's mode, closed with it."""
        from ._websocket import WebSocketEcho  # needs the websockets extra

        options = Options(**self._options({}))
        echo = WebSocketEcho(
            self.resolve(cassette),
            upstream,
            mode=options.mode,
            tls=tls,
            audio_bytes=audio_bytes,
            timeout=timeout,
            allow_secrets=options.allow_secrets,
        )
        echo.start()
        self._handed_out.append(_HandedOut(echo, echo, is_async=False))
        return echo

    # -- what it saw ---------------------------------------------------------------------

    @property
    def recorders(self) -> list[Recorder]:
        """One per cassette file this scope opened, in the order they were opened."""
        return [recorder for recorder, _ in self._recorders.values()]

    @property
    def misses(self) -> list[CassetteMiss]:
        """Every `CassetteMiss` raised in this scope, even those an SDK swallowed."""
        return [miss for recorder in self.recorders for miss in recorder.misses]

    @property
    def drift(self) -> list[Drift]:
        """Every replay whose request differed from its recording outside the match key."""
        return [d for recorder in self.recorders for d in recorder.drift]

    @property
    def verifications(self) -> list[Verification]:
        """Verify mode: how each live answer compared with its recording."""
        return [v for recorder in self.recorders for v in recorder.verifications]

    def unplayed(self) -> list[Interaction]:
        """The recordings no request of this scope played (each cassette counted once)."""
        return [i for recorder in self.recorders for i in recorder.unplayed()]

    def explain_unplayed(self) -> str:
        """Each unplayed recording and how it differs from the closest played request."""
        return "\n".join(filter(None, (r.explain_unplayed() for r in self.recorders)))

    def __repr__(self) -> str:
        return f"<CassetteHandle {self.path} mode={self.mode!r}>"

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close everything handed out (async ones on a loop of their own), then write each
        cassette once."""
        import asyncio  # only a scope with async clients left open needs it

        def close_one(item: _HandedOut) -> None:
            if item.is_async:
                asyncio.run(item.closer.aclose())
            else:
                item.closer.close()

        self._finish(close_one)

    async def aclose(self) -> None:
        """Close the async clients and transports on the running loop, the one they used,
        then the rest, then write each cassette once."""
        errors: list[BaseException] = []
        for item in reversed(self._handed_out):
            if item.is_async and not item.closed:
                item.closed = True
                try:
                    await item.closer.aclose()
                except BaseException as err:
                    errors.append(err)
        try:
            self.close()
        except BaseException as err:
            errors.append(err)
        if errors:
            raise errors[0]

    def _finish(self, close_one: Callable[[_HandedOut], None]) -> None:
        errors: list[BaseException] = []
        for item in reversed(self._handed_out):
            if item.closed:
                continue
            item.closed = True
            try:
                close_one(item)
            except BaseException as err:  # close the others first, then raise the first
                errors.append(err)
        for recorder, _ in self._recorders.values():
            try:
                recorder.close()
            except BaseException as err:
                errors.append(err)
        if errors:
            raise errors[0]

    def __enter__(self) -> CassetteHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> CassetteHandle:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # Implementation details

    def _options(self, given: dict[str, Any]) -> dict[str, Any]:
        return self._settle({**self._defaults, **given})

    def _echo(
        self,
        cls: str,
        cassette: str | os.PathLike[str] | None,
        flavor: Flavor | None,
        given: dict[str, Any],
        *,
        client: bool,
    ) -> tuple[Any, tuple[ModuleType, dict[str, Any]]]:
        __tracebackhide__ = True
        module, http = flavour(flavor or self._flavor)
        echo_options, rest = split_options(given)
        if rest and not client:
            raise TypeError(f"unexpected transport option(s): {', '.join(sorted(rest))}")
        options = Options(**self._options(echo_options))
        path = self.resolve(cassette)
        opened = self._recorders.get(path)
        if opened is None:
            recorder = Recorder(path, options)
            self._recorders[path] = (recorder, options.cassette_part())
        else:
            recorder, agreed = opened
            if options.cassette_part() != agreed:
                raise ValueError(
                    f"{path} is already open in this scope with other options; the clients "
                    "of one cassette share its recordings, so they take the same mode, "
                    "match_on, redaction and hooks (use cassette=... for another file)"
                )
        return getattr(module, cls)._sharing(recorder, options), (http, rest)

    def resolve(self, cassette: str | os.PathLike[str] | None) -> Path:
        """The file ``cassette=`` names (see the class docstring)."""
        if cassette is None:
            return self.path
        return resolve_cassette(cassette, folder=self._folder, beside=self.path.with_suffix(""))


def _as_given(options: dict[str, Any]) -> dict[str, Any]:
    return options


class use_cassette:
    """Open a cassette scope: ``with``, ``async with``, or as a decorator.

    ``options`` are `promptecho.EchoTransport`'s (``mode``, ``match_on``...), plus ``flavor``
    (the default flavour of what the handle hands out). A decorated function, sync or async,
    receives the handle as the keyword argument ``cassette``.

    Examples
    --------
    >>> import promptecho
    >>> @promptecho.use_cassette("cassettes/summary.json", mode="none")  # doctest: +SKIP
    ... def test_summary(cassette):
    ...     client = cassette.client()
    """

    def __init__(self, path: str | os.PathLike[str], /, **options: Any) -> None:
        self._path = path
        self._flavor: Flavor = options.pop("flavor", "httpx")
        self._options = options
        self._open()  # check the options now (a handle loads nothing until it hands out)

    def _open(self) -> CassetteHandle:
        return CassetteHandle(self._path, options=self._options, flavor=self._flavor)

    def __enter__(self) -> CassetteHandle:
        self._handle = self._open()
        return self._handle

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._handle.close()

    async def __aenter__(self) -> CassetteHandle:
        self._handle = self._open()
        return self._handle

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._handle.aclose()

    def __call__(self, function: Callable[..., R]) -> Callable[..., R]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._open() as handle:
                    return await function(*args, **kwargs, cassette=handle)

            _hide(run_async)
            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> R:
            with self._open() as handle:
                return function(*args, **kwargs, cassette=handle)

        _hide(run)
        return run


def _hide(wrapper: Callable[..., Any]) -> None:
    # pytest reads a test's fixtures from its signature: the handle is ours to pass, not a
    # fixture to look up.
    signature = inspect.signature(wrapper)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "cassette"]
    )
