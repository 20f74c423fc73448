"""record-first-byte: while recording a live stream, when does the caller see event 1?

Workload: a ``FakeUpstream`` on 127.0.0.1 streams 60 SSE events 5 ms apart (one HTTP
chunk each). The time measured runs from the ``client.stream(...)`` call to the first
line out of ``iter_lines()``; the rest of the stream is then read, untimed, so each
recording completes. A new cassette per repetition.

Contenders: plain ``httpx.Client`` (floor); promptecho ``EchoTransport(new, mode="once",
transport=httpx.HTTPTransport())``; vcrpy and cassetter recording (both read the whole
live body before returning it, so their first byte is the stream's end: shown for scale).
Target: promptecho ≤ floor + 1 ms. Check: the recorded lines are the lines sent.
"""

from __future__ import annotations

import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path

from . import _fixtures as fx
from . import generate
from ._harness import Row, bench_main

N_EVENTS = 60
GAP = 0.005


def run(quick: bool) -> list[Row]:

    from promptecho.testing import FakeUpstream, Reply

    events = generate.sse_events(N_EVENTS, seed=41)
    headers = generate.sse_headers()
    up = FakeUpstream(lambda seen: Reply(200, headers=headers, chunks=events, delay=GAP)).start()
    url = up.url + "/v1/chat/completions"
    request = generate.chat_request(0, stream=True)
    tmp = Path(tempfile.mkdtemp(prefix="promptecho-bench-fb-"))
    counter = itertools.count()
    reps = 5 if quick else 15
    expected = [line for e in events for line in e.decode().split("\n") if line]

    def session(kind):
        return fx.recording_client(kind, tmp / f"{kind}-{next(counter)}")

    def once(kind):
        client, stack = session(kind)
        with stack:
            t0 = time.perf_counter()
            with client.stream("POST", url, content=request, headers=fx.REQUEST_HEADERS) as r:
                lines = r.iter_lines()
                first = next(line for line in lines if line)
                elapsed = time.perf_counter() - t0
                rest = [first, *(line for line in lines if line)]
        return elapsed, rest

    kinds = {
        "plain httpx.Client": "floor",
        "promptecho": "promptecho",
        "vcrpy (body match)": "vcrpy",
        "cassetter (body match)": "cassetter",
    }
    if quick:  # a smoke run: the peers take the whole stream (~0.3 s) per repetition
        kinds = {k: v for k, v in kinds.items() if v in ("floor", "promptecho")}
    results: dict[str, list[float] | str] = {}
    for name, kind in kinds.items():
        _, lines = once(kind)
        results[name] = [] if lines == expected else "WRONG ANSWER: the caller got other lines"
    rng = random.Random(0)
    for _ in range(reps):
        order = [n for n in kinds if isinstance(results[n], list)]
        rng.shuffle(order)
        for name in order:
            results[name].append(once(kinds[name])[0])  # type: ignore[union-attr]
    up.stop()
    floor = statistics.median(results["plain httpx.Client"])  # type: ignore[arg-type]
    rows = []
    for name in kinds:
        value = results[name]
        if isinstance(value, str):
            rows.append(
                Row(
                    "record-first-byte",
                    f"{N_EVENTS} events {GAP * 1e3:.0f} ms apart",
                    name,
                    None,
                    verdict="WRONG ANSWER",
                    note=value,
                )
            )
            continue
        med = statistics.median(value)
        target = verdict = ""
        if name == "promptecho":
            target = "≤ floor + 1 ms"
            verdict = "met" if med <= floor + 0.001 else "NOT MET"
        rows.append(
            Row(
                "record-first-byte",
                f"{N_EVENTS} events {GAP * 1e3:.0f} ms apart, time to first event",
                name,
                med,
                floor=kind_is_floor(name),
                ratio=med / floor,
                target=target,
                verdict=verdict,
                note=f"{(med - floor) * 1e3:+.2f} ms vs floor",
                samples=value,
            )
        )
    return rows


def kind_is_floor(name: str) -> bool:
    return name == "plain httpx.Client"


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
