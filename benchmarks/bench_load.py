"""load: cold load of a cassette, time and peak memory, one fresh process per measurement.

Question: how long does a test wait, and how much memory does it take, before the first
replay, as cassettes grow from 1 to 10,000 LLM-sized interactions (~3.5 KB each)?

Each measurement runs in its own interpreter: imports first (not timed), then the peak
RSS is reset (``/proc/self/clear_refs``), then one load is timed; memory growth is the
peak RSS (``VmHWM``) after the load minus the RSS before it, so native allocations
(cassetter's Rust core, libyaml) count like Python ones. Contenders, interleaved
repetition by repetition, each on the cassette it recorded itself (``_fixtures``):

* promptecho EchoTransport: ``EchoTransport(path, mode="none")`` (loads and indexes:
  every recorded request is fingerprinted).
* promptecho Cassette.load: ``Cassette.load(path)`` (decode and validate only).
* vcrpy: ``vcr.cassette.Cassette.load(path=..., record_mode="none",
  match_on=["method", "uri", "body"])``, PyYAML with libyaml's CLoader when available
  (what vcrpy uses by default).
* cassetter: ``cassetter.Cassette(path, record_mode=RecordMode.NONE).load()``.

Targets: promptecho ≥ 20x faster than vcrpy and not slower than cassetter; its peak
memory growth ≤ 3x its file size. The ratio column divides by vcrpy's time.
"""

from __future__ import annotations

import statistics

from . import _fixtures as fx
from ._harness import Row, bench_main, cache_dir, run_python

_CHILD = r"""
import gc, json, sys, time
kind, path = sys.argv[1], sys.argv[2]

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0

if kind == "promptecho-transport":
    import promptecho
    load = lambda: promptecho.EchoTransport(path, mode="none")
elif kind == "promptecho-cassette":
    import promptecho
    load = lambda: promptecho.Cassette.load(path)
elif kind == "vcrpy":
    from vcr.cassette import Cassette
    load = lambda: Cassette.load(path=path, record_mode="none", match_on=["method", "uri", "body"])
elif kind == "cassetter":
    import cassetter
    def load():
        c = cassetter.Cassette(path, record_mode=cassetter.RecordMode.NONE)
        c.load()
        return c
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
t0 = time.perf_counter()
obj = load()
seconds = time.perf_counter() - t0
peak = status("VmHWM")
n = len(obj.interactions) if hasattr(obj, "interactions") else len(getattr(obj, "data", getattr(obj, "recorder", None) and obj.recorder._index.entries or []))
print(json.dumps({"seconds": seconds, "growth": max(peak - before, 0), "n": n}))
"""

KINDS = {
    "promptecho EchoTransport": ("promptecho-transport", "promptecho"),
    "promptecho Cassette.load": ("promptecho-cassette", "promptecho"),
    "vcrpy (YAML)": ("vcrpy", "vcrpy"),
    "cassetter": ("cassetter", "cassetter"),
}


def fixtures(n: int) -> dict[str, object]:
    folder = cache_dir("load")
    traffic = fx.chat_traffic(n)
    return {
        "promptecho": fx.record_promptecho(folder / f"promptecho-{n}.json", traffic),
        "vcrpy": fx.record_vcrpy(folder / f"vcrpy-{n}.yaml", traffic),
        "cassetter": fx.record_cassetter(folder / f"cassetter-{n}.yaml", traffic),
    }


def run(quick: bool) -> list[Row]:
    import random

    sizes = (100,) if quick else (1, 100, 1000, 10_000)
    reps = 5
    rows: list[Row] = []
    rng = random.Random(0)
    for n in sizes:
        paths = fixtures(n)
        times: dict[str, list[float]] = {k: [] for k in KINDS}
        growth: dict[str, list[float]] = {k: [] for k in KINDS}
        wrong: dict[str, str] = {}
        for _ in range(reps):
            order = list(KINDS)
            rng.shuffle(order)
            for name in order:
                if name in wrong:
                    continue
                kind, owner = KINDS[name]
                try:
                    out = run_python(_CHILD, kind, str(paths[owner]))
                except RuntimeError as err:
                    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
                    useful = [ln for ln in lines if "budget" in ln or "Error" in ln]
                    wrong[name] = "failed to load: " + (useful or lines or ["?"])[-1][:200]
                    continue
                if out["n"] not in (n, 0):  # 0: the contender does not expose a count
                    wrong[name] = f"loaded {out['n']} interactions, expected {n}"
                    continue
                times[name].append(float(out["seconds"]))  # type: ignore[arg-type]
                growth[name].append(float(out["growth"]))  # type: ignore[arg-type]
        file_size = {owner: p.stat().st_size for owner, p in paths.items()}  # type: ignore[attr-defined]
        vcr_med = statistics.median(times["vcrpy (YAML)"]) if times["vcrpy (YAML)"] else None
        cs_med = statistics.median(times["cassetter"]) if times["cassetter"] else None
        for name, (_, owner) in KINDS.items():
            case = f"{n} interactions"
            if name in wrong:
                verdict = "FAILED" if wrong[name].startswith("failed") else "WRONG ANSWER"
                rows.append(Row("load", case, name, None, verdict=verdict, note=wrong[name]))
                continue
            med = statistics.median(times[name])
            mem = statistics.median(growth[name])
            size = file_size[owner]
            mem_ratio = mem / size
            note = (
                f"peak RSS growth {mem / 1e6:.1f} MB = {mem_ratio:.1f}x its file "
                f"({size / 1e6:.2f} MB)"
            )
            verdict, target = "", ""
            if name == "promptecho EchoTransport" and vcr_med:
                target = "≥ 20x faster than vcrpy, ≤ cassetter, memory ≤ 3x file"
                ok = med * 20 <= vcr_med and (cs_med is None or med <= cs_med) and mem_ratio <= 3
                verdict = "met" if ok else "NOT MET"
                note += f"; {vcr_med / med:.1f}x faster than vcrpy"
                note += (
                    f", {cs_med / med:.2f}x cassetter's speed"
                    if cs_med
                    else ", cassetter could not load this size"
                )
            rows.append(
                Row(
                    "load",
                    case,
                    name,
                    med,
                    floor=name == "vcrpy (YAML)",
                    ratio=med / vcr_med if vcr_med else None,
                    target=target,
                    verdict=verdict,
                    note=note,
                    samples=times[name],
                )
            )
    return rows


if __name__ == "__main__":
    raise SystemExit(bench_main(run))
