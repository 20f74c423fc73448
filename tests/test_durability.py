"""A recording process killed with SIGKILL leaves a valid cassette holding every interaction it had read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptecho import Cassette, EchoTransport
from promptecho._store import journal_path
from promptecho._upstream import FakeUpstream

from .conftest import chat

_RECORDER = textwrap.dedent(
    """
    import sys, httpx, promptecho
    cassette, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = httpx.Client(base_url=url, transport=promptecho.EchoTransport(cassette))
    for n in range(count):
        client.post("/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]}).json()
        print(f"read {n}", flush=True)
    print("waiting", flush=True)
    sys.stdin.read()  # never returns: the parent kills us before close()
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_after_responses_were_read_keeps_every_interaction(
    cassette_path: Path, live: FakeUpstream, tmp_path: Path
) -> None:
    script = tmp_path / "record.py"
    script.write_text(_RECORDER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(cassette_path), live.url, "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines = [child.stdout.readline().strip() for _ in range(6)]
    assert lines == [f"read {n}" for n in range(5)] + ["waiting"]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    child.stdin.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL

    assert journal_path(cassette_path).exists()  # the process died before close()
    live.stop()
    echo = EchoTransport(cassette_path, mode="none")  # loading folds the journal in
    assert not journal_path(cassette_path).exists()
    interactions = Cassette.load(cassette_path).interactions
    assert [i.request.body["messages"][0]["content"][0]["text"] for i in interactions] == [
        f"q{n}" for n in range(5)
    ]
    import httpx

    with httpx.Client(transport=echo) as client:
        for n in range(5):
            answer = client.post("http://x/v1/chat/completions", json=chat(f"q{n}", model="m"))
            assert answer.status_code == 200


def test_a_torn_last_journal_line_is_ignored_and_the_rest_kept(
    cassette_path: Path, live: FakeUpstream
) -> None:
    import httpx

    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        client.post("/v1/chat/completions", json=chat("one"))
    # Simulate a process that died mid-write of its second line.
    journal = journal_path(cassette_path)
    journal.write_bytes(b'{"request": {"method": "POST", "url": "http://x/v1/chat/compl')
    echo = EchoTransport(cassette_path, mode="none")
    assert len(Cassette.load(cassette_path).interactions) == 1
    assert not journal.exists()
    echo.close()


def test_a_journal_holding_only_a_torn_line_and_no_cassette_counts_as_absent(
    cassette_path: Path,
) -> None:
    cassette_path.parent.mkdir(parents=True)
    journal_path(cassette_path).write_bytes(b'{"request": {"method": "PO')
    echo = EchoTransport(cassette_path)  # used to fail: "cannot be read"
    assert not echo.recorder.existed
    assert not journal_path(cassette_path).exists()
    assert not cassette_path.exists()
    echo.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs Linux /proc")
def test_reading_a_file_whose_size_is_not_what_stat_says_reads_it_whole() -> None:
    # /proc files stat as 0 bytes and still have content: the path a short read or a file
    # that grew since the fstat takes.
    from promptecho._cassette import read_if_exists

    with open("/proc/self/cmdline", "rb") as f:
        expected = f.read()
    assert os.stat("/proc/self/cmdline").st_size == 0
    assert expected
    assert read_if_exists("/proc/self/cmdline") == expected
    assert read_if_exists("/proc/self/no-such-file") is None
