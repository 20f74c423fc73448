"""The ``promptecho`` command: ``demo``, and ``check`` / ``show`` for cassettes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._cassette import Cassette
from ._errors import CassetteError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="promptecho", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="record and replay against a built-in local upstream")
    demo.add_argument("--keep", type=Path, help="write the demo cassette into this folder")
    check = commands.add_parser("check", help="validate cassettes (schema and format version)")
    check.add_argument("paths", nargs="+", type=Path)
    show = commands.add_parser("show", help="list a cassette's interactions, one per line")
    show.add_argument("path", type=Path)
    args = parser.parse_args(argv)

    if args.command == "demo":
        from ._demo import run_demo  # imports the upstream server only when asked

        return run_demo(sys.stdout, args.keep)
    if args.command == "check":
        failed = 0
        for path in args.paths:
            try:
                cassette = Cassette.load(path)
            except CassetteError as err:
                print(f"FAIL {err}", file=sys.stderr)
                failed += 1
            else:
                print(f"ok   {path}: {len(cassette.interactions)} interactions")
        return 1 if failed else 0
    try:
        cassette = Cassette.load(args.path)
    except CassetteError as err:
        print(err, file=sys.stderr)
        return 1
    for number, interaction in enumerate(cassette.interactions):
        request, response = interaction.request, interaction.response
        outcome = str(response.status) if response is not None else ""
        if interaction.error is not None:
            outcome = f"{outcome} {interaction.error.type}".strip()
        kind = response.body.__class__.__name__.lower() if response is not None else "-"
        stream = " stream" if request.stream else ""
        print(
            f"#{number} {request.method} {request.url} [{request.api}{stream}] -> {outcome} {kind}"
        )
    return 0
