"""A recording process killed with SIGKILL leaves a valid cassette holding every interaction it had read.

A fold writes what it read from the journal: lines from another process are checked first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho import Cassette, EchoTransport
from promptecho._cassette import (
    FORMAT_VERSION,
    Binary,
    Empty,
    Failure,
    Interaction,
    Json,
    RecordedRequest,
    RecordedResponse,
    Text,
    cassette_bytes,
    encode_interaction,
)
from promptecho._store import damaged_path, journal_path
from promptecho.testing import FakeUpstream

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
    # Load (and so `check` and `show`) sees what the journal holds, without writing.
    interactions = Cassette.load(cassette_path).interactions
    assert [i.request.body["messages"][0]["content"][0]["text"] for i in interactions] == [
        f"q{n}" for n in range(5)
    ]
    assert not cassette_path.exists()
    import httpx

    # Mode "none" replays from the journal, writing nothing; a recording mode folds it in.
    for mode, folded in (("none", False), ("once", True)):
        with httpx.Client(transport=EchoTransport(cassette_path, mode=mode)) as client:
            assert journal_path(cassette_path).exists() is not folded
            for n in range(5):
                answer = client.post("http://x/v1/chat/completions", json=chat(f"q{n}", model="m"))
                assert answer.status_code == 200
    assert len(Cassette.load(cassette_path).interactions) == 5


TORN = b'{"request": {"method": "POST", "url": "http://x/v1/chat/compl'


def test_a_torn_last_journal_line_is_kept_aside_with_a_warning_and_the_rest_folded(
    cassette_path: Path, live: FakeUpstream
) -> None:
    import httpx

    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        client.post("/v1/chat/completions", json=chat("one"))
    # Simulate a process that died mid-write of its second line.
    journal = journal_path(cassette_path)
    journal.write_bytes(TORN)
    echo = EchoTransport(cassette_path, mode="none")  # replays, writes nothing
    assert journal.read_bytes() == TORN
    echo.close()
    with pytest.warns(RuntimeWarning, match=r"line 1 of .*test\.json\.journal could not be read"):
        echo = EchoTransport(cassette_path, mode="new_episodes")  # a recording mode folds
    assert len(Cassette.load(cassette_path).interactions) == 1
    assert not journal.exists()
    assert damaged_path(cassette_path).read_bytes() == TORN + b"\n"
    echo.close()


def test_a_journal_holding_only_a_torn_line_and_no_cassette_counts_as_absent(
    cassette_path: Path,
) -> None:
    cassette_path.parent.mkdir(parents=True)
    journal_path(cassette_path).write_bytes(b'{"request": {"method": "PO')
    with pytest.warns(RuntimeWarning, match="kept as line 1 of"):
        echo = EchoTransport(cassette_path)  # used to fail: "cannot be read"
    assert not echo.recorder.existed
    assert not journal_path(cassette_path).exists()
    assert not cassette_path.exists()
    assert damaged_path(cassette_path).read_bytes() == b'{"request": {"method": "PO\n'
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


def test_a_fold_checks_the_lines_another_process_appended_and_sets_a_torn_one_aside(
    cassette_path: Path, live: FakeUpstream
) -> None:
    # A transport trusts the lines it appended itself; a line from anyone else is decoded
    # before it is kept, and a torn one ends the journal as at load.
    import httpx

    ours = EchoTransport(cassette_path, mode="new_episodes")
    theirs = EchoTransport(cassette_path, mode="new_episodes")
    with httpx.Client(base_url=live.url, transport=ours) as a, httpx.Client(
        base_url=live.url, transport=theirs
    ) as b:
        a.post("/v1/chat/completions", json=chat("ours 1"))
        b.post("/v1/chat/completions", json=chat("theirs"))
        a.post("/v1/chat/completions", json=chat("ours 2"))
        with journal_path(cassette_path).open("ab") as journal:
            journal.write(TORN)
        with pytest.warns(RuntimeWarning, match="line 4 of"):
            ours.close()  # folds the journal: its own two lines, the other's; the torn one aside
        assert damaged_path(cassette_path).read_bytes() == TORN + b"\n"
        written = Cassette.load(cassette_path).interactions
        asked = [i.request.body["messages"][0]["content"][0]["text"] for i in written]  # type: ignore[index]
        assert asked == ["ours 1", "theirs", "ours 2"]
        assert not journal_path(cassette_path).exists()


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
interactions = st.builds(
    Interaction,
    request=st.builds(
        RecordedRequest,
        method=st.sampled_from(["GET", "POST"]),
        url=st.text(max_size=20),
        api=st.text(max_size=10),
        stream=st.booleans(),
        headers=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
        body=json_values,
    ),
    response=st.none()
    | st.builds(
        RecordedResponse,
        status=st.integers(min_value=100, max_value=599),
        body=st.one_of(
            st.builds(Json, value=json_values),
            st.builds(Text, text=st.text(max_size=20)),
            st.builds(Binary, data=st.binary(max_size=20)),
            st.just(Empty()),
        ),
    ),
    error=st.none() | st.builds(Failure, type=st.text(max_size=5), message=st.text(max_size=10)),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(interactions, max_size=4))
def test_a_fold_splices_journal_lines_into_the_same_bytes_as_encoding_the_cassette_300_examples(
    found: list[Interaction],
) -> None:
    lines = [encode_interaction(i) for i in found]  # as the recorder writes journal lines
    assert cassette_bytes(lines) == Cassette(version=FORMAT_VERSION, interactions=found).to_bytes()
