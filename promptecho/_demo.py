"""``python -m promptecho demo``: record, take the upstream down, replay, on this machine alone.

It starts the built-in fake OpenAI-compatible upstream on 127.0.0.1, records three calls
(two JSON answers and one streamed answer) through an `EchoTransport`, stops the upstream,
proves it is down, replays the same calls in mode ``none`` and compares every answer.
"""

from __future__ import annotations

import json
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from ._httpx import EchoTransport
from .testing import FakeUpstream, openai_chat_handler

__all__ = ["run_demo"]

_CALLS: tuple[tuple[str, dict[str, object]], ...] = (
    (
        "chat",
        {
            "model": "gpt-4.1-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "Say hello."},
            ],
        },
    ),
    (
        "chat",
        {
            "model": "gpt-4.1-mini",
            "messages": [{"role": "user", "content": "Name a colour."}],
            "temperature": 0,
        },
    ),
    (
        "stream",
        {
            "model": "gpt-4.1-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "Count to three."}],
        },
    ),
)
_TIMED_REPLAYS = 200


def _call(client: httpx.Client, kind: str, body: dict[str, object]) -> tuple[int, object]:
    if kind == "stream":
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            events = [line for line in response.iter_lines() if line]
            return response.status_code, events
    response = client.post("/v1/chat/completions", json=body)
    return response.status_code, response.json()


def _is_down(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def run_demo(out: TextIO, folder: Path | None = None) -> int:
    """Run the demo, printing to ``out``; return 0 when every replay equals its recording."""
    with tempfile.TemporaryDirectory(prefix="promptecho-demo-") as tmp:
        cassette = (folder or Path(tmp)) / "demo.json"
        cassette.unlink(missing_ok=True)
        say: Callable[[str], None] = lambda line: print(line, file=out)  # noqa: E731

        upstream = FakeUpstream(openai_chat_handler).start()
        say(f"1. Fake OpenAI-compatible upstream listening on {upstream.url}")
        recorded = []
        with httpx.Client(base_url=upstream.url, transport=EchoTransport(cassette)) as client:
            for kind, body in _CALLS:
                recorded.append(_call(client, kind, body))
        upstream.stop()
        size = cassette.stat().st_size
        interactions = len(json.loads(cassette.read_bytes())["interactions"])
        say(
            f"2. Recorded {interactions} interactions ({len(upstream.seen)} upstream calls) "
            f"into {cassette} ({size} bytes)"
        )
        down = _is_down(upstream.url)
        say(
            f"3. Upstream stopped: connecting to {upstream.url} now "
            f"{'is refused' if down else 'STILL SUCCEEDS'}"
        )

        echo = EchoTransport(cassette, mode="none", allow_repeats=True)
        with httpx.Client(base_url=upstream.url, transport=echo) as client:
            replayed = [_call(client, kind, body) for kind, body in _CALLS]
            timings = []
            for _ in range(_TIMED_REPLAYS):
                start = time.perf_counter()
                _call(client, *_CALLS[0])
                timings.append(time.perf_counter() - start)
        same = replayed == recorded
        say(
            f"4. Replayed {len(replayed)} calls in mode 'none' with the upstream down: "
            f"{'identical to the recording' if same else 'DIFFERENT from the recording'}"
        )
        say(
            f"   median time per replayed call: {statistics.median(timings) * 1e6:.0f} µs "
            f"(over {_TIMED_REPLAYS} calls through httpx.Client)"
        )
        status, answer = replayed[0]
        if isinstance(answer, dict):
            say(f"   first answer: {status} {answer['choices'][0]['message']['content']!r}")
        status, events = replayed[2]
        say(
            f"   streamed answer: {status}, {len(events) if isinstance(events, list) else 0} "
            "SSE lines, the last one " + (repr(events[-1]) if isinstance(events, list) else "")
        )
        excerpt = cassette.read_text().splitlines()
        say(f"5. The cassette (first 30 of {len(excerpt)} lines):")
        for line in excerpt[:30]:
            say(f"   {line}")
        ok = same and down and not echo.misses
        say("Demo passed." if ok else "Demo FAILED.")
        return 0 if ok else 1
