"""replay-many: does replay cost grow with the cassette's size?

Workload: cassettes of 50 and of 5,000 distinct chat calls (~3.5 KB each), each call
replayed exactly once, in a seeded shuffled order (not the recorded one). Time per call.
Contenders and their configuration are those of ``bench_replay`` (fresh client and
freshly loaded cassette per repetition; loading not timed), without repeats.

vcrpy is run only on the 50-interaction cassette: with body matching it compares every
incoming request to every recorded one (parsing both JSON bodies each time), so 5,000
calls cost 5,000²/2 comparisons - minutes per repetition. That is noted in the table.

Repetitions: 25 for the 50 case (a repetition is ~20 ms), 7 for the 5,000 case.

Targets: promptecho ≤ 1.25x the floor on both, and the 5,000 case within 10% of the 50 case:
compared as ratios to the floor timed beside each (the cases run minutes apart, and the
machine's speed drifts more than 10% in that time), with the plain per-call ratio noted.
"""

from __future__ import annotations

import random

from . import _fixtures as fx
from ._harness import Row, bench_main, measure
from .bench_replay import contenders


def run(quick: bool) -> list[Row]:
    sizes = (50, 200) if quick else (50, 5000)
    rows: list[Row] = []
    per_call: dict[int, float] = {}
    per_floor: dict[int, float] = {}  # promptecho / the floor timed beside it
    for n in sizes:
        # A repetition of the 50 case is ~20 ms of calls, short enough for one scheduling
        # hiccup on a busy 2-core machine to move it by 20%: it gets more repetitions.
        reps = 5 if quick else (25 if n <= 200 else 7)
        traffic = fx.chat_traffic(n, seed=11)
        random.Random(n).shuffle(traffic)
        found, notes = contenders(traffic, n, allow_repeats=False, tag="replay-many")
        if n > 200 or quick:  # --quick: a smoke run, vcrpy only in full runs
            found = [c for c in found if not c.name.startswith("vcrpy")]
        got = measure(
            "replay-many",
            f"first replay: {n} recordings, each replayed once after a fresh load, per call",
            found,
            reps,
            target="≤ 1.25x floor",
            limit=1.25,
            judge=["promptecho"],
        )
        for row in got:
            row.note = "; ".join(filter(None, [row.note, notes.get(row.contender, "")]))
            if row.contender == "promptecho" and row.median is not None:
                per_call[n] = row.median
                if row.ratio is not None:
                    per_floor[n] = row.ratio
        if n > 200 and not quick:
            got.append(
                Row(
                    "replay-many",
                    got[0].case,
                    "vcrpy (body match)",
                    None,
                    note="not run: body matching scans all recordings per call (quadratic)",
                )
            )
        rows.extend(got)
    small, big = sizes
    if small in per_floor and big in per_floor:
        # The two cases run minutes apart, and on this machine the floor itself moved by 40%
        # between them in one run: each is divided by the floor timed beside it first.
        growth = per_floor[big] / per_floor[small]
        absolute = per_call[big] / per_call[small]
        rows.append(
            Row(
                "replay-many",
                f"{big} vs {small} recordings",
                "promptecho",
                growth,
                unit="x",
                target="within 10% (≤ 1.10x)",
                verdict="met" if growth <= 1.10 else "NOT MET",
                note=f"ratio to the floor of the big cassette / of the small one "
                f"(per-call medians alone: {absolute:.2f}x)",
            )
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
