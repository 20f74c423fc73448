"""What every bench shares: interleaved timing, medians, result rows, machine facts.

A contender is a name and a ``prepare()`` callable. ``prepare()`` does the untimed setup
of one repetition (a fresh transport, a fresh client) and returns the timed callable.
`interleave` runs repetition by repetition, every contender once per repetition, in an
order that rotates (seeded), so that a burst of noise from another process hits all
contenders alike; the result is the median per contender.

Before anything is timed, each contender's ``check()`` proves it gives the right answer;
a contender that fails its check becomes a ``WRONG ANSWER`` row and is never timed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Contender",
    "Row",
    "WrongAnswer",
    "bench_main",
    "cache_dir",
    "child_env",
    "interleave",
    "machine",
    "measure",
    "rows_from",
    "warm_bytecode",
]

WRONG = "WRONG ANSWER"


class WrongAnswer(AssertionError):
    """A contender replayed something other than what was recorded."""


@dataclass
class Row:
    """One line of the results table."""

    workload: str
    case: str
    contender: str
    median: float | None  # in ``unit``; None when the contender was not timed
    unit: str = "s"
    floor: bool = False  # this row is the floor the others are divided by
    ratio: float | None = None
    target: str = ""
    verdict: str = ""  # "met", "NOT MET", WRONG, or "" for reference rows
    note: str = ""
    samples: list[float] = field(default_factory=list)


@dataclass
class Contender:
    name: str
    # Returns the timed callable, or (timed callable, untimed cleanup).
    prepare: Callable[[], Any]
    check: Callable[[], None] | None = None
    floor: bool = False
    note: str = ""
    per: int = 1  # the timed callable does this many operations; medians are per operation


def interleave(
    contenders: Sequence[Contender], reps: int, *, seed: int = 0
) -> dict[str, list[float] | str]:
    """Check every contender, then time them repetition by repetition.

    Returns, per contender name, the list of per-operation times (seconds), or the
    message of its failed check.
    """
    results: dict[str, list[float] | str] = {}
    live: list[Contender] = []
    for c in contenders:
        if c.check is not None:
            try:
                c.check()
            except Exception as err:  # any failure is a finding, shown in the table
                results[c.name] = f"{type(err).__name__}: {err}"[:300]
                continue
        results[c.name] = []
        live.append(c)
    rng = random.Random(seed)
    for _ in range(reps):
        order = list(live)
        rng.shuffle(order)
        for c in order:
            prepared = c.prepare()
            run, cleanup = prepared if isinstance(prepared, tuple) else (prepared, None)
            gc.collect()
            t0 = time.perf_counter()
            run()
            elapsed = time.perf_counter() - t0
            if cleanup is not None:
                cleanup()
            results[c.name].append(elapsed / c.per)  # type: ignore[union-attr]
    return results


def measure(
    workload: str,
    case: str,
    contenders: Sequence[Contender],
    reps: int,
    *,
    target: str = "",
    limit: float | None = None,
    judge: Sequence[str] = (),
    seed: int = 0,
) -> list[Row]:
    """`interleave`, then rows with ratios to the floor; ``judge`` rows get a verdict.

    ``limit`` is the largest ratio to the floor that meets ``target``.
    """
    results = interleave(contenders, reps, seed=seed)
    return rows_from(workload, case, contenders, results, target=target, limit=limit, judge=judge)


def rows_from(
    workload: str,
    case: str,
    contenders: Sequence[Contender],
    results: dict[str, list[float] | str],
    *,
    unit: str = "s",
    target: str = "",
    limit: float | None = None,
    judge: Sequence[str] = (),
) -> list[Row]:
    floor_med = None
    for c in contenders:
        value = results[c.name]
        if c.floor and isinstance(value, list) and value:
            floor_med = statistics.median(value)
    rows = []
    for c in contenders:
        value = results[c.name]
        if isinstance(value, str):
            # A wrong replayed body is a wrong answer; any other error means it could not answer.
            verdict = WRONG if value.startswith("WrongAnswer") else "FAILED"
            rows.append(
                Row(workload, case, c.name, None, unit, c.floor, None, target, verdict, value)
            )
            continue
        med = statistics.median(value)
        ratio = med / floor_med if floor_med else None
        verdict = ""
        if c.name in judge and limit is not None and ratio is not None:
            verdict = "met" if ratio <= limit else "NOT MET"
        rows.append(
            Row(
                workload,
                case,
                c.name,
                med,
                unit,
                c.floor,
                ratio,
                target if c.name in judge else "",
                verdict,
                c.note,
                value,
            )
        )
    return rows


# -- machine and environment -----------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, object]:
    """The facts a reader needs to compare two runs."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "packages": {
            name: _version(name)
            for name in (
                "promptecho",
                "httpx",
                "httpx2",
                "msgspec",
                "vcrpy",
                "pytest-recording",
                "cassetter",
                "respx",
                "openai",
                "pytest",
                "PyYAML",
            )
        },
    }


# Bump when a generator in generate.py changes what it returns (cached fixtures are keyed on it).
FIXTURES_VERSION = "2"  # 2: cassette format 2


def cache_dir(name: str) -> Path:
    """A folder for generated fixtures (cassettes), kept between runs to save time."""
    folder = Path(tempfile.gettempdir()) / f"promptecho-bench-v{FIXTURES_VERSION}" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def child_env() -> dict[str, str]:
    """The environment of a timed child interpreter: ours, with bytecode caching on.

    Some CI and sandbox images export ``PYTHONDONTWRITEBYTECODE=1``. An installed wheel
    ships its ``.pyc`` files (pip compiles them), but an editable install, like the
    checkout these benchmarks run from, then recompiles every module from source in every
    child: that times the compiler, not the import, and only for promptecho. A user's
    machine caches bytecode, so the children do too (and `warm_bytecode` fills the cache
    before the first one is timed).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode() -> None:
    """Compile promptecho's modules once, as an install would, before anything is timed."""
    import compileall

    import promptecho

    compileall.compile_dir(Path(promptecho.__file__).parent, quiet=1)


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=child_env() if env is None else env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- output ------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.2f} ms"
        return f"{value * 1e6:.1f} µs"
    if unit == "B":
        return f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} KB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g} {unit}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows."""
    head = "| workload | case | contender | median | ratio to floor | target | verdict | note |"
    lines = [head, "|---|---|---|---:|---:|---|---|---|"]
    for r in rows:
        med = WRONG if r.verdict == WRONG and r.median is None else fmt_value(r.median, r.unit)
        ratio = "floor" if r.floor else (f"{r.ratio:.2f}x" if r.ratio is not None else "")
        note = r.note.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r.workload} | {r.case} | {r.contender} | {med} | {ratio} | {r.target} "
            f"| {r.verdict} | {note} |"
        )
    return "\n".join(lines)


def bench_main(run: Callable[[bool], list[Row]], argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.bench_x [--quick] [--json PATH]``: one bench on its own."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer operations (CI smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    print(table(rows))
    if args.json:
        write_json(Path(args.json), rows, quick=args.quick)
    return 0


def write_json(path: Path, rows: Sequence[Row], *, quick: bool) -> None:
    data = {"machine": machine(), "quick": quick, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
