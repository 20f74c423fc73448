"""Many callers, one transport; many processes, one cassette.

Every test goes through a real socket (FakeUpstream) whose handler answers each request
after a delay drawn from a generator seeded by the request itself, so answers come back in
another order than the requests went out. Callers start together on a barrier or an event;
nothing waits on a sleep to be in the right state.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptecho import Cassette, testing
from promptecho.testing import FakeUpstream, Reply, Seen, json_reply, sse_reply

from .conftest import Flavour, chat

THREADS = 32
REQUESTS_PER_THREAD = 5
TASKS = 100
REQUESTS_PER_TASK = 2
PROCESSES = 4
REQUESTS_PER_PROCESS = 10
PATH = "/v1/chat/completions"
BOUNDED = 30.0  # seconds: a bounded wait, never a synchronisation


def _question(seen: Seen) -> str:
    return str(seen.json()["messages"][-1]["content"])


def _shuffling_handler(seen: Seen) -> Reply:
    """Echo the question after 0-15 ms chosen by a generator seeded with the question."""
    question = _question(seen)
    delay = random.Random(hashlib.sha256(question.encode()).digest()).uniform(0, 0.015)
    if seen.json().get("stream"):
        events = [
            b'data: {"choices":[{"delta":{"content":%s}}]}\n\n' % json.dumps(part).encode()
            for part in ("echo: ", question)
        ]
        return sse_reply([*events, b"data: [DONE]\n\n"], delay=delay)
    time.sleep(delay)  # reorders the answers; no caller waits on it
    return json_reply({"choices": [{"message": {"content": f"echo: {question}"}}]})


def test_the_fake_upstream_backlog_holds_every_concurrent_caller() -> None:
    # With socketserver's default backlog of 5 the kernel resets bursts of connections.
    assert testing._Server.request_queue_size >= 2 * TASKS


@pytest.fixture
def shuffling() -> Iterator[FakeUpstream]:
    with FakeUpstream(_shuffling_handler) as server:
        yield server


def _ask(client: Any, question: str) -> str:
    """One request; every third one is streamed, so tees run concurrently too."""
    if int(hashlib.sha256(question.encode()).hexdigest(), 16) % 3 == 0:
        with client.stream("POST", PATH, json=chat(question, stream=True)) as response:
            parts = []
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    parts.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
            return "".join(parts)
    return str(client.post(PATH, json=chat(question)).json()["choices"][0]["message"]["content"])


async def _aask(client: Any, question: str) -> str:
    if int(hashlib.sha256(question.encode()).hexdigest(), 16) % 3 == 0:
        async with client.stream("POST", PATH, json=chat(question, stream=True)) as response:
            parts = []
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    parts.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
            return "".join(parts)
    response = await client.post(PATH, json=chat(question))
    return str(response.json()["choices"][0]["message"]["content"])


def _recorded_questions(path: Path) -> Counter[str]:
    return Counter(
        i.request.body["messages"][0]["content"][0]["text"]
        for i in Cassette.load(path).interactions
    )


# -- threads -----------------------------------------------------------------------------------


def _run_threads(client: Any) -> dict[str, str]:
    barrier = threading.Barrier(THREADS, timeout=BOUNDED)
    answers: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for k in range(REQUESTS_PER_THREAD):
                question = f"thread {n} question {k}"
                answer = _ask(client, question)
                with lock:
                    answers[question] = answer
        except BaseException as err:  # reported below, on the test's thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUNDED)
    assert not errors, errors
    return answers


def test_32_threads_x_5_requests_share_one_transport_in_record_and_replay(
    flavour: Flavour, cassette_path: Path, shuffling: FakeUpstream
) -> None:
    limits = flavour.http.Limits(max_connections=THREADS)
    with flavour.client(cassette_path, base_url=shuffling.url, limits=limits) as client:
        recorded = _run_threads(client)
    total = THREADS * REQUESTS_PER_THREAD
    print(f"recorded {total} requests from {THREADS} threads")
    assert len(recorded) == total == len(shuffling.seen)
    assert all(answer == f"echo: {question}" for question, answer in recorded.items())
    assert _recorded_questions(cassette_path) == Counter(recorded.keys())  # each exactly once

    shuffling.stop()
    echo = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=echo, base_url=shuffling.url) as client:
        replayed = _run_threads(client)
    assert replayed == recorded
    assert echo.recorder.unplayed() == []


def test_32_threads_sending_one_identical_request_each_replay_a_distinct_recording(
    flavour: Flavour, cassette_path: Path
) -> None:
    count = iter(range(10**6))
    lock = threading.Lock()
    gate = threading.Barrier(THREADS, timeout=BOUNDED)

    def numbered(seen: Seen) -> Reply:
        with lock:
            n = next(count)
        gate.wait()  # every request is in flight before any is answered
        return json_reply({"n": n})

    def run(client: Any) -> list[int]:
        start = threading.Barrier(THREADS, timeout=BOUNDED)
        got: list[int] = []

        def worker() -> None:
            start.wait()
            got.append(client.post(PATH, json=chat("same")).json()["n"])

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUNDED)
        return got

    limits = flavour.http.Limits(max_connections=THREADS)
    with FakeUpstream(numbered) as server:
        with flavour.client(cassette_path, base_url=server.url, limits=limits) as client:
            live = run(client)
    assert sorted(live) == list(range(THREADS))
    with flavour.client(cassette_path, base_url=server.url, mode="none") as client:
        replayed = run(client)
    assert sorted(replayed) == list(range(THREADS))  # each recording played exactly once


# -- tasks -------------------------------------------------------------------------------------


async def _run_tasks(client: Any) -> dict[str, str]:
    go = asyncio.Event()

    async def task(n: int) -> list[tuple[str, str]]:
        await go.wait()
        out = []
        for k in range(REQUESTS_PER_TASK):
            question = f"task {n} question {k}"
            out.append((question, await _aask(client, question)))
        return out

    running = [asyncio.create_task(task(n)) for n in range(TASKS)]
    go.set()
    results = await asyncio.wait_for(asyncio.gather(*running), BOUNDED)
    return dict(pair for pairs in results for pair in pairs)


async def test_100_tasks_share_one_async_transport_in_record_and_replay(
    flavour: Flavour, cassette_path: Path, shuffling: FakeUpstream
) -> None:
    limits = flavour.http.Limits(max_connections=TASKS)
    async with flavour.async_client(cassette_path, base_url=shuffling.url, limits=limits) as client:
        recorded = await _run_tasks(client)
    total = TASKS * REQUESTS_PER_TASK
    print(f"recorded {total} requests from {TASKS} tasks")
    assert len(recorded) == total == len(shuffling.seen)
    assert all(answer == f"echo: {question}" for question, answer in recorded.items())
    assert _recorded_questions(cassette_path) == Counter(recorded.keys())

    shuffling.stop()
    echo = flavour.AsyncEchoTransport(cassette_path, mode="none")
    async with flavour.http.AsyncClient(transport=echo, base_url=shuffling.url) as client:
        replayed = await _run_tasks(client)
    assert replayed == recorded
    assert echo.recorder.unplayed() == []


# -- processes ---------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, httpx, promptecho
    cassette, url, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = httpx.Client(base_url=url, transport=promptecho.EchoTransport(cassette))
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's "go": every process starts together
    for k in range(count):
        body = {"model": "m", "messages": [{"role": "user", "content": f"{name} q{k}"}]}
        assert client.post("/v1/chat/completions", json=body).status_code == 200
        if k == count // 2:
            client.close()  # fold half-way, while the others append
            client = httpx.Client(
                base_url=url,
                transport=promptecho.EchoTransport(cassette, mode="new_episodes"),
            )
    client.close()
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("processes", [2, PROCESSES])
def test_processes_recording_into_one_cassette_lose_nothing(
    processes: int, cassette_path: Path, shuffling: FakeUpstream, tmp_path: Path
) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    names = [f"p{n}" for n in range(processes)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(cassette_path),
                shuffling.url,
                name,
                str(REQUESTS_PER_PROCESS),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=BOUNDED)
            assert child.returncode == 0
            assert out.strip() == "done"
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    expected = Counter(f"{name} q{k}" for name in names for k in range(REQUESTS_PER_PROCESS))
    print(f"{processes} processes x {REQUESTS_PER_PROCESS} requests into one cassette")
    assert _recorded_questions(cassette_path) == expected
