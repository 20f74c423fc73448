"""``python -m benchmarks [--quick] [--json PATH] [--only ID ...] [--results PATH]``.

Runs every workload of issue 7 side by side, prints one Markdown table of medians and
ratios to each workload's floor, and (for a full run, unless ``--no-results``) rewrites
``benchmarks/RESULTS.md`` with the table and the machine it ran on.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from ._harness import Row, machine, table, write_json

# Issue 7's rows, in its order; each id is benchmarks/bench_<id with _>.py.
WORKLOADS = (
    "replay",
    "replay-many",
    "agent-body",
    "stream",
    "stream-first",
    "record-first-byte",
    "record",
    "load",
    "pytest",
    "import",
    "vcr-default",
)

RESULTS = Path(__file__).with_name("RESULTS.md")
NOTES = "## Notes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run, under a minute")
    parser.add_argument("--json", metavar="PATH", help="also write every row as JSON")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    parser.add_argument("--results", metavar="PATH", default=None, help="where to write RESULTS.md")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)

    rows: list[Row] = []
    started = time.perf_counter()
    info = machine()
    for workload in args.only or WORKLOADS:
        module_name = f"benchmarks.bench_{workload.replace('-', '_')}"
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            got = module.run(args.quick)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            got = [Row(workload, "-", "-", None, verdict="not written yet")]
        except Exception as err:
            traceback.print_exc()
            got = [
                Row(workload, "-", "-", None, verdict="ERROR", note=f"{type(err).__name__}: {err}")
            ]
        rows.extend(got)
        print(f"[{workload}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    text = table(rows)
    print(text)
    print(f"\n{elapsed:.1f} s in all", file=sys.stderr)
    if args.json:
        write_json(Path(args.json), rows, quick=args.quick)
    if not args.quick and not args.no_results and (not args.only or args.results):
        write_results(Path(args.results) if args.results else RESULTS, rows, info, elapsed)
    return 0


def write_results(path: Path, rows: list[Row], info: dict[str, object], elapsed: float) -> None:
    packages = info.pop("packages")
    lines = [
        "# promptecho benchmark results",
        "",
        "The latest full run of `python -m benchmarks` (issue 7). Every time is a median over "
        "repetitions in which the contenders ran interleaved (a rotating order per "
        "repetition), so that noise from other processes on this shared, busy machine hits "
        "all contenders alike. Ratios divide by the workload's floor. A contender whose "
        "replayed bytes were wrong is shown as WRONG ANSWER and never timed.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "- packages: " + ", ".join(f"{k} {v}" for k, v in packages.items()),  # type: ignore[attr-defined]
        f"- wall time of the run: {elapsed:.0f} s",
        "",
        "## Results",
        "",
        table(rows),
        "",
    ]
    # The hand-written analysis (from "## Notes" on) survives a new run.
    old = path.read_text() if path.exists() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else ""
    path.write_text("\n".join(lines) + ("\n" + notes if notes else ""))


if __name__ == "__main__":
    raise SystemExit(main())
