"""Shared type aliases. No logic lives here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

JSON: TypeAlias = Any
"""A decoded JSON value: dict, list, str, int, float, bool or None."""

Mode: TypeAlias = Literal["once", "none", "new_episodes", "all", "rewrite", "verify"]
MODES: tuple[Mode, ...] = ("once", "none", "new_episodes", "all", "rewrite", "verify")

OnExpiry: TypeAlias = Literal["warn", "fail", "rerecord"]
ON_EXPIRY: tuple[OnExpiry, ...] = ("warn", "fail", "rerecord")

Headers: TypeAlias = list[tuple[str, str]]
"""Header pairs in wire order; names as sent, duplicates kept."""


if TYPE_CHECKING:  # a Protocol costs ~0.3 ms to create; only the type checker needs it

    class HeaderSource(Protocol):
        """Request headers read on demand: what httpx's and httpx2's ``Headers`` offer.

        Replaying needs two values, recording needs them all; decoding every pair of every
        request up front cost more than the rest of a replay's bookkeeping.
        """

        def get(self, key: str, /) -> str | None: ...

        def multi_items(self) -> list[tuple[str, str]]: ...


ReplayTiming: TypeAlias = Literal["recorded"] | float | None
"""None replays as fast as possible, "recorded" sleeps the recorded gaps, a float scales them."""
