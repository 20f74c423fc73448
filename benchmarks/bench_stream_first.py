"""stream-first: each of N 300-event SSE streams replayed once, after a fresh load.

The way a test suite uses a cassette: load it, replay each recording once. ``stream``
replays one recording over and over (warm: its events rendered once, then reused).

Workload: N = 10 distinct chat streams of 300 events (seeded, ~100 KB each), recorded into
one cassette per library. A repetition builds a fresh transport and client (untimed: the
cassette is loaded, nothing replayed yet), then reads each stream once with
``iter_lines()`` (timed), in a seeded shuffled order. Time per stream.

Floor: ``httpx.MockTransport`` whose handler picks the stream by request and yields one
prebuilt chunk per event. Contenders: promptecho ``EchoTransport(mode="none")``; vcrpy and
cassetter (body match), which replay each body as one chunk.

Targets: promptecho ≤ 1.2x the floor, and faster than vcrpy and cassetter in the same run.
"""

from __future__ import annotations

import contextlib
import random

import httpx

from . import _fixtures as fx
from . import generate
from ._harness import Row, WrongAnswer, bench_main, cache_dir, measure
from .bench_stream import _Events, _expected_lines, contenders


def run(quick: bool) -> list[Row]:
    import promptecho

    n = 3 if quick else 10
    reps = 5 if quick else 11
    streams = [generate.sse_events(300, seed=100 + k) for k in range(n)]
    requests = [generate.chat_request(k, stream=True) for k in range(n)]
    by_request = dict(zip(requests, streams, strict=True))
    headers = generate.sse_headers()
    expected = [_expected_lines(events) for events in streams]
    order = list(range(n))
    random.Random(n).shuffle(order)
    folder = cache_dir("stream-first")

    def floor_handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=_Events(by_request[req.read()]))

    def unreachable(req: httpx.Request) -> httpx.Response:
        raise AssertionError("went upstream")

    pe_path = folder / f"promptecho-{n}.json"
    if not pe_path.exists():
        t = promptecho.EchoTransport(
            pe_path, mode="all", transport=httpx.MockTransport(floor_handler)
        )
        with httpx.Client(transport=t) as c:
            for request in requests:
                with c.stream(
                    "POST", generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS
                ) as r:
                    r.read()
        t.close()
    vcr_path = folder / f"vcrpy-{n}.yaml"
    if not vcr_path.exists():
        import vcr

        with (
            vcr.VCR(match_on=fx.VCR_MATCH_ON).use_cassette(str(vcr_path), record_mode="all"),
            httpx.Client(transport=httpx.MockTransport(floor_handler)) as c,
        ):
            for request in requests:
                c.post(generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS).read()
    cs_path = folder / f"cassetter-{n}.yaml"
    if not cs_path.exists():
        import cassetter

        with cassetter.use_cassette(cs_path, record_mode="all", match_on=fx.CASSETTER_MATCH_ON):  # noqa: SIM117
            with httpx.Client(transport=httpx.MockTransport(floor_handler)) as c:
                for request in requests:
                    c.post(generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS).read()

    def read_lines(client: httpx.Client, k: int) -> list[str]:
        with client.stream(
            "POST", generate.CHAT_URL, content=requests[k], headers=fx.REQUEST_HEADERS
        ) as r:
            return [line for line in r.iter_lines() if line]

    def make(kind: str) -> tuple[object, object]:
        def client_and_cleanup() -> tuple[httpx.Client, contextlib.ExitStack]:
            stack = contextlib.ExitStack()
            if kind == "floor":
                client = httpx.Client(transport=httpx.MockTransport(floor_handler))
            elif kind == "promptecho":
                client = httpx.Client(transport=promptecho.EchoTransport(pe_path, mode="none"))
            elif kind == "vcrpy":
                stack.enter_context(fx.vcr_replaying(vcr_path))
                client = httpx.Client(transport=httpx.MockTransport(unreachable))
            else:
                stack.enter_context(fx.cassetter_replaying(cs_path))
                client = httpx.Client(transport=httpx.MockTransport(unreachable))
            stack.callback(client.close)
            return client, stack

        def prepare():  # type: ignore[no-untyped-def]
            client, stack = client_and_cleanup()

            def timed() -> None:
                for k in order:
                    read_lines(client, k)

            return timed, stack.close

        def check() -> None:
            client, stack = client_and_cleanup()
            with stack:
                for k in order:
                    got = read_lines(client, k)
                    if got != expected[k]:
                        raise WrongAnswer(
                            f"stream {k}: {len(got)} lines, expected {len(expected[k])}"
                        )

        return prepare, check

    found = contenders(make, n)
    rows = measure(
        "stream-first",
        f"{n} streams of 300 SSE events, each replayed once after a fresh load, iter_lines(), per stream",
        found,
        reps,
        target="≤ 1.2x floor, < vcrpy and cassetter",
        limit=1.2,
        judge=["promptecho"],
    )
    peers = [r.median for r in rows if r.contender.startswith(("vcrpy", "cassetter")) and r.median]
    for row in rows:
        if row.contender == "promptecho" and row.median is not None and peers:
            faster = row.median < min(peers)
            row.note = "; ".join(
                filter(
                    None,
                    [row.note, f"{'faster' if faster else 'NOT faster'} than vcrpy and cassetter"],
                )
            )
            if not faster:
                row.verdict = "NOT MET"
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
