"""``python -m benchmarks.instructions``: the noisy rows again, counted in instructions.

On a busy 2-core VM, two identical floors differ by 25-40% in wall time within one run,
so a target of a few percent (``replay`` ≤ 1.25x) or of 0.5 ms in a 1.3 s session
(``pytest``) sits inside the noise. ``valgrind --tool=callgrind`` counts the instructions
a process executes, the same count whatever else the machine is doing. It does not count
the kernel's work (system calls, page faults, disk reads), nor cache misses: it says what
promptecho's own code costs, not how long a test waits. The targets of issue 7 stay on
wall time (``python -m benchmarks``); this is the measurement to profile against.

Rows (each process runs once per size, ``PYTHONHASHSEED=0``):

* replay: the ``replay`` workload's 20 recordings cycled, floor (``httpx.MockTransport``)
  and promptecho (``EchoTransport(mode="none", allow_repeats=True)``); per call, the
  count of a 300-call process minus a 100-call one, over 200 (start-up cancels out).
* record: 300 and 100 calls recorded through ``EchoTransport`` (closed: the journal
  folded), against plain ``httpx.Client``, to the fake upstream in a process of its own.
* pytest: the ``pytest`` workload's suites (``bench_pytest``, 300 tests), whole sessions;
  per test, (promptecho - floor) / 300.

Needs ``valgrind`` on the PATH; takes about five minutes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from ._harness import child_env, warm_bytecode

_ROOT = Path(__file__).resolve().parent.parent

_REPLAY = r"""
import sys
import httpx
from benchmarks import _fixtures as fx
from benchmarks.bench_replay import N_DISTINCT
kind, calls, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
traffic = fx.chat_traffic(N_DISTINCT)
if kind == "floor":
    client = httpx.Client(transport=httpx.MockTransport(fx.upstream_handler(traffic)))
else:
    import promptecho
    client = httpx.Client(transport=promptecho.EchoTransport(path, mode="none", allow_repeats=True))
for i in range(calls):
    x = traffic[i % N_DISTINCT]
    client.post(fx.generate.CHAT_URL, content=x.request, headers=fx.REQUEST_HEADERS).read()
"""

_RECORD = r"""
import sys, tempfile
from pathlib import Path
from benchmarks import _fixtures as fx
kind, calls = sys.argv[1], int(sys.argv[2])
traffic = fx.chat_traffic(300, seed=31)
with fx.upstream_process(300, seed=31) as base:
    client, stack = fx.recording_client(kind, Path(tempfile.mkdtemp()) / "cassette")
    with stack:
        for x in traffic[:calls]:
            client.post(base + "/v1/chat/completions", content=x.request,
                        headers=fx.REQUEST_HEADERS).read()
"""


def _count(argv: list[str], cwd: Path = _ROOT) -> int:
    """Instructions callgrind counted for one process (not its children)."""
    env = child_env()
    env["PYTHONHASHSEED"] = "0"
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(
            f"{' '.join(argv[:4])} failed:\n{proc.stdout[-800:]}{proc.stderr[-800:]}"
        )
    return int(found.group(1))


def _per_call(code: str, kind: str, *args: str) -> float:
    small, big = (_count([sys.executable, "-c", code, kind, str(n), *args]) for n in (100, 300))
    return (big - small) / 200


def _line(what: str, floor: float, ours: float, unit: str) -> str:
    return (
        f"| {what} | {floor / 1e3:,.0f}k | {ours / 1e3:,.0f}k | {ours / floor:.3f}x "
        f"| {(ours - floor) / 1e3:+,.0f}k per {unit} |"
    )


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count.", file=sys.stderr)
        return 2
    from . import _fixtures as fx
    from . import bench_pytest
    from ._harness import cache_dir
    from .bench_replay import N_DISTINCT

    warm_bytecode()
    lines = [
        "| workload | floor (instructions) | promptecho | ratio | overhead |",
        "|---|---:|---:|---:|---:|",
    ]
    cassette = fx.record_promptecho(
        cache_dir("instructions") / "replay.json", fx.chat_traffic(N_DISTINCT)
    )
    floor = _per_call(_REPLAY, "floor", str(cassette))
    ours = _per_call(_REPLAY, "promptecho", str(cassette))
    lines.append(_line("replay, per call", floor, ours, "call"))
    floor, ours = _per_call(_RECORD, "floor"), _per_call(_RECORD, "promptecho")
    lines.append(_line("record, per call (fold included)", floor, ours, "call"))
    n = 300
    folders = bench_pytest._build(n)
    counts = {}
    for kind in ("floor", "promptecho"):
        flags = bench_pytest._FLAGS[kind]
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags]
        counts[kind] = _count([*argv, "test_gen.py"], cwd=folders[kind]) / n
    lines.append(
        _line(f"pytest, {n} tests, per test", counts["floor"], counts["promptecho"], "test")
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
