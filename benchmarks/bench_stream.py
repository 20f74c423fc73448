"""stream: a 300-event SSE stream replayed and read event by event.

Two cases, each with its floor:

* ``httpx iter_lines()``: an ``httpx.Client`` reads the stream with ``iter_lines()``.
  Floor: ``httpx.MockTransport`` returning ``Response(stream=...)`` whose byte stream
  yields one prebuilt chunk per event. Contenders: promptecho ``EchoTransport(mode="none",
  allow_repeats=True)``; vcrpy (body match, ``allow_playback_repeats``), which replays the
  body as one chunk; cassetter (body match), likewise.
* ``openai SDK (httpx2)``: ``openai.OpenAI(http_client=httpx2.Client(transport=...))``,
  ``chat.completions.create(..., stream=True)`` iterated to the end. Floor: the same
  per-event ``httpx2.MockTransport``. Contender: ``promptecho.httpx2.EchoTransport``.

Cassettes are recorded through each library from the floor transport. Check before
timing: the lines (or the SDK's concatenated deltas) equal the recorded ones.
Time per stream; each repetition reads ``per`` streams.
"""

from __future__ import annotations

import contextlib
import json

import httpx

from . import _fixtures as fx
from . import generate
from ._harness import Contender, Row, WrongAnswer, bench_main, cache_dir, measure

MESSAGES = [{"role": "user", "content": "Tell me a long story about cassettes."}]


class _Events(httpx.SyncByteStream):
    def __init__(self, events):
        self._events = events

    def __iter__(self):
        yield from self._events


# The httpx contenders of a stream workload: (name, kind); the floor's kind is "floor".
KINDS = [
    ("httpx.MockTransport, 1 chunk/event", "floor"),
    ("promptecho", "promptecho"),
    ("vcrpy (body match)", "vcrpy"),
    ("cassetter (body match)", "cassetter"),
]


def contenders(make, per):
    """One `Contender` per kind of `KINDS`; ``make(kind)`` returns (prepare, check)."""
    found = []
    for name, kind in KINDS:
        prepare, check = make(kind)
        found.append(Contender(name, prepare, check, floor=kind == "floor", per=per))
    return found


def _expected_lines(events):
    return [line for e in events for line in e.decode().split("\n") if line]


