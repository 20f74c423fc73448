"""vcr-default: vcrpy's DEFAULT matching replays the wrong answer for LLM calls.

Workload: 50 distinct chat POSTs to one URL recorded, then replayed in a seeded shuffled
order. vcrpy with its default ``match_on`` (method, scheme, host, port, path, query) sees
50 identical requests and plays the recordings in recorded order; we count the calls that
got another request's answer. promptecho (default matching) and cassetter (default
``match_on``: method, uri) are run the same way for contrast. The "median" column is the
count of wrong answers; nothing is timed.
"""

from __future__ import annotations

import contextlib
import json
import random

import httpx

from . import _fixtures as fx
from ._harness import Row, bench_main, cache_dir


def _count_wrong(client: httpx.Client, traffic) -> int:
    wrong = 0
    for x in traffic:
        try:
            body = client.post(
                fx.generate.CHAT_URL, content=x.request, headers=fx.REQUEST_HEADERS
            ).read()
        except Exception:
            wrong += 1
            continue
        wrong += json.loads(body) != json.loads(x.response)
    return wrong


def run(quick: bool) -> list[Row]:
    import cassetter

    import promptecho

    folder = cache_dir("vcr-default")
    traffic = fx.chat_traffic(50, seed=21)
    vcr_path = fx.record_vcrpy(
        folder / "vcrpy-default.yaml",
        traffic,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )
    pe_path = fx.record_promptecho(folder / "promptecho.json", traffic)
    cs_path = folder / "cassetter-default.yaml"
    if not cs_path.exists():
        with (
            cassetter.use_cassette(cs_path, record_mode="all"),
            httpx.Client(transport=httpx.MockTransport(fx.upstream_handler(traffic))) as client,
        ):
            fx.post_all(client, traffic)
    shuffled = list(traffic)
    random.Random(7).shuffle(shuffled)

    def unreachable(request):
        raise AssertionError("went upstream")

    results = {}
    import vcr

    with (
        vcr.VCR().use_cassette(str(vcr_path), record_mode="none"),
        httpx.Client(transport=httpx.MockTransport(unreachable)) as c,
    ):
        results["vcrpy (default match_on)"] = _count_wrong(c, shuffled)
    with contextlib.ExitStack() as stack:
        stack.enter_context(cassetter.use_cassette(cs_path, record_mode="none"))
        c = stack.enter_context(httpx.Client(transport=httpx.MockTransport(unreachable)))
        results["cassetter (default match_on)"] = _count_wrong(c, shuffled)
    with httpx.Client(transport=promptecho.EchoTransport(pe_path, mode="none")) as c:
        results["promptecho (default)"] = _count_wrong(c, shuffled)
    return [
        Row(
            "vcr-default",
            "50 POSTs to one URL, replayed shuffled: calls answered with another request's body",
            name,
            float(n),
            unit="wrong",
            verdict="WRONG ANSWER" if n else "",
            note=f"{n}/50 wrong" if n else "0/50 wrong",
        )
        for name, n in results.items()
    ]


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
