"""Shared type aliases. No logic lives here."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

JSON: TypeAlias = Any
"""A decoded JSON value: dict, list, str, int, float, bool or None."""

Mode: TypeAlias = Literal["once", "none", "new_episodes", "all"]
MODES: tuple[Mode, ...] = ("once", "none", "new_episodes", "all")

Headers: TypeAlias = list[tuple[str, str]]
"""Header pairs in wire order; names as sent, duplicates kept."""

ReplayTiming: TypeAlias = Literal["recorded"] | float | None
"""None replays as fast as possible, "recorded" sleeps the recorded gaps, a float scales them."""
