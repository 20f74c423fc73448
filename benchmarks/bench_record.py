"""record: POSTs to a local server recorded into one cassette, durability included.

Workload: 500 distinct chat calls (30 with ``--quick``) to a ``FakeUpstream`` on
127.0.0.1 answering ~1.9 KB JSON, in a process of its own as a real upstream is
(`_fixtures.upstream_process`); each repetition records into a new cassette and ends
with the cassette closed (promptecho ``close()``: the journal folded into the file;
vcrpy and cassetter: leaving their context, which writes the YAML). Time per call.

Contenders: plain ``httpx.Client`` to the same server (floor); promptecho
``EchoTransport(new, mode="once", transport=httpx.HTTPTransport())``; vcrpy (body match,
``record_mode="all"``); cassetter (body match, ``record_mode="all"``).
Check before timing: a short recording by each replays the right answers.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

from . import _fixtures as fx
from ._harness import Contender, Row, WrongAnswer, bench_main, measure


def run(quick: bool) -> list[Row]:
    n = 30 if quick else 500
    reps = 5 if quick else 7
    traffic = fx.chat_traffic(n, seed=31)
    with fx.upstream_process(n, seed=31) as base:
        return _run(n, reps, traffic, base + "/v1/chat/completions")


def _run(n: int, reps: int, traffic: list[fx.Exchange], url: str) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="promptecho-bench-record-"))
    counter = itertools.count()

    def post_all(client, items):
        for x in items:
            client.post(url, content=x.request, headers=fx.REQUEST_HEADERS).read()

    def session(kind, items):
        """(client, stack, path): the client records into a new cassette; stack.close() saves it."""
        path = tmp / f"{kind}-{next(counter)}"
        client, stack = fx.recording_client(kind, path)
        return client, stack, path

    def replay_client(kind, path):
        return fx.recording_client(kind, path, replay=True)

    def contender(name, kind):
        def prepare():
            client, stack, _ = session(kind, traffic)
            return (lambda: (post_all(client, traffic), stack.close())), None

        def check():
            if kind == "floor":
                return
            items = traffic[:5]
            client, stack, path = session(kind, items)
            with stack:
                post_all(client, items)
            client, stack = replay_client(kind, path)
            with stack:
                for x in reversed(items):
                    body = client.post(url, content=x.request, headers=fx.REQUEST_HEADERS).read()
                    if json.loads(body) != json.loads(x.response):
                        raise WrongAnswer("the recording replays another answer")

        return Contender(name, prepare, check, floor=kind == "floor", per=n)

    found = [
        contender("plain httpx.Client", "floor"),
        contender("promptecho", "promptecho"),
        contender("vcrpy (body match)", "vcrpy"),
        contender("cassetter (body match)", "cassetter"),
    ]
    return measure(
        "record",
        f"{n} POSTs to 127.0.0.1 + close(), per call",
        found,
        reps,
        target="≤ 1.3x plain httpx",
        limit=1.3,
        judge=["promptecho"],
    )


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
