"""promptecho.testing: a fake LLM upstream on a real socket, for demos and for testing your own code offline.

The module owns `FakeUpstream` (a threaded HTTP/1.1 server on 127.0.0.1), `Reply` (what it writes for
one request: status, headers, and the body as separate chunks, optionally delayed, gzipped or cut off),
`Seen` (what it received), and `openai_chat_handler`, a deterministic OpenAI-compatible chat-completions
fake. It knows nothing about cassettes or recording, and uses the standard library only: no httpx,
so a client under test never shares code with the server it talks to.

The body framing is written by hand (not by `http.server`) so that each chunk reaches the socket
on its own, which is what lets tests prove that a recording transport passes a stream through
as it arrives instead of buffering it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from types import TracebackType

from promptecho._types import JSON, Headers

__all__ = ["FakeUpstream", "Reply", "Seen", "json_reply", "openai_chat_handler", "sse_reply"]

_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05  # how often serve_forever() checks for shutdown
_JOIN_TIMEOUT = 2.0  # stop() waits at most this long, in total, for handler threads
_IDLE_TIMEOUT = 30.0  # a kept-alive connection with no new request is closed after this
_MAX_BODY = 64 * 1024 * 1024  # a request body larger than this is refused (413)
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
_NO_BODY_STATUS = frozenset({204, 304})


@dataclass(frozen=True)
class Seen:
    """One request as the fake upstream received it.

    ``path`` includes the query string; ``headers`` are the pairs in wire order, names as sent;
    ``body`` is the request body with any chunked transfer framing removed.
    """

    method: str
    path: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def json(self) -> JSON:
        """The body decoded as JSON (raises `json.JSONDecodeError` if it is not)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the fake upstream sends for one request.

    Parameters
    ----------
    status
        The HTTP status code.
    headers
        Header pairs, sent in order. ``content-length``, ``transfer-encoding`` and ``connection``
        are ignored: the server writes its own framing.
    chunks
        The body. Each non-empty chunk is written and flushed on its own, as one HTTP/1.1 chunk
        (``Transfer-Encoding: chunked``), unless ``content_length`` is set.
    delay
        Seconds slept before each chunk after the first, to make streaming observable.
    gzip
        Compress the body and send ``content-encoding: gzip``. Each chunk is flushed with
        ``Z_SYNC_FLUSH``, so a client decodes one chunk per chunk sent.
    abort_after
        Close the connection abruptly after this many chunks (a mid-stream failure).
    content_length
        Send the whole body with ``Content-Length`` in one write instead of chunked.

    Examples
    --------
    >>> Reply(200, headers=[("content-type", "text/plain")], chunks=[b"hello"]).status
    200
    """

    status: int = 200
    _: KW_ONLY
    headers: Headers = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    gzip: bool = False
    abort_after: int | None = None
    content_length: bool = False


def json_reply(
    value: JSON, *, status: int = 200, headers: Headers | None = None, indent: int | None = None
) -> Reply:
    """A `Reply` carrying ``value`` as a JSON body with ``content-type: application/json``.

    >>> json_reply({"ok": True}).chunks
    [b'{"ok":true}']
    """
    separators = None if indent else (",", ":")
    body = json.dumps(value, indent=indent, separators=separators, ensure_ascii=False).encode()
    head = headers if headers is not None else [("content-type", "application/json")]
    return Reply(status, headers=head, chunks=[body])


def sse_reply(events: list[bytes], *, headers: Headers | None = None, delay: float = 0.0) -> Reply:
    """A streamed `Reply`: one chunk per already-framed SSE event, ``content-type: text/event-stream``.

    >>> len(sse_reply([b"data: 1\\n\\n", b"data: [DONE]\\n\\n"]).chunks)
    2
    """
    head = (
        headers if headers is not None else [("content-type", "text/event-stream; charset=utf-8")]
    )
    return Reply(200, headers=head, chunks=list(events), delay=delay)


class FakeUpstream:
    """A threaded HTTP/1.1 server on 127.0.0.1 that answers every request with ``handler(seen)``.

    Connections are kept alive, as a pooling client expects. `stop` closes the listening socket
    and every open connection, so a later connection attempt is refused.

    Examples
    --------
    >>> import urllib.request
    >>> with FakeUpstream(lambda seen: Reply(chunks=[seen.path.encode()])) as up:
    ...     urllib.request.urlopen(up.url + "/ping?x=1").read()
    b'/ping?x=1'
    """

    def __init__(self, handler: Callable[[Seen], Reply]) -> None:
        self.handler = handler
        # Exceptions raised by the handler, each answered with a 500.
        self.errors: list[BaseException] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash. Only valid once started."""
        if self._url is None:
            raise RuntimeError(
                "FakeUpstream is not started: call start() or use it as a context manager"
            )
        return self._url

    @property
    def seen(self) -> list[Seen]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._seen)

    def start(self) -> FakeUpstream:
        """Bind an ephemeral port and serve in a daemon thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("FakeUpstream is already started")
        self._stopping.clear()
        server = _Server(self)
        self._server = server
        self._url = f"http://{_HOST}:{server.server_address[1]}"
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"FakeUpstream-{server.server_address[1]}",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and all connections, then join the threads (bounded)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping between delayed chunks
        server.shutdown()
        server.server_close()  # the listening socket: new connections are now refused
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for sock in connections:
            # shutdown() rather than close(): it wakes a handler thread blocked reading a kept-alive socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in [self._serve_thread, *threads]:
            if thread is not None:
                thread.join(_JOIN_TIMEOUT / (len(threads) + 1))
        self._serve_thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FakeUpstream {self._url or 'not started'} seen={len(self._seen)}>"

    # Implementation details: called from the server threads.

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _respond(self, seen: Seen) -> Reply:
        try:
            return self.handler(seen)
        except Exception as err:  # a broken handler answers 500 and is kept for the test to see
            with self._lock:
                self.errors.append(err)
            text = f"FakeUpstream handler raised {err!r}".encode()
            return Reply(500, headers=[("content-type", "text/plain")], chunks=[text])

    def _track(self, sock: socket.socket, thread: threading.Thread, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(sock)
                self._threads.add(thread)
            else:
                self._connections.discard(sock)
                self._threads.discard(thread)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() joins with a timeout instead of forever
    request_queue_size = 256  # the default backlog of 5 resets bursts of concurrent clients

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        super().__init__((_HOST, 0), _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        self.upstream._track(request, thread, add=True)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: object) -> None:
        try:
            self.finish_request(request, client_address)
        except OSError:
            pass  # the client or stop() closed the socket
        finally:
            self.shutdown_request(request)
            self.upstream._track(request, threading.current_thread(), add=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked responses
    timeout = _IDLE_TIMEOUT
    # Small writes on a kept-alive connection otherwise wait ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests and the demo keep stderr quiet

    def _handle(self) -> None:
        upstream = self.server.upstream
        body = self._read_body()
        if body is None:
            return
        seen = Seen(
            method=self.command,
            path=self.path,
            headers=[(k, v) for k, v in self.headers.items()],
            body=body,
        )
        upstream._record(seen)
        self._write_reply(upstream._respond(seen), head_only=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("content-length") or 0)
        if length > _MAX_BODY:
            self._refuse(413, "request body too large")
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self._refuse(400, "malformed chunked request body")
                return None
            total += size
            if total > _MAX_BODY:
                self._refuse(413, "request body too large")
                return None
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers: ignored
        return b"".join(parts)

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        reply = Reply(status, headers=[("content-type", "text/plain")], chunks=[message.encode()])
        self._write_reply(reply, head_only=False, content_length=True)

    def _write_reply(self, reply: Reply, *, head_only: bool, content_length: bool = False) -> None:
        no_body = head_only or reply.status in _NO_BODY_STATUS or reply.status < 200
        by_length = content_length or reply.content_length
        self.send_response_only(reply.status)
        for name, value in reply.headers:
            if name.lower() not in _FRAMING:
                self.send_header(name, value)
        if reply.gzip and not any(k.lower() == "content-encoding" for k, _ in reply.headers):
            self.send_header("content-encoding", "gzip")
        chunks = list(_encode(reply.chunks, reply.gzip))
        if by_length:
            sent = chunks if reply.abort_after is None else chunks[: reply.abort_after]
            if not (reply.status in _NO_BODY_STATUS or reply.status < 200):
                self.send_header("Content-Length", str(sum(map(len, chunks))))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not no_body:
                self.wfile.write(b"".join(sent))
            if reply.abort_after is not None and not no_body:
                self._abort()
            return
        if not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        self._write_chunks(chunks, reply)

    def _write_chunks(self, chunks: list[bytes], reply: Reply) -> None:
        stopping = self.server.upstream._stopping
        # With gzip, _encode appends the compressor's final bytes as one extra chunk: it is not a reply
        # chunk, so it never takes a delay or counts towards abort_after.
        last_reply_chunk = len(reply.chunks)
        try:
            for index, chunk in enumerate(chunks):
                if reply.abort_after is not None and index >= reply.abort_after:
                    self._abort()
                    return
                if 0 < index < last_reply_chunk and reply.delay > 0 and stopping.wait(reply.delay):
                    self._abort()
                    return
                if chunk:  # an empty chunk would end the body
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            if reply.abort_after is not None:  # every chunk sent, but the body never ends
                self._abort()
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


def _encode(chunks: list[bytes], gzip: bool) -> Iterator[bytes]:
    if not gzip:
        yield from chunks
        return
    compressor = zlib.compressobj(wbits=31)  # 31: gzip header and trailer
    for chunk in chunks:
        # Z_SYNC_FLUSH ends each chunk on a byte boundary, so a client can decode it on arrival.
        yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


# The demo's OpenAI-compatible chat-completions fake.

_CHAT_PATH = "/v1/chat/completions"
_DEMO_CREATED = 1795558502  # fixed, so that the same request always gets the same bytes


def openai_chat_handler(seen: Seen) -> Reply:
    """Answer ``POST /v1/chat/completions`` the way OpenAI does, deterministically.

    The assistant replies ``"You said: <last user message>"``. ``"stream": true`` gets an SSE
    stream (role chunk, one chunk per word, finish chunk, a usage chunk when
    ``stream_options.include_usage``, then ``data: [DONE]``); otherwise a pretty-printed
    ``chat.completion``. Any other route is a 404 in OpenAI's error shape.

    >>> body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    >>> reply = openai_chat_handler(Seen("POST", "/v1/chat/completions", [], body))
    >>> json.loads(reply.chunks[0])["choices"][0]["message"]["content"]
    'You said: hi'
    """
    route = seen.path.split("?", 1)[0]
    if seen.method != "POST" or route != _CHAT_PATH:
        return _openai_error(404, f"Invalid URL ({seen.method} {route})", "invalid_request_error")
    try:
        request = seen.json()
    except ValueError:
        return _openai_error(
            400, "We could not parse the JSON body of your request.", "invalid_request_error"
        )
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        return _openai_error(
            400, "Missing required parameter: 'messages'.", "invalid_request_error", "messages"
        )
    digest = hashlib.sha256(seen.body).hexdigest()
    model = str(request.get("model", "gpt-4.1-mini"))
    text = "You said: " + _last_user_text(request["messages"])
    prompt_tokens = sum(
        len(_text_of(m.get("content")).split()) for m in request["messages"] if isinstance(m, dict)
    )
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(text.split()),
        "total_tokens": prompt_tokens + len(text.split()),
    }
    head = [
        ("x-request-id", f"req_{digest[:32]}"),
        ("openai-version", "2020-10-01"),
        ("openai-processing-ms", "7"),
    ]
    common = {"id": f"chatcmpl-{digest[:29]}", "created": _DEMO_CREATED, "model": model}
    if request.get("stream") is True:
        options = request.get("stream_options") or {}
        return sse_reply(
            _chat_events(common, text, usage, include_usage=bool(options.get("include_usage"))),
            headers=[("content-type", "text/event-stream; charset=utf-8"), *head],
        )
    completion = {
        "id": common["id"],
        "object": "chat.completion",
        "created": common["created"],
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_promptecho",
    }
    return json_reply(completion, headers=[("content-type", "application/json"), *head], indent=2)


def _chat_events(
    common: dict[str, JSON], text: str, usage: dict[str, int], *, include_usage: bool
) -> list[bytes]:
    words = text.split(" ")
    deltas: list[dict[str, JSON]] = [{"role": "assistant", "content": "", "refusal": None}]
    deltas += [{"content": word if i == 0 else " " + word} for i, word in enumerate(words)]
    events: list[JSON] = [_chunk(common, [_choice(delta, None)], include_usage) for delta in deltas]
    events.append(_chunk(common, [_choice({}, "stop")], include_usage))
    if include_usage:
        events.append({**_chunk(common, [], include_usage), "usage": usage})
    lines = [
        b"data: " + json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
        for e in events
    ]
    return [*lines, b"data: [DONE]\n\n"]


def _chunk(common: dict[str, JSON], choices: list[JSON], include_usage: bool) -> dict[str, JSON]:
    chunk: dict[str, JSON] = {
        "id": common["id"],
        "object": "chat.completion.chunk",
        "created": common["created"],
        "model": common["model"],
        "service_tier": "default",
        "system_fingerprint": "fp_promptecho",
        "choices": choices,
    }
    if include_usage:  # as OpenAI does: `usage: null` on every chunk only when usage was asked for
        chunk["usage"] = None
    return chunk


def _choice(delta: dict[str, JSON], finish_reason: str | None) -> JSON:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _last_user_text(messages: list[JSON]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return " ".join(_text_of(message.get("content")).split())[:200]
    return ""


def _text_of(content: JSON) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return " ".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _openai_error(status: int, message: str, kind: str, param: str | None = None) -> Reply:
    error = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return json_reply(
        error, status=status, headers=[("content-type", "application/json")], indent=2
    )
