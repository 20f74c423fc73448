"""``python -m promptecho``: the command line (see `promptecho._cli`)."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
