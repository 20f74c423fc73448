"""Fixtures for the framework recipes: a wire-sample upstream, a cassette, and the record/replay round.

Each test in this folder records a framework's call against `FakeUpstream` (the real provider wire
samples of tests/upstream.py), stops the upstream, replays with fresh clients in mode "none", and
compares what the framework returned. A framework that is not installed skips its module with the
install line: the pinned ones come with the ``frameworks`` extra; instructor, llama-index and
openai-agents (whose pins conflict with the dev extra's) live in the venv ``.ci/run`` builds for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from promptecho._types import Mode
from promptecho.testing import FakeUpstream
from tests.sdk.conftest import stop_and_prove_down
from tests.upstream import wire_handler

T = TypeVar("T")

KEY = "sk-promptecho-test"

EXTRA = 'pip install -e ".[frameworks]"'
OWN_VENV = 'its pins conflict with the dev extra: .ci/run tests it in its own venv (pip install -e ".[frameworks-openai2]")'


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    """A live upstream serving the wire samples (stopped by `replayed_equal`, or at the end)."""
    upstream = FakeUpstream(wire_handler()).start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "framework.json"


def record_then_replay(up: FakeUpstream, run: Callable[[Mode], T]) -> tuple[T, T]:
    """``run("once")`` through the live upstream, stop it, then ``run("none")``."""
    live = run("once")
    stop_and_prove_down(up)
    return live, run("none")


async def arecord_then_replay(up: FakeUpstream, run: Callable[[Mode], object]) -> tuple[T, T]:
    """The async twin of `record_then_replay`: ``run`` returns an awaitable."""
    live = await run("once")  # type: ignore[misc]
    stop_and_prove_down(up)
    return live, await run("none")  # type: ignore[misc]


@contextlib.contextmanager
def own_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop, the thread's default until the block ends, then closed.

    pydantic-ai's ``run_sync`` and openai-agents' ``Runner.run_sync`` run on the thread's default
    loop and leave it open on purpose (a loop they create, too), with the async client's sockets
    on it. A sync caller that owns the loop can close the client on it, then the loop.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()
