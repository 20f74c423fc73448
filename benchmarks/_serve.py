"""A fake upstream in a process of its own: ``python -m benchmarks._serve N SEED``.

It answers the ``_fixtures.chat_traffic(N, seed=SEED)`` requests with their prebuilt
responses, prints its URL on one line, and serves until its standard input closes.
See `_fixtures.upstream_process`.
"""

from __future__ import annotations

import sys

from promptecho.testing import FakeUpstream, Reply, Seen

from . import _fixtures as fx


def main(n: int, seed: int) -> None:
    table = {x.request: x for x in fx.chat_traffic(n, seed=seed)}

    def handler(seen: Seen) -> Reply:
        x = table[seen.body]
        return Reply(200, headers=list(x.headers), chunks=[x.response])

    with FakeUpstream(handler) as up:
        print(up.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
