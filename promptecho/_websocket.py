"""`WebSocketEcho`: a WebSocket server on 127.0.0.1 that records a relay to the upstream, or replays.

The SDKs let their WebSocket base URL be chosen (openai ``websocket_base_url``, google-genai
``http_options.base_url``), so the client is pointed here and nothing is patched. The server
runs its own event loop in a thread, so the same object serves sync and async clients; every
decision (which session answers, whether a frame matches, what is stored) is in the pure
`promptecho._frames`. This module only moves messages between sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

try:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.datastructures import Headers as WsHeaders
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'promptecho.WebSocketEcho needs the websockets package: pip install "promptecho[websockets]"'
    ) from err

from ._cassette import AnyFrame, CloseFrame, JsonFrame, Refusal, WebSocketSession
from ._errors import CassetteMiss, invalid_mode
from ._frames import (
    ClientIds,
    Record,
    Refuse,
    Replay,
    check_secrets,
    compare,
    decide,
    frame_miss,
    frame_of,
    handshake_headers,
    load_sessions,
    matching_path,
    payload,
    save_sessions,
    trim_audio,
)
from ._keeper import _now
from ._types import MODES, Mode
from ._version import VERSION

__all__ = ["WebSocketEcho"]

_HOST = "127.0.0.1"
_POLICY_VIOLATION = 1008
_ABNORMAL = 1006
_NO_STATUS = 1005
# Headers the upstream connection makes itself; the rest of the client's handshake is passed on.
_OWN_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)
_SERVER_OPTIONS = {"compression": None, "max_size": None, "ping_interval": None}


@dataclass
class _Relay:
    """A connection being recorded: the upstream side and the session it fills."""

    upstream: ClientConnection
    session: WebSocketSession
    closed: bool = False
    clock: float = field(default_factory=time.monotonic)


class WebSocketEcho:
    """A local WebSocket endpoint that records the sessions it relays to ``upstream``, or replays them.

    Parameters
    ----------
    cassette
        The cassette file; the sessions go beside its HTTP interactions.
    upstream
        Where recording connects, e.g. ``"wss://api.openai.com"``: the client's path and
        query are appended to it, and its handshake headers passed on.
    mode
        ``"once"`` (record while the cassette has no WebSocket session, then replay),
        ``"none"``, ``"new_episodes"`` or ``"all"``, as for HTTP. ``"rewrite"`` records like
        ``"all"`` (the HTTP interactions in the file are kept); ``"verify"`` relays live and
        writes nothing (no drift report for WebSockets).
    tls
        Serve ``wss://`` with a throwaway self-signed certificate; trust it with ``.ssl_context``.
    audio_bytes
        Keep at most this many decoded bytes of each base64 audio payload the server sends.
    timeout
        How long replay waits for a client frame, and recording for the upstream handshake.
    allow_secrets
        Write the sessions even if the secret scan finds a key in them.

    Examples
    --------
    >>> echo = WebSocketEcho("cassettes/realtime.json", "wss://api.openai.com", mode="none")
    >>> echo.mode
    'none'
    """

    def __init__(
        self,
        cassette: str | Path,
        upstream: str,
        *,
        mode: Mode = "once",
        tls: bool = False,
        audio_bytes: int | None = None,
        timeout: float = 10.0,
        allow_secrets: bool = False,
    ) -> None:
        if mode not in MODES:
            raise invalid_mode(mode)
        self.path = Path(cassette)
        self.upstream = upstream.rstrip("/")
        self.mode: Mode = mode
        self.tls = tls
        self.audio_bytes = audio_bytes
        self.timeout = timeout
        self.allow_secrets = allow_secrets
        self.url = ""
        self.ssl_context: ssl.SSLContext | None = None
        self.misses: list[CassetteMiss] = []
        self._server_ssl: ssl.SSLContext | None = None
        self._sessions: list[WebSocketSession] = []
        self._played: set[int] = set()
        self._plans: dict[object, _Relay | Replay | Refuse] = {}
        self._recorded: list[WebSocketSession] = []
        self._removed: list[str] = []  # the secret values redaction took out of handshakes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # Sync and async use: the server lives in its own thread either way.

    def __enter__(self) -> WebSocketEcho:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> WebSocketEcho:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def start(self) -> None:
        """Load the cassette's sessions and start serving; `.url` is set when this returns."""
        self._sessions = load_sessions(self.path)
        if self.tls:
            self._server_ssl, self.ssl_context = _self_signed_contexts()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name="promptecho-websocket", daemon=True
        )
        self._thread.start()
        if not ready.wait(self.timeout) or self._failure is not None:
            raise RuntimeError("promptecho: the WebSocket server did not start") from self._failure

    def close(self) -> None:
        """Stop serving, write what was recorded, and raise the first miss, if any."""
        if self._thread is not None and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(self.timeout + 5)
        self._thread = None
        new, self._recorded = self._recorded, []
        if new and self.mode != "verify":  # verify: live answers, the cassette left as it is
            if not self.allow_secrets:
                check_secrets(self.path, new, self._removed)
            save_sessions(self.path, new, replace=self.mode in ("all", "rewrite"))
        if self.misses:
            raise self.misses[0]

    # The server

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = await serve(
                self._handle,
                _HOST,
                0,
                process_request=self._process_request,
                select_subprotocol=self._select_subprotocol,
                ssl=self._server_ssl,
                **_SERVER_OPTIONS,  # type: ignore[arg-type]
            )
        except BaseException as err:
            self._failure = err
            ready.set()
            raise
        port = next(iter(server.sockets)).getsockname()[1]
        self.url = f"{'wss' if self.tls else 'ws'}://{_HOST}:{port}"
        ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), self.timeout)

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        secrets = self._removed
        path = matching_path(request.path, secrets)
        url = f"{self.upstream}{path}"
        plan = decide(self.mode, path, self._sessions, self._played, cassette=self.path, url=url)
        match plan:
            case Replay(index=index, session=session):
                self._played.add(index)
                if session.refused is not None:
                    return _refusal_response(session.refused)
                self._plans[conn.id] = plan
                return None
            case Refuse(miss=miss):
                self.misses.append(miss)
                self._plans[conn.id] = plan  # accepted, then closed with 1008 by the handler
                return None
            case Record():
                return await self._open_upstream(conn, request, path, secrets)
        raise AssertionError(plan)  # pragma: no cover - decide returns one of the three

    async def _open_upstream(
        self, conn: ServerConnection, request: Request, path: str, secrets: list[str]
    ) -> Response | None:
        pairs = list(request.headers.raw_items())
        session = WebSocketSession(
            path=path,
            headers=handshake_headers(pairs, secrets),
            recorded_at=_now(),
            recorded_by=VERSION,
        )
        offered = [
            Subprotocol(p.strip())
            for v in request.headers.get_all("sec-websocket-protocol")
            for p in v.split(",")
        ]
        try:
            upstream = await connect(
                f"{self.upstream}{request.path}",
                additional_headers=[(k, v) for k, v in pairs if k.lower() not in _OWN_HEADERS],
                user_agent_header=None,
                subprotocols=offered or None,
                open_timeout=self.timeout,
                proxy=None,
                **_SERVER_OPTIONS,  # type: ignore[arg-type]
            )
        except InvalidStatus as err:
            answer = err.response
            session.refused = Refusal(
                status=answer.status_code,
                headers={
                    k.lower(): v for k, v in answer.headers.raw_items() if k.lower() != "set-cookie"
                },
                body=bytes(answer.body).decode("utf-8", "replace"),
            )
            self._recorded.append(session)
            return _refusal_response(session.refused)
        except (OSError, InvalidHandshake, TimeoutError) as err:
            return conn.respond(502, f"promptecho: cannot open {self.upstream}{path}: {err}\n")
        session.subprotocol = upstream.subprotocol
        relay = _Relay(upstream=upstream, session=session)
        self._recorded.append(session)
        self._plans[conn.id] = relay
        return None

    def _select_subprotocol(self, conn: ServerConnection, offered: object) -> Subprotocol | None:
        match self._plans.get(conn.id):
            case _Relay(upstream=upstream):
                return upstream.subprotocol
            case Replay(session=session) if session.subprotocol:
                return Subprotocol(session.subprotocol)
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        match self._plans.pop(conn.id, None):
            case _Relay() as relay:
                await self._relay(conn, relay)
            case Replay(index=index, session=session):
                await self._replay(conn, index, session)
            case _:
                await conn.close(
                    _POLICY_VIOLATION, "promptecho: no recorded WebSocket session matches"
                )

    # Recording

    async def _relay(self, client: ServerConnection, relay: _Relay) -> None:
        pumps = [
            asyncio.create_task(self._pump(client, relay.upstream, "client", relay)),
            asyncio.create_task(self._pump(relay.upstream, client, "server", relay)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait(pumps, timeout=self.timeout)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            relay.upstream.transport.abort()

    async def _pump(
        self,
        source: ServerConnection | ClientConnection,
        target: ServerConnection | ClientConnection,
        side: str,
        relay: _Relay,
    ) -> None:
        frames = relay.session.frames
        while True:
            try:
                message = await source.recv()
            except ConnectionClosed as exc:
                closed = exc
                break
            frame = frame_of("client" if side == "client" else "server", message, _since(relay))
            if side == "server" and self.audio_bytes is not None and isinstance(frame, JsonFrame):
                frame.value = trim_audio(frame.value, self.audio_bytes)
            frames.append(frame)
            try:
                await target.send(message)
            except ConnectionClosed:
                return  # the other side closed: its own pump records how
        if relay.closed:
            return
        relay.closed = True
        code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (_ABNORMAL, "")
        frames.append(CloseFrame(from_=side, delay_ms=_since(relay), code=code, reason=reason))
        await _close(target, code, reason)

    # Replaying

    async def _replay(self, conn: ServerConnection, index: int, session: WebSocketSession) -> None:
        # A client that leaves before the recording ends is no miss: it asked for nothing more.
        with contextlib.suppress(ConnectionClosed):
            await self._play(conn, index, session)

    async def _play(self, conn: ServerConnection, index: int, session: WebSocketSession) -> None:
        recorded_ids, incoming_ids = ClientIds(), ClientIds()
        url = f"{self.upstream}{session.path}"
        for number, frame in enumerate(session.frames):
            if frame.from_ == "server":
                if isinstance(frame, CloseFrame):
                    await _close(conn, frame.code, frame.reason)
                    return
                if isinstance(frame, JsonFrame):
                    recorded_ids.saw_server(frame.value)
                    incoming_ids.saw_server(frame.value)
                await conn.send(payload(frame))
                continue
            incoming = await self._next_client_frame(conn)
            differences = compare(frame, incoming, recorded_ids, incoming_ids)
            if differences:
                self.misses.append(
                    frame_miss(self.path, url, self.mode, index, number, differences)
                )
                await conn.close(
                    _POLICY_VIOLATION, f"promptecho: frame {number} differs from the recording"
                )
                return
            if isinstance(incoming, CloseFrame):
                return

    async def _next_client_frame(self, conn: ServerConnection) -> AnyFrame:
        try:
            message = await asyncio.wait_for(conn.recv(), self.timeout)
        except ConnectionClosed as closed:
            code, reason = (
                (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (_ABNORMAL, "")
            )
            return CloseFrame(from_="client", code=code, reason=reason)
        except TimeoutError:
            return CloseFrame(
                from_="client", code=_ABNORMAL, reason=f"no frame within {self.timeout} s"
            )
        return frame_of("client", message)


async def _close(conn: ServerConnection | ClientConnection, code: int, reason: str) -> None:
    """End ``conn`` the way the other side ended: a close frame, or a dropped connection."""
    if code == _ABNORMAL:
        conn.transport.abort()
    elif code == _NO_STATUS:
        await conn.close()
    else:
        await conn.close(code, reason)


def _refusal_response(refused: Refusal) -> Response:
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(refused.status).phrase
    except ValueError:
        phrase = ""
    headers = WsHeaders(
        [
            (k, v)
            for k, v in refused.headers.items()
            if k not in {"content-length", "transfer-encoding", "connection"}
        ]
    )
    body = refused.body.encode()
    headers["Content-Length"] = str(len(body))
    return Response(refused.status, phrase, headers, body)


def _since(relay: _Relay) -> int:
    now = time.monotonic()
    elapsed, relay.clock = now - relay.clock, now
    return round(elapsed * 1000)


def _self_signed_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a new self-signed certificate for 127.0.0.1, and a client one trusting it."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'WebSocketEcho(tls=True) needs the cryptography package: pip install "promptecho[websockets]"'
        ) from err
    import ipaddress
    import os
    import tempfile

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "promptecho local")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(_HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only: a private folder, removed as soon as it is read.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cert.pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(cert_pem + key_pem)
        server.load_cert_chain(path)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