def run(quick: bool) -> list[Row]:
    import httpx2
    import openai

    import promptecho
    import promptecho.httpx2

    events = generate.sse_events(300)
    headers = generate.sse_headers()
    request = generate.chat_request(0, stream=True)
    folder = cache_dir("stream")
    per = 1 if quick else 20
    reps = 5 if quick else 9
    expected = _expected_lines(events)

    def floor_handler(req):
        req.read()
        return httpx.Response(200, headers=headers, stream=_Events(events))

    def unreachable(req):
        raise AssertionError("went upstream")

    # -- record -------------------------------------------------------------------------
    pe_path = folder / "promptecho-stream.json"
    if not pe_path.exists():
        t = promptecho.EchoTransport(
            pe_path, mode="all", transport=httpx.MockTransport(floor_handler)
        )
        with (
            httpx.Client(transport=t) as c,
            c.stream("POST", generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS) as r,
        ):
            r.read()
        t.close()
    vcr_path = folder / "vcrpy-stream.yaml"
    if not vcr_path.exists():
        import vcr

        with (
            vcr.VCR(match_on=fx.VCR_MATCH_ON).use_cassette(str(vcr_path), record_mode="all"),
            httpx.Client(transport=httpx.MockTransport(floor_handler)) as c,
        ):
            c.post(generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS).read()
    cs_path = folder / "cassetter-stream.yaml"
    if not cs_path.exists():
        import cassetter

        with cassetter.use_cassette(cs_path, record_mode="all", match_on=fx.CASSETTER_MATCH_ON):  # noqa: SIM117
            with httpx.Client(transport=httpx.MockTransport(floor_handler)) as c:
                c.post(generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS).read()

    def read_lines(client):
        with client.stream(
            "POST", generate.CHAT_URL, content=request, headers=fx.REQUEST_HEADERS
        ) as r:
            return [line for line in r.iter_lines() if line]

    def make(kind):
        def client_and_cleanup():
            stack = contextlib.ExitStack()
            if kind == "floor":
                client = httpx.Client(transport=httpx.MockTransport(floor_handler))
            elif kind == "promptecho":
                client = httpx.Client(
                    transport=promptecho.EchoTransport(pe_path, mode="none", allow_repeats=True)
                )
            elif kind == "vcrpy":
                stack.enter_context(fx.vcr_replaying(vcr_path, allow_repeats=True))
                client = httpx.Client(transport=httpx.MockTransport(unreachable))
            else:
                stack.enter_context(fx.cassetter_replaying(cs_path))
                client = httpx.Client(transport=httpx.MockTransport(unreachable))
            stack.callback(client.close)
            return client, stack

        def prepare():
            client, stack = client_and_cleanup()

            def timed():
                for _ in range(per):
                    read_lines(client)

            return timed, stack.close

        def check():
            client, stack = client_and_cleanup()
            with stack:
                got = read_lines(client)
                if got != expected:
                    raise WrongAnswer(f"{len(got)} lines, expected {len(expected)}")

        return prepare, check

    found = contenders(make, per)
    rows = measure(
        "stream",
        "warm: one 300-event stream replayed over and over, httpx iter_lines(), per stream",
        found,
        reps,
        target="≤ 1.2x floor",
        limit=1.2,
        judge=["promptecho"],
    )

    # -- openai SDK over httpx2 ------------------------------------------------------------
    def floor2(req):
        req.read()
        return httpx2.Response(200, headers=headers, stream=_Events2(events))

    class _Events2(httpx2.SyncByteStream):
        def __init__(self, ev):
            self._ev = ev

        def __iter__(self):
            yield from self._ev

    def sdk_text(transport):
        client = openai.OpenAI(
            api_key="sk-test",
            base_url="https://api.openai.com/v1",
            http_client=httpx2.Client(transport=transport),
            max_retries=0,
        )
        out = []
        for chunk in client.chat.completions.create(
            model=generate.MODEL, messages=MESSAGES, stream=True
        ):
            for choice in chunk.choices:
                out.append(choice.delta.content or "")
        return "".join(out)

    want = "".join(
        (json.loads(e[6:])["choices"][0]["delta"].get("content") or "")
        for e in events
        if e.startswith(b"data: {") and json.loads(e[6:])["choices"]
    )
    pe2_path = folder / "promptecho-sdk-stream.json"
    if not pe2_path.exists():
        t = promptecho.httpx2.EchoTransport(
            pe2_path, mode="all", transport=httpx2.MockTransport(floor2)
        )
        sdk_text(t)
        t.close()

    def sdk_contender(name, make_transport, floor=False):
        def prepare():
            transport = make_transport()

            def timed():
                for _ in range(per):
                    sdk_text(transport)

            return timed

        def check():
            got = sdk_text(make_transport())
            if got != want:
                raise WrongAnswer(f"SDK text differs ({len(got)} vs {len(want)} chars)")

        return Contender(name, prepare, check, floor=floor, per=per)

    found2 = [
        sdk_contender(
            "httpx2.MockTransport, 1 chunk/event", lambda: httpx2.MockTransport(floor2), floor=True
        ),
        sdk_contender(
            "promptecho.httpx2",
            lambda: promptecho.httpx2.EchoTransport(pe2_path, mode="none", allow_repeats=True),
        ),
    ]
    rows += measure(
        "stream",
        "warm: one 300-event stream replayed over and over, openai SDK stream=True (httpx2), per stream",
        found2,
        reps,
        target="≤ 1.2x floor",
        limit=1.2,
        judge=["promptecho.httpx2"],
    )
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
