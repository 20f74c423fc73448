"""What the httpx and httpx2 transports share: everything but the flavour's own classes.

httpx2 is a fork of httpx with the same API and distinct classes, so each flavour module
(`promptecho._httpx`, `promptecho.httpx2`) only declares its classes on top of the mixins
here: which base classes, how to build a Response, which module holds the exceptions.
Every decision is the `Recorder`'s; this module moves bytes between it and the flavour.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Protocol, Self, TypeVar, cast

from ._cassette import Failure, Interaction
from ._content import DRAIN_BYTES, DRAIN_SECONDS, DecodedSize, drain_cut
from ._errors import CassetteError, CassetteMiss, Drift, Verification
from ._options import Options, split_options
from ._recorder import Record, Recorder, Replay
from ._types import Mode, OnExpiry, ReplayTiming

__all__ = [
    "AsyncEcho",
    "AsyncRecordingTee",
    "ReplayChunks",
    "SyncEcho",
    "SyncRecordingTee",
    "make_client",
    "split_options",
    "transport_doc",
]

ResponseT = TypeVar("ResponseT")
ClientT = TypeVar("ClientT")


if TYPE_CHECKING:  # the shapes the mixins rely on; at run time any flavour's objects
    from datetime import timedelta

    from ._types import HeaderSource

    class _Request(Protocol):
        @property
        def method(self) -> str: ...
        @property
        def url(self) -> object: ...
        @property
        def headers(self) -> HeaderSource: ...
        def read(self) -> bytes: ...

    class _AsyncRequest(_Request, Protocol):
        async def aread(self) -> bytes: ...

    class _Response(Protocol):
        @property
        def status_code(self) -> int: ...
        @property
        def headers(self) -> HeaderSource: ...
        @property
        def extensions(self) -> Any: ...
        @property
        def stream(self) -> Any: ...


def _delay_seconds(delay_ms: int, timing: ReplayTiming) -> float:
    if timing is None or delay_ms <= 0:
        return 0.0
    scale = 1.0 if timing == "recorded" else float(timing)
    return delay_ms * scale / 1000.0


def _raise_failure(errors: ModuleType, failure: Failure) -> None:
    cls = getattr(errors, failure.type, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.TransportError)):
        cls = errors.TransportError
    raise cls(failure.message)


class ReplayChunks:
    """A recorded body re-emitted chunk by chunk (one SSE/NDJSON event per chunk), sync or async.

    Flavour modules subclass it together with their ``SyncByteStream`` and ``AsyncByteStream``.
    """

    _http: ModuleType

    def __init__(self, replay: Replay, timing: ReplayTiming) -> None:
        self._replay = replay
        self._timing = timing

    def __iter__(self) -> Iterator[bytes]:
        if self._timing is None:  # as fast as possible: no per-chunk arithmetic
            for _, chunk in self._replay.chunks:
                yield chunk
        else:
            for delay_ms, chunk in self._replay.chunks:
                pause = _delay_seconds(delay_ms, self._timing)
                if pause:
                    time.sleep(pause)
                yield chunk
        if self._replay.error is not None:
            _raise_failure(self._http, self._replay.error)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._timing is None:
            for _, chunk in self._replay.chunks:
                yield chunk
        else:
            import asyncio  # only async replays with timing need it: keep imports light

            for delay_ms, chunk in self._replay.chunks:
                pause = _delay_seconds(delay_ms, self._timing)
                if pause:
                    await asyncio.sleep(pause)
                yield chunk
        if self._replay.error is not None:
            _raise_failure(self._http, self._replay.error)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _Tee:
    """The part of a recording stream that sync and async share: bookkeeping only."""

    _http: ModuleType

    def __init__(
        self,
        recorder: Recorder,
        record: Record,
        status: int,
        headers: HeaderSource,
        started: float,
        unfinished: set[_Tee],
    ) -> None:
        self._recorder = recorder
        self._unfinished = unfinished
        self._record = record
        self._status = status
        self._headers = headers
        self._started = started
        self._chunks: list[tuple[float, bytes]] = []
        self._size = 0  # decoded bytes: what a compressed body inflates to is what counts
        self._measure = DecodedSize(headers.get("content-encoding"))
        self._done = False
        unfinished.add(self)

    def _keep(self, chunk: bytes) -> None:
        self._size += self._measure(chunk)
        try:
            self._recorder.admit(self._record, self._size)
        except CassetteError:
            self._done = True  # refused: nothing is recorded, and the copy is dropped
            self._unfinished.discard(self)
            self._chunks.clear()
            raise
        self._chunks.append((time.perf_counter(), chunk))

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        self._unfinished.discard(self)
        failure = None
        if error is not None:
            failure = Failure(type=type(error).__name__, message=str(error))
        chunks, self._chunks = self._chunks, []  # the copy is the recorder's now, not ours
        self._recorder.complete(
            self._record,
            self._status,
            self._headers.multi_items(),
            chunks,
            started=self._started,
            error=failure,
        )

    def _drain_spent(self, deadline: float, budget: int) -> bool:
        """Whether draining a stream the caller closed early must stop (and so record the cut)."""
        if time.monotonic() < deadline and self._size < budget:
            return False
        self._finish(drain_cut(self._recorder.path, self._size, DRAIN_SECONDS, DRAIN_BYTES))
        return True


class SyncRecordingTee(_Tee):
    """Yields each upstream chunk as it arrives and keeps a copy (never buffers first).

    One iterator over the upstream stream serves both the caller and `close`: a caller
    that stops reading abandons our generator, and that must not finalize (and so close)
    the upstream stream that `close` still has to read to its end.
    """

    def __init__(self, inner: Iterable[bytes], *args: Any) -> None:
        super().__init__(*args)
        self._inner = inner
        self._chunks_in = iter(inner)

    def __iter__(self) -> Iterator[bytes]:
        return self._pull()

    def _pull(self) -> Iterator[bytes]:
        try:
            for chunk in self._chunks_in:
                self._keep(chunk)
                yield chunk
        except self._http.TransportError as err:
            self._finish(err)
            raise
        self._finish()

    def close(self) -> None:
        # Closed early: read the rest so the cassette holds the whole response, within a
        # bound (see `drain_cut`).
        try:
            if not self._done:
                deadline, budget = time.monotonic() + DRAIN_SECONDS, self._size + DRAIN_BYTES
                with contextlib.suppress(self._http.TransportError):
                    for _ in self._pull():
                        if self._drain_spent(deadline, budget):
                            break
        finally:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()


class AsyncRecordingTee(_Tee):
    """The async twin of `SyncRecordingTee`."""

    def __init__(self, inner: AsyncIterable[bytes], *args: Any) -> None:
        super().__init__(*args)
        self._inner = inner
        self._chunks_in = aiter(inner)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pull()

    async def _pull(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._chunks_in:
                self._keep(chunk)
                yield chunk
        except self._http.TransportError as err:
            self._finish(err)
            raise
        self._finish()

    async def aclose(self) -> None:
        try:
            if not self._done:
                deadline, budget = time.monotonic() + DRAIN_SECONDS, self._size + DRAIN_BYTES
                with contextlib.suppress(self._http.TransportError):
                    rest = self._pull()
                    async for _ in rest:
                        if self._drain_spent(deadline, budget):
                            await rest.aclose()
                            break
        finally:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()


class _Echo(Generic[ResponseT]):
    """Constructor, options and the shared steps of both transport directions.

    A flavour's transport class sets ``_http`` (the httpx or httpx2 module) and the
    classes of its replay and recording streams; everything else is here.
    """

    _http: ModuleType
    _replay_class: type[ReplayChunks]
    _recording_class: type[SyncRecordingTee] | type[AsyncRecordingTee]

    def __init__(
        self,
        cassette: str | os.PathLike[str],
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
        options = Options(
            mode=mode,
            match_on=match_on,
            transport=transport,
            allow_repeats=allow_repeats,
            replay_timing=replay_timing,
            redact_headers=redact_headers,
            redact_query=redact_query,
            before_record=before_record,
            fsync=fsync,
            on_miss=on_miss,
            redact=redact,
            allow_secrets=allow_secrets,
            max_age=max_age,
            on_expiry=on_expiry,
        )
        self._setup(Recorder(cassette, options), options, owns_recorder=True)

    @classmethod
    def _sharing(cls, recorder: Recorder, options: Options) -> Self:
        """A transport on a recorder that others share (a cassette scope's): it plays from
        and records into the same state, and leaves closing the recorder to its owner."""
        echo = cls.__new__(cls)
        echo._setup(recorder, options, owns_recorder=False)
        return echo

    def _setup(self, recorder: Recorder, options: Options, *, owns_recorder: bool) -> None:
        self._recorder = recorder
        self._owns_recorder = owns_recorder
        self._transport = options.transport
        self._transport_lock = threading.Lock()
        self._timing = options.replay_timing
        # Called with each miss before it is raised; a harness may raise something an SDK's
        # `except Exception` cannot swallow (the pytest plugin raises pytest's Failed).
        self._on_miss = options.on_miss
        self._closed = False
        # Recording streams not read to their end yet: close() reads them so they are kept.
        self._unfinished: set[_Tee] = set()
        self._headers: dict[int, Any] = {}

    @property
    def path(self) -> Path:
        """The cassette file."""
        return self._recorder.path

    @property
    def mode(self) -> Mode:
        return self._recorder.mode

    @property
    def misses(self) -> list[CassetteMiss]:
        """Every `CassetteMiss` raised on this cassette, even if an SDK swallowed it."""
        return self._recorder.misses

    @property
    def verifications(self) -> list[Verification]:
        """Verify mode: how each live answer compared with its recording."""
        return self._recorder.verifications

    @property
    def drift(self) -> list[Drift]:
        """Every replay whose request differs from its recording outside the match key."""
        return self._recorder.drift

    @property
    def recorder(self) -> Recorder:
        """The flavour-neutral state (play counts, unplayed recordings) for harnesses."""
        return self._recorder

    def _decide(self, request: _Request, body: bytes) -> Replay | Record:
        try:
            return self._recorder.decide(request.method, str(request.url), request.headers, body)
        except CassetteMiss as miss:
            if self._on_miss is not None:
                self._on_miss(miss)
            raise

    def _replayed(self, replay: Replay) -> ResponseT:
        if replay.status is None:
            assert replay.error is not None
            _raise_failure(self._http, replay.error)
        assert replay.status is not None
        # The flavour's Headers are built once per recording (a Response copies them
        # cheaply); a recording lives as long as the transport, so its id is stable.
        encoding = replay.header_encoding
        headers = self._headers.get(id(replay))
        if headers is None:
            headers = self._headers[id(replay)] = self._http.Headers(replay.headers, encoding)
        # stream= rather than content=: httpx adds no Content-Length or
        # Transfer-Encoding headers for a stream, so the recorded headers stay as they were.
        response = self._http.Response(
            replay.status, headers=headers, stream=self._replay_stream(replay)
        )
        # The Response's copy forgets the encoding and would work it out again, over every
        # header, at the first lookup (a client looks up several).
        response.headers.encoding = encoding
        return cast(ResponseT, response)

    def _recording(self, decision: Record, response: _Response, started: float) -> ResponseT:
        """The upstream's response, its body passed through a tee that records it."""
        # The caller's response shares the flavour's Headers object (a cheap copy); the
        # recording reads the pairs out of it when the body is complete.
        tee = self._recording_class(
            response.stream,
            self._recorder,
            decision,
            response.status_code,
            response.headers,
            started,
            self._unfinished,
        )
        return cast(
            ResponseT,
            self._http.Response(
                response.status_code,
                headers=response.headers,
                stream=tee,
                extensions=response.extensions,
            ),
        )

    def _failed(self, decision: Record, err: BaseException) -> None:
        self._recorder.fail(decision, Failure(type=type(err).__name__, message=str(err)))

    def _ensure_transport(self) -> None:
        # Under a lock: threads sharing the transport would otherwise each create one, and
        # only the last would ever be closed (its siblings' sockets leak).
        with self._transport_lock:
            if self._transport is None:
                self._transport = self._default_transport()

    def _check_flavour(self, request: object) -> None:
        if not isinstance(request, self._http.Request):
            ours, theirs = self._http.__name__, type(request).__module__.partition(".")[0]
            other = "promptecho.httpx2" if ours == "httpx" else "promptecho"
            raise TypeError(
                f"{type(self).__name__} is promptecho's {ours} transport, but it was given "
                f"a {theirs} request: use {other}.{type(self).__name__} with a {theirs} client."
            )

    def _replay_stream(self, replay: Replay) -> ReplayChunks:
        return self._replay_class(replay, self._timing)

    def _default_transport(self) -> Any:
        raise NotImplementedError


class SyncEcho(_Echo[ResponseT]):
    """The request path of a sync transport."""

    _recording_class: type[SyncRecordingTee]

    def _default_transport(self) -> Any:
        return self._http.HTTPTransport()

    def _handle(self, request: _Request) -> ResponseT:
        self._check_flavour(request)
        decision = self._decide(request, request.read())
        if isinstance(decision, Replay):
            return self._replayed(decision)
        self._ensure_transport()
        started = time.perf_counter()
        try:
            response: _Response = self._transport.handle_request(request)
        except self._http.TransportError as err:
            self._failed(decision, err)
            raise
        return self._recording(decision, response, started)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # A response nobody read or closed is read now, so that it is recorded.
            for tee in list(self._unfinished):
                tee.close()  # type: ignore[attr-defined]
            if self._owns_recorder:
                self._recorder.close()
        finally:
            if self._transport is not None:
                self._transport.close()

    # An AsyncClient calls these: say what to use instead of a bare AttributeError.
    async def handle_async_request(self, request: object) -> NoReturn:
        raise _wrong_direction(self, "sync")

    async def __aenter__(self) -> NoReturn:
        raise _wrong_direction(self, "sync")


class AsyncEcho(_Echo[ResponseT]):
    """The request path of an async transport: `SyncEcho` with awaits."""

    _recording_class: type[AsyncRecordingTee]

    def _default_transport(self) -> Any:
        return self._http.AsyncHTTPTransport()

    async def _ahandle(self, request: _AsyncRequest) -> ResponseT:
        self._check_flavour(request)
        decision = self._decide(request, await request.aread())
        if isinstance(decision, Replay):
            return self._replayed(decision)
        self._ensure_transport()
        started = time.perf_counter()
        try:
            response: _Response = await self._transport.handle_async_request(request)
        except self._http.TransportError as err:
            self._failed(decision, err)
            raise
        return self._recording(decision, response, started)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for tee in list(self._unfinished):
                await tee.aclose()  # type: ignore[attr-defined]
            if self._owns_recorder:
                self._recorder.close()
        finally:
            if self._transport is not None:
                await self._transport.aclose()

    # A sync Client calls these: say what to use instead of a bare AttributeError.
    def handle_request(self, request: object) -> NoReturn:
        raise _wrong_direction(self, "async")

    def __enter__(self) -> NoReturn:
        raise _wrong_direction(self, "async")


def _wrong_direction(echo: object, kind: str) -> TypeError:
    module = "promptecho.httpx2" if type(echo).__module__ == "promptecho.httpx2" else "promptecho"
    if kind == "sync":
        fix = f"use {module}.AsyncEchoTransport with an AsyncClient (or {module}.async_client(...))"
        return TypeError(
            f"{type(echo).__name__} is a sync transport, but an async client used it: {fix}."
        )
    fix = f"use {module}.EchoTransport with a Client (or {module}.client(...))"
    return TypeError(
        f"{type(echo).__name__} is an async transport, but a sync client used it: {fix}."
    )


def transport_doc(http: str, module: str) -> str:
    """The docstring of a flavour's ``EchoTransport``: one text, the library's names filled in."""
    return _TRANSPORT_DOC.format(http=http, module=module)


_TRANSPORT_DOC = """A `{http}.BaseTransport` that replays from a cassette, or records into it.

    Parameters
    ----------
    cassette
        The cassette file. It is created when something is recorded.
    mode
        ``"once"`` (default), ``"none"``, ``"new_episodes"`` or ``"all"``, as in vcrpy, or
        ``"rewrite"`` (delete the cassette, then record everything).
    match_on
        The canonical request fields whose values decide the response; replaces
        `promptecho.DEFAULT_MATCH_ON` (extend it with ``DEFAULT_MATCH_ON + ["temperature"]``).
    transport
        The real transport to record through; a ``{http}.HTTPTransport()`` is created
        only when a request actually has to go upstream.
    allow_repeats
        Keep replaying the last recording of a request once every recording was played.
    replay_timing
        ``None`` replays streams as fast as possible, ``"recorded"`` reproduces the
        recorded gaps between events, a number scales them.
    redact_headers, redact_query, redact
        More names to redact: header names, query parameter names, and rules such as
        ``"request:messages[*].content"`` or ``"response:choices[*].message.content"``.
    before_record
        Called with each interaction before it is written; returns it (changed) or None.
    fsync
        Flush to the disk before every journal append and rename.
    on_miss
        Called with each `promptecho.CassetteMiss` before it is raised.
    allow_secrets
        Write a cassette even when it holds something shaped like an API key.
    max_age, on_expiry
        A cassette whose oldest recording is older than ``max_age`` (``"12h"``, ``"30d"``,
        ``"4w"`` or a ``timedelta``) has expired: ``on_expiry`` ``"warn"`` (default),
        ``"fail"`` (`promptecho.CassetteExpired`) or ``"rerecord"``.

    Examples
    --------
    >>> import {http}, {module}
    >>> client = {http}.Client(transport={module}.EchoTransport("cassettes/chat.json"))
    """


def make_client(
    client_class: Callable[..., ClientT],
    transport_class: Callable[..., object],
    cassette: str | os.PathLike[str],
    options: dict[str, Any],
) -> ClientT:
    """``client_class(transport=transport_class(cassette, ...), ...)``, the options split."""
    echo, rest = split_options(options)
    return client_class(transport=transport_class(cassette, **echo), **rest)
