"""Traffic and the cassettes each contender records of it.

Every cassette is made by its own library's recording path (never hand-written in a
format we guessed), against an ``httpx.MockTransport`` that plays the upstream, so each
contender replays exactly what it recorded. Large fixtures are cached between runs in
`_harness.cache_dir` (keyed by the generator's source).

Contender configuration, used by every bench:

* promptecho: ``EchoTransport(path, mode="none")`` (``allow_repeats=True`` where a bench
  replays a request more than once). Its default matching (canonical body) applies.
* vcrpy: ``VCR(match_on=["method", "uri", "body"])``, the configuration that replays
  correctly for LLM calls (several POSTs to one URL); ``allow_playback_repeats`` as above.
* cassetter: ``use_cassette(path, match_on=["method", "uri", "body"])``, the same reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import generate

VCR_MATCH_ON = ["method", "uri", "body"]
CASSETTER_MATCH_ON = ["method", "uri", "body"]


@dataclass(frozen=True)
class Exchange:
    request: bytes
    response: bytes
    headers: tuple[tuple[str, str], ...]


def chat_traffic(n: int, *, seed: int = 1) -> list[Exchange]:
    """``n`` distinct chat calls: ~1.6 KB requests, ~1.9 KB JSON answers (~3.5 KB each)."""
    return [
        Exchange(
            generate.chat_request(i, seed=seed),
            generate.chat_response(i, seed=seed + 1),
            tuple(generate.response_headers(i, seed=seed + 2)),
        )
        for i in range(n)
    ]


REQUEST_HEADERS = generate.request_headers()


@contextlib.contextmanager
def upstream_process(n: int, *, seed: int) -> Iterator[str]:
    """A local fake upstream answering ``chat_traffic(n, seed=seed)``; yields its base URL.

    It runs in a process of its own, as a real upstream does: in the benchmark's process,
    the server's threads would compete with the client for the GIL, and the work of one
    would be timed as the work of the other.
    """
    from ._harness import child_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._serve", str(n), str(seed)],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the upstream process did not start (exit code {proc.poll()})")
        yield url
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def upstream_handler(traffic: Sequence[Exchange]):
    """The fake upstream: answers each request body with its prebuilt response."""
    table = {x.request: x for x in traffic}

    def handler(request: httpx.Request) -> httpx.Response:
        x = table[request.read()]
        return httpx.Response(200, headers=list(x.headers), content=x.response)

    return handler


def post_all(client: httpx.Client, traffic: Sequence[Exchange]) -> None:
    for x in traffic:
        client.post(generate.CHAT_URL, content=x.request, headers=REQUEST_HEADERS).read()


def record_promptecho(path: Path, traffic: Sequence[Exchange]) -> Path:
    import promptecho

    if path.exists():
        return path
    tmp = path.with_name("tmp-" + path.name)
    tmp.unlink(missing_ok=True)
    transport = promptecho.EchoTransport(
        tmp, mode="all", transport=httpx.MockTransport(upstream_handler(traffic))
    )
    with httpx.Client(transport=transport) as client:
        post_all(client, traffic)
    transport.close()
    os.replace(tmp, path)
    return path


def record_vcrpy(path: Path, traffic: Sequence[Exchange], *, match_on=VCR_MATCH_ON) -> Path:
    """Through vcrpy's httpx stub when small; through its own Cassette API when large.

    vcrpy scans every recorded interaction for each new request even when recording,
    so recording 10,000 interactions through the stub is quadratic; for big fixtures the
    interactions the stub would build are appended with ``Cassette.append`` and saved with
    vcrpy's own persister (the same file the stub writes).
    """
    import vcr
    from vcr.cassette import Cassette
    from vcr.request import Request

    if path.exists():
        return path
    tmp = path.with_name("tmp-" + path.name)
    tmp.unlink(missing_ok=True)
    if len(traffic) <= 200:
        my_vcr = vcr.VCR(match_on=match_on)
        with (
            my_vcr.use_cassette(str(tmp), record_mode="all"),
            httpx.Client(transport=httpx.MockTransport(upstream_handler(traffic))) as client,
        ):
            post_all(client, traffic)
    else:
        cassette = Cassette(str(tmp), record_mode="all", match_on=match_on)
        for x in traffic:
            request = Request("POST", generate.CHAT_URL, x.request, dict(REQUEST_HEADERS))
            headers: dict[str, list[str]] = {}
            for k, v in x.headers:
                headers.setdefault(k, []).append(v)
            headers["content-length"] = [str(len(x.response))]
            cassette.append(
                request,
                {
                    "status": {"code": 200, "message": "OK"},
                    "headers": headers,
                    "body": {"string": x.response},
                },
            )
        cassette._save(force=True)
    os.replace(tmp, path)
    return path


def record_cassetter(path: Path, traffic: Sequence[Exchange]) -> Path:
    import cassetter

    if path.exists():
        return path
    tmp = path.with_name("tmp-" + path.name)
    tmp.unlink(missing_ok=True)
    if len(traffic) > 200:
        # Its interceptor matches every new request against all recorded ones even when
        # recording (quadratic); call the recording method it would call instead.
        c = cassetter.Cassette(
            tmp,
            record_mode=cassetter.RecordMode.ALL,
            match_config=cassetter.MatchConfig(match_on=CASSETTER_MATCH_ON),
        )
        c.load()
        req_headers: dict[str, list[str]] = {}
        for k, v in REQUEST_HEADERS:
            req_headers.setdefault(k, []).append(v)
        for x in traffic:
            resp_headers: dict[str, list[str]] = {}
            for k, v in x.headers:
                resp_headers.setdefault(k, []).append(v)
            c.record(
                method="POST",
                uri=generate.CHAT_URL,
                request_headers=req_headers,
                request_body=x.request,
                status=200,
                response_headers=resp_headers,
                response_body=x.response,
                order=c.reserve_record_order(),
            )
        c.save()
    else:
        with cassetter.use_cassette(tmp, record_mode="all", match_on=CASSETTER_MATCH_ON):  # noqa: SIM117
            # cassetter wraps the transport of clients built while its cassette is active.
            with httpx.Client(transport=httpx.MockTransport(upstream_handler(traffic))) as client:
                post_all(client, traffic)
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def vcr_replaying(
    path: Path, *, allow_repeats: bool = False, match_on=VCR_MATCH_ON
) -> Iterator[None]:
    import vcr

    my_vcr = vcr.VCR(match_on=match_on)
    with my_vcr.use_cassette(str(path), record_mode="none", allow_playback_repeats=allow_repeats):
        yield


@contextlib.contextmanager
def cassetter_replaying(path: Path) -> Iterator[None]:
    import cassetter

    with cassetter.use_cassette(path, record_mode="none", match_on=CASSETTER_MATCH_ON):
        yield


def recording_client(
    kind: str, path: Path, *, replay: bool = False
) -> tuple[httpx.Client, contextlib.ExitStack]:
    """A client of one contender that records into ``path`` (suffix added), or replays it.

    ``kind`` is "floor" (plain httpx, recording nothing), "promptecho", "vcrpy" (body
    match, record mode "all") or "cassetter" (body match, "all"). Closing the stack closes
    the client and saves the cassette.
    """
    stack = contextlib.ExitStack()
    if kind == "floor":
        client = httpx.Client()
    elif kind == "promptecho":
        import promptecho

        if replay:
            t = promptecho.EchoTransport(path.with_suffix(".json"), mode="none")
        else:
            t = promptecho.EchoTransport(
                path.with_suffix(".json"), mode="once", transport=httpx.HTTPTransport()
            )
        client = httpx.Client(transport=t)
        stack.callback(t.close)
    elif kind == "vcrpy":
        import vcr

        stack.enter_context(
            vcr.VCR(match_on=VCR_MATCH_ON).use_cassette(
                str(path.with_suffix(".yaml")), record_mode="none" if replay else "all"
            )
        )
        client = httpx.Client()
    else:
        import cassetter

        stack.enter_context(
            cassetter.use_cassette(
                path.with_suffix(".yaml"),
                record_mode="none" if replay else "all",
                match_on=CASSETTER_MATCH_ON,
            )
        )
        client = httpx.Client()
    stack.callback(client.close)
    return client, stack
