"""import: what ``import promptecho`` adds to a test session's start-up.

Question: how long does ``python -c "import promptecho"`` take beyond the imports it
cannot avoid (``import httpx, msgspec``)?

Method: fresh interpreters, interleaved run by run (``-c pass`` as the floor, then
``import httpx, msgspec``, ``import promptecho``, ``import vcr``, ``import cassetter``), the
wall time of each process, medians. Then ``-X importtime`` of ``import promptecho`` gives
the self time of promptecho's own modules (medians over the same runs), to show where the
time goes. Children cache bytecode as a user's interpreter does (see `child_env`).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time

from ._harness import Row, bench_main, child_env, warm_bytecode

SNIPPETS = {
    "python -c pass": "pass",
    "import httpx, msgspec": "import httpx, msgspec",
    "import promptecho": "import promptecho",
    "import promptecho.httpx2": "import promptecho.httpx2",
    "import vcr": "import vcr",
    "import cassetter": "import cassetter",
}


_ENV = child_env()


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=_ENV)
    return time.perf_counter() - t0


def _importtime() -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import promptecho"],
        check=True,
        capture_output=True,
        text=True,
        env=_ENV,
    )
    out: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|")
        self_us = head.removeprefix("import time:").strip()
        name = name.strip()
        out[name] = float(self_us) / 1e6
        if name == "promptecho":
            out["<promptecho cumulative>"] = float(cumulative) / 1e6
    return out


def run(quick: bool) -> list[Row]:
    reps = 5 if quick else 31
    warm_bytecode()
    rng = random.Random(0)
    snippets = dict(SNIPPETS)
    if quick:  # a smoke run: promptecho against its floor only
        for name in ("import promptecho.httpx2", "import vcr", "import cassetter"):
            del snippets[name]
    times: dict[str, list[float]] = {k: [] for k in snippets}
    profiles: list[dict[str, float]] = []
    for _ in range(reps):
        order = list(snippets)
        rng.shuffle(order)
        for name in order:
            times[name].append(_wall(snippets[name]))
        profiles.append(_importtime())
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["import httpx, msgspec"]
    rows: list[Row] = []
    for name, value in med.items():
        extra = value - base
        verdict, target, note = "", "", ""
        if name != "python -c pass":
            note = f"{extra * 1e3:+.1f} ms over import httpx, msgspec"
        if name == "import promptecho":
            target = "≤ +20 ms over httpx, msgspec"
            verdict = "met" if extra <= 0.020 else "NOT MET"
        rows.append(
            Row(
                "import",
                "wall time of a fresh interpreter",
                name,
                value,
                floor=name == "import httpx, msgspec",
                ratio=value / base,
                target=target,
                verdict=verdict,
                note=note,
                samples=times[name],
            )
        )
    own = {
        name: statistics.median(p.get(name, 0.0) for p in profiles)
        for name in profiles[0]
        if name.startswith("promptecho") or name == "<promptecho cumulative>"
    }
    cumulative = own.pop("<promptecho cumulative>", 0.0)
    top = sorted(own.items(), key=lambda kv: -kv[1])[:6]
    rows.append(
        Row(
            "import",
            "-X importtime, promptecho's own modules (self time)",
            "promptecho (sum of own modules)",
            sum(own.values()),
            note=f"cumulative incl. dependencies {cumulative * 1e3:.1f} ms; top: "
            + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in top),
        )
    )
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
