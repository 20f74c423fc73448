"""Durability: SIGKILL at random points, folds killed half-way, and cassettes edited by hand.

The kill test runs many recording processes against one FakeUpstream, each killed right
after it reports a randomly chosen response as read (seeded), so the kill lands wherever
the child happens to be: inside a request, a journal append, or a fold.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from promptecho import Cassette, CassetteMiss, _store
from promptecho._store import fold, journal_path
from promptecho.testing import FakeUpstream

from .conftest import CHAT_URL, Flavour, Upstream, chat

KILLS = 60
SEED = 20240817
REQUESTS = 12  # per child; it folds (closes and reopens its transport) after every third
BOUNDED = 30.0  # seconds: a bounded wait, never a synchronisation

# One process imports httpx and promptecho once, then forks a recording child per command,
# so 60 kills cost milliseconds each instead of a Python start-up each.
_ZYGOTE = textwrap.dedent(
    """
    import os, sys, threading, httpx, promptecho

    def record(cassette, url, count):
        print(f"started {os.getpid()}", flush=True)

        def transport():
            return promptecho.EchoTransport(cassette, mode="new_episodes")

        client = httpx.Client(base_url=url, transport=transport())
        for k in range(count):
            body = {"model": "m", "messages": [{"role": "user", "content": f"q{k}"}]}
            client.post("/v1/chat/completions", json=body).json()
            print(f"read {k}", flush=True)
            if k % 3 == 2:
                client.close()  # a fold: the kill may land inside it
                client = httpx.Client(base_url=url, transport=transport())
        print("waiting", flush=True)
        threading.Event().wait()  # until killed

    for line in sys.stdin:
        cassette, url, count = line.split()
        pid = os.fork()
        if pid == 0:
            record(cassette, url, int(count))
        os.waitpid(pid, 0)
        print("reaped", flush=True)
    """
)


def _questions(path: Path) -> Counter[str]:
    return Counter(
        i.request.body["messages"][0]["content"][0]["text"]
        for i in Cassette.load(path).interactions
    )


def _questions_in_file(path: Path) -> Counter[str]:
    return Counter(
        i.request.body["messages"][0]["content"][0]["text"]
        for i in Cassette.from_bytes(path.read_bytes()).interactions
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_60_sigkills_at_random_points_never_lose_a_read_interaction(
    live: FakeUpstream, tmp_path: Path
) -> None:
    script = tmp_path / "zygote.py"
    script.write_text(_ZYGOTE)
    rng = random.Random(SEED)
    zygote = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert zygote.stdin is not None
    assert zygote.stdout is not None
    kills = []
    child: int | None = None
    try:
        for n in range(KILLS):
            cassette = tmp_path / f"run{n}" / "cassette.json"
            last_read = rng.randrange(REQUESTS)
            zygote.stdin.write(f"{cassette} {live.url} {REQUESTS}\n")
            zygote.stdin.flush()
            started = zygote.stdout.readline().split()
            assert started[0] == "started", started
            while (line := zygote.stdout.readline().strip()) != f"read {last_read}":
                assert line.startswith("read "), line
            child = int(started[1])
            os.kill(child, signal.SIGKILL)
            while zygote.stdout.readline().strip() != "reaped":  # maybe "waiting" first
                pass
            child = None
            kills.append(last_read)

            fold(cassette)  # what the next run's load does first
            questions = _questions(cassette)
            assert {f"q{k}" for k in range(last_read + 1)} <= set(questions), (n, last_read)
            assert max(questions.values()) == 1, (n, questions)  # and nothing twice
    finally:
        if child is not None:  # a failed assertion left it running
            os.kill(child, signal.SIGKILL)
        zygote.stdin.close()
        zygote.wait(BOUNDED)
        zygote.stdout.close()
    print(f"{len(kills)} SIGKILLs (seed {SEED}) after 'read k', k = {kills}")
    assert len(kills) == KILLS


# -- folds killed half-way ------------------------------------------------------------------


def _journal_of(cassette: Path, upstream: Upstream, flavour: Flavour, *texts: str) -> None:
    """Record ``texts`` and leave them in the journal, as a process killed before close()."""
    echo = flavour.EchoTransport(cassette, mode="new_episodes", transport=upstream.transport())
    client = flavour.http.Client(transport=echo)
    for text in texts:
        client.post(CHAT_URL, json=chat(text))


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after the point where it is raised runs."""


def test_a_fold_killed_after_the_replace_does_not_fold_the_journal_twice(
    flavour: Flavour, cassette_path: Path, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    _journal_of(cassette_path, upstream, flavour, "a", "b")
    real_unlink = Path.unlink

    def die_on_folded(self: Path, missing_ok: bool = False) -> None:
        if self.name.endswith(".folding"):
            raise _Killed
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", die_on_folded)
    with pytest.raises(_Killed):
        fold(cassette_path)
    monkeypatch.undo()
    assert _questions(cassette_path) == Counter(["a", "b"])  # replaced; journal not yet gone

    _journal_of(cassette_path, upstream, flavour, "c")  # a later run appends before folding
    fold(cassette_path)
    assert _questions(cassette_path) == Counter(["a", "b", "c"])
    assert list(cassette_path.parent.glob("*.folding")) == []
    assert not journal_path(cassette_path).exists()


def test_a_fold_killed_before_the_replace_is_redone_once(
    flavour: Flavour, cassette_path: Path, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    _journal_of(cassette_path, upstream, flavour, "a")
    fold(cassette_path)
    _journal_of(cassette_path, upstream, flavour, "b")

    def die(*args: object, **kwargs: object) -> None:
        raise _Killed

    monkeypatch.setattr(_store, "write_atomically", die)
    with pytest.raises(_Killed):
        fold(cassette_path)
    monkeypatch.undo()
    assert _questions_in_file(cassette_path) == Counter(["a"])
    assert _questions(cassette_path) == Counter(["a", "b"])  # load sees the moved journal

    echo = flavour.EchoTransport(cassette_path, mode="none")  # replays it, writing nothing
    with flavour.http.Client(transport=echo) as client:
        assert client.post(CHAT_URL, json=chat("b")).json()["choices"][0]["message"]["content"]
    assert _questions_in_file(cassette_path) == Counter(["a"])
    fold(cassette_path)
    assert _questions_in_file(cassette_path) == Counter(["a", "b"])


# -- a cassette edited by hand ---------------------------------------------------------------


def test_a_hand_edited_cassette_still_loads_and_replays(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport())
    with flavour.http.Client(transport=echo) as client:
        answers = {t: client.post(CHAT_URL, json=chat(t)).json() for t in ("a", "b", "c")}

    data = json.loads(cassette_path.read_text())
    del data["interactions"][1]  # "b" goes

    # Re-indented, every object's keys in reverse order (the "kind" tags last).
    def reverse(value: object) -> object:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    cassette_path.write_text(json.dumps(reverse(data), indent=7) + "\n")

    echo = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=echo) as client:
        assert client.post(CHAT_URL, json=chat("c")).json() == answers["c"]
        assert client.post(CHAT_URL, json=chat("a")).json() == answers["a"]
        with pytest.raises(CassetteMiss):
            client.post(CHAT_URL, json=chat("b"))
