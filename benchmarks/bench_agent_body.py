"""agent-body: promptecho's own work on one large agent request.

Question: how much does promptecho spend deciding what answers a 200 KB agent request
(60 turns of tool calls and tool results, 20 tools), against just parsing its JSON?

Contenders (one call each, repeated ``per`` times per sample, interleaved):

* floor: ``json.loads(body)``.
* ``msgspec.json.decode(body)``: the parser promptecho itself uses (a reference).
* promptecho decide(): ``Recorder.decide("POST", url, headers, body)`` on a cassette that
  holds this request, loaded in mode ``none`` with ``allow_repeats=True``: redaction of the
  URL, canonicalization, fingerprint (select + sorted encode + sha256) and the lookup.
* promptecho pieces, as references: ``canonicalize_request`` alone, and the fingerprint
  alone (``promptecho._index.key_of`` on the canonical request).
* vcrpy body matcher: ``vcr.matchers.body(incoming, recorded)`` on one candidate, the
  per-candidate cost of vcrpy's ``match_on=[..., "body"]`` (it runs it for every recorded
  interaction until one matches).

Check before timing: decide() must return the recorded replay (a ``Replay``, status 200).
"""

from __future__ import annotations

import json

import msgspec

from . import _fixtures as fx
from . import generate
from ._harness import Contender, Row, WrongAnswer, bench_main, cache_dir, measure


def run(quick: bool) -> list[Row]:
    from promptecho._canonical import canonicalize_request
    from promptecho._index import key_of
    from promptecho._options import Options
    from promptecho._recorder import Recorder, Replay

    body = generate.agent_request()
    answer = generate.chat_response(0)
    traffic = [fx.Exchange(body, answer, tuple(generate.response_headers(0)))]
    path = fx.record_promptecho(cache_dir("agent-body") / "promptecho-agent.json", traffic)
    recorder = Recorder(path, Options(mode="none", allow_repeats=True))
    url = generate.CHAT_URL
    headers = [*fx.REQUEST_HEADERS, ("content-length", str(len(body)))]

    def decide():
        return recorder.decide("POST", url, headers, body)

    def check() -> None:
        got = decide()
        if not isinstance(got, Replay) or got.status != 200:
            raise WrongAnswer(f"decide() returned {got!r}")
        if json.loads(b"".join(c for _, c in got.chunks)) != json.loads(answer):
            raise WrongAnswer("decide() replayed another answer")

    canonical = canonicalize_request(url, body, "application/json")

    import vcr.matchers
    from vcr.request import Request

    incoming = Request("POST", url, body, {"content-type": "application/json"})
    recorded = Request("POST", url, body, {"content-type": "application/json"})

    per = 5 if quick else 20
    reps = 5 if quick else 11

    def looped(fn):
        def prepare():
            def timed():
                for _ in range(per):
                    fn()

            return timed

        return prepare

    contenders = [
        Contender("json.loads", looped(lambda: json.loads(body)), floor=True, per=per),
        Contender("msgspec.json.decode", looped(lambda: msgspec.json.decode(body)), per=per),
        Contender("promptecho decide()", looped(decide), check, per=per),
        Contender(
            "promptecho canonicalize_request",
            looped(lambda: canonicalize_request(url, body, "application/json")),
            per=per,
        ),
        Contender(
            "promptecho fingerprint (key_of)",
            looped(
                lambda: key_of("POST", url, canonical.api, canonical.stream, canonical.body, None)
            ),
            per=per,
        ),
        Contender(
            "vcrpy body matcher (1 candidate)",
            looped(lambda: vcr.matchers.body(incoming, recorded)),
            per=per,
        ),
    ]
    return measure(
        "agent-body",
        f"{len(body) // 1000} KB request, per request",
        contenders,
        reps,
        target="≤ 3x json.loads",
        limit=3.0,
        judge=["promptecho decide()"],
    )


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
