"""replay: sequential POSTs replayed from a cassette through ``httpx.Client``.

Question: what does promptecho add per replayed call, against a client whose transport
already has the answer in memory?

Workload: a cassette of 20 distinct chat calls (~1.6 KB request, ~1.9 KB JSON answer,
realistic OpenAI headers), replayed 100 times in turn: 2,000 sequential POSTs per
repetition (400 with ``--quick``), each response read to its end. The time is per call.

Contenders (each gets a fresh client, and a freshly loaded cassette, per repetition;
loading is not timed here, see ``bench_load``):

* floor: ``httpx.MockTransport`` whose handler looks the request body up in a dict of
  prebuilt answers and returns ``httpx.Response(200, headers=..., content=...)``.
* respx: a ``respx.MockRouter`` route ``POST <url>`` with the same lookup as side effect,
  through ``httpx.MockTransport(router.handler)`` (a mock library, as a reference).
* promptecho: ``EchoTransport(cassette, mode="none", allow_repeats=True)``.
* vcrpy: ``VCR(match_on=["method", "uri", "body"])``, ``allow_playback_repeats=True``,
  ``record_mode="none"``; the client's own transport raises if ever reached. Being ~10x
  slower, it is timed on the first 200 calls of each repetition (same per-call cost).
* cassetter: ``use_cassette(..., record_mode="none", match_on=["method", "uri", "body"])``
  (it replays a recording again once all are played); the client is built inside the
  context, as cassetter requires, and its transport raises if ever reached.

Check before timing: every contender replays all 20 calls and each body must equal the
recorded JSON value (a byte-for-byte difference with an equal value is noted, not failed).
"""

from __future__ import annotations

import contextlib
import json

import httpx

from . import _fixtures as fx
from ._harness import Contender, Row, WrongAnswer, bench_main, cache_dir, measure

N_DISTINCT = 20


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("the replaying contender went upstream")


def check_answers(client: httpx.Client, traffic, notes: dict[str, str], name: str) -> None:
    identical = True
    for x in traffic:
        got = client.post(fx.generate.CHAT_URL, content=x.request, headers=fx.REQUEST_HEADERS)
        body = got.read()
        if got.status_code != 200 or json.loads(body) != json.loads(x.response):
            raise WrongAnswer(f"call {traffic.index(x)} got another body: {body[:80]!r}")
        identical = identical and body == x.response
    notes[name] = "bytes identical" if identical else "bytes differ, JSON value equal"


def contenders(traffic, calls: int, *, allow_repeats: bool = True, tag: str = "replay"):
    """The five contenders of a replay of ``traffic`` cycled to ``calls`` POSTs."""
    import respx

    import promptecho

    folder = cache_dir(tag)
    n = len(traffic)
    pe_path = fx.record_promptecho(folder / f"promptecho-{n}.json", traffic)
    vcr_path = fx.record_vcrpy(folder / f"vcrpy-{n}.yaml", traffic)
    cs_path = fx.record_cassetter(folder / f"cassetter-{n}.yaml", traffic)
    sequence = [traffic[i % n] for i in range(calls)]
    # vcrpy is ~10x slower per call; with a cassette cycled in turn its per-call cost does
    # not depend on the position, so it is timed on a prefix to keep the run short.
    vcr_calls = min(calls, 200)
    notes: dict[str, str] = {}

    def loop(client: httpx.Client, calls: int = calls) -> None:
        url, headers = fx.generate.CHAT_URL, fx.REQUEST_HEADERS
        for x in sequence[:calls]:
            client.post(url, content=x.request, headers=headers).read()

    def floor_client() -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(fx.upstream_handler(traffic)))

    def respx_client() -> httpx.Client:
        router = respx.MockRouter(assert_all_called=False)
        router.post(fx.generate.CHAT_URL).mock(side_effect=fx.upstream_handler(traffic))
        return httpx.Client(transport=httpx.MockTransport(router.handler))

    def pe_client() -> httpx.Client:
        return httpx.Client(
            transport=promptecho.EchoTransport(pe_path, mode="none", allow_repeats=allow_repeats)
        )

    def simple(make):
        def prepare():
            client = make()
            return (lambda: loop(client)), client.close

        return prepare

    def in_context(cm_factory, calls: int = calls):
        def prepare():
            stack = contextlib.ExitStack()
            stack.enter_context(cm_factory())
            client = stack.enter_context(httpx.Client(transport=httpx.MockTransport(_unreachable)))
            return (lambda: loop(client, calls)), stack.close

        return prepare

    def checker(name, make_cm=None, make_client=None):
        def check() -> None:
            with contextlib.ExitStack() as stack:
                if make_cm is not None:
                    stack.enter_context(make_cm())
                client = stack.enter_context(
                    make_client()
                    if make_client
                    else httpx.Client(transport=httpx.MockTransport(_unreachable))
                )
                check_answers(client, list(traffic), notes, name)

        return check

    def vcr_cm():
        return fx.vcr_replaying(vcr_path, allow_repeats=allow_repeats)

    def cs_cm():
        return fx.cassetter_replaying(cs_path)

    found = [
        Contender("httpx.MockTransport", simple(floor_client), floor=True, per=calls),
        Contender(
            "respx", simple(respx_client), checker("respx", make_client=respx_client), per=calls
        ),
        Contender(
            "promptecho", simple(pe_client), checker("promptecho", make_client=pe_client), per=calls
        ),
        Contender(
            "vcrpy (body match)",
            in_context(vcr_cm, vcr_calls),
            checker("vcrpy (body match)", vcr_cm),
            per=vcr_calls,
            note=f"timed on the first {vcr_calls} calls" if vcr_calls < calls else "",
        ),
        Contender(
            "cassetter (body match)",
            in_context(cs_cm),
            checker("cassetter (body match)", cs_cm),
            per=calls,
        ),
    ]
    return found, notes


def run(quick: bool) -> list[Row]:
    calls = 100 if quick else 2000
    reps = 5 if quick else 7
    traffic = fx.chat_traffic(N_DISTINCT)
    found, notes = contenders(traffic, calls)
    rows = measure(
        "replay",
        f"warm: {calls} POSTs over {N_DISTINCT} recordings, per call",
        found,
        reps,
        target="≤ 1.25x floor",
        limit=1.25,
        judge=["promptecho"],
    )
    for row in rows:
        row.note = "; ".join(filter(None, [row.note, notes.get(row.contender, "")]))
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
