"""The journal and the files under attack and bad luck: nothing lost in silence, no hang.

Damaged journal lines, a writer killed inside its append, a full disk (a 1 MiB tmpfs), a
cassette reached through a symlinked folder, symlinks planted at the journal and the lock,
a shared machine (a second OS user through ``setpriv``), a lock folder deleted mid-run,
loading and replaying a journal without writing (a read-only mount), the temporary files
of a killed fold, format versions below 1, and Windows device names.

Mounting a tmpfs and switching users need root (CI runs as root): elsewhere those tests
skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from promptecho import Cassette, CassetteError, EchoTransport
from promptecho._cassette import encode_interaction
from promptecho._cli import main
from promptecho._naming import default_cassette_path
from promptecho._store import damaged_path, fold, journal_path, lock_folder, locked
from promptecho.testing import FakeUpstream

from .conftest import chat

BOUNDED = 60.0  # seconds: a bounded wait for a child process, never a synchronisation
NOBODY = 65534


def _asked(path: Path) -> list[str]:
    return [
        i.request.body["messages"][0]["content"][0]["text"]  # type: ignore[index]
        for i in Cassette.load(path).interactions
    ]


def _in_file(path: Path) -> list[str]:
    return [
        i.request.body["messages"][0]["content"][0]["text"]  # type: ignore[index]
        for i in Cassette.from_bytes(path.read_bytes()).interactions
    ]


def _ask(client: httpx.Client, text: str) -> None:
    assert client.post("/v1/chat/completions", json=chat(text)).status_code == 200


def _record(cassette: Path, live: FakeUpstream, *texts: str, mode: str = "once") -> None:
    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette, mode=mode)) as client:
        for text in texts:
            _ask(client, text)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of this test's own, so its lock folder is the test's alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        timeout=BOUNDED,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root or CAP_SYS_ADMIN"
        )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted after the test."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "1m")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=BOUNDED)


# -- nothing is dropped in silence ----------------------------------------------------------


def test_a_damaged_line_in_the_middle_of_a_journal_is_kept_aside_and_every_later_line_folded(
    cassette_path: Path, live: FakeUpstream
) -> None:
    echo = EchoTransport(cassette_path)
    client = httpx.Client(base_url=live.url, transport=echo)
    for text in ("one", "two", "three"):
        _ask(client, text)
    journal = journal_path(cassette_path)
    lines = journal.read_bytes().split(b"\n")
    lines[1] = lines[1][: len(lines[1]) // 2]  # the middle line, damaged
    journal.write_bytes(b"\n".join(lines))
    with pytest.warns(RuntimeWarning) as warned:
        client.close()  # folds
    assert _in_file(cassette_path) == ["one", "three"]  # used to be ["one"]
    assert damaged_path(cassette_path).read_bytes() == lines[1] + b"\n"
    (message,) = [str(w.message) for w in warned]
    assert f"line 2 of {journal} could not be read" in message
    assert f"kept as line 1 of {damaged_path(cassette_path)}" in message
    assert not journal.exists()


_TORN_WRITER = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    from promptecho._store import journal_path, locked
    cassette = Path(sys.argv[1])
    with locked(cassette):
        fd = os.open(journal_path(cassette), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        # What the kernel leaves of a write that SIGKILL interrupts: part of the line.
        os.write(fd, b'{"request":{"method":"POST","url":"http://x/v1/chat/comp')
        print("torn", flush=True)
        threading.Event().wait()  # until killed, the lock held
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_a_writer_killed_inside_its_append_costs_a_live_writer_no_line(
    cassette_path: Path, live: FakeUpstream, tmp_path: Path
) -> None:
    cassette_path.parent.mkdir(parents=True)
    live_writer = httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path))
    script = tmp_path / "torn.py"
    script.write_text(_TORN_WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(cassette_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "torn"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=BOUNDED)
    child.stdout.close()

    _ask(live_writer, "alive 1")  # appended after the torn line, not glued to it
    _ask(live_writer, "alive 2")
    with pytest.warns(RuntimeWarning, match="line 1 of .* could not be read"):
        live_writer.close()  # folds
    assert _in_file(cassette_path) == ["alive 1", "alive 2"]  # used to be []
    assert damaged_path(cassette_path).read_bytes().startswith(b'{"request":{"method":"POST"')


def test_a_full_disk_fails_the_recording_call_and_leaves_the_cassette_whole(
    small_disk: Path, live: FakeUpstream
) -> None:
    cassette = small_disk / "test.json"
    _record(cassette, live, "kept")
    before = cassette.read_bytes()
    free = os.statvfs(small_disk)
    (small_disk / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize - 32 * 1024))

    echo = EchoTransport(cassette, mode="new_episodes")
    with httpx.Client(base_url=live.url, transport=echo) as client:
        _ask(client, "fits")  # a small line still fits
        with pytest.raises(CassetteError, match="could not append a recorded interaction") as err:
            _ask(client, "x" * 100_000)  # used to return as if recorded
        assert "No space left on device" in str(err.value)
        (small_disk / "filler").unlink()  # room again: the fold can write
    assert cassette.read_bytes() != before
    assert _in_file(cassette) == ["kept", "fits"]  # the failed one is absent, not torn
    assert not damaged_path(cassette).exists()


# -- locks -----------------------------------------------------------------------------------


def test_a_cassette_reached_through_a_symlinked_folder_takes_the_same_lock(
    tmp_path: Path, private_tmp: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with locked(real / "test.json"):
        with pytest.raises(CassetteError, match=r"timed out after 0\.2 s waiting for its lock"):
            with locked(tmp_path / "link" / "test.json", timeout=0.2):
                pass  # used to be a second, separate lock


def test_a_lock_wait_is_bounded_and_names_the_lock(tmp_path: Path, private_tmp: Path) -> None:
    cassette = tmp_path / "test.json"
    with locked(cassette), pytest.raises(CassetteError) as err:
        with locked(cassette, timeout=0.1):
            pass
    assert str(lock_folder()) in str(err.value)
    assert str(cassette) in str(err.value)


def test_the_lock_folder_is_private_and_recreated_when_deleted_mid_run(
    cassette_path: Path, live: FakeUpstream, private_tmp: Path
) -> None:
    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        _ask(client, "one")
        folder = Path(lock_folder())
        assert folder.stat().st_mode & 0o777 == 0o700
        shutil.rmtree(folder)
        _ask(client, "two")  # used to raise FileNotFoundError
    assert _in_file(cassette_path) == ["one", "two"]
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_symlink_planted_at_the_journal_is_refused_and_never_written_through(
    cassette_path: Path, live: FakeUpstream, tmp_path: Path
) -> None:
    cassette_path.parent.mkdir(parents=True)
    target = tmp_path / "chosen-by-the-attacker"
    journal_path(cassette_path).symlink_to(target)
    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        with pytest.raises(CassetteError, match="is a symbolic link"):
            _ask(client, "one")
    assert not target.exists()


def test_a_symlink_planted_at_the_lock_path_is_refused_and_never_written_through(
    cassette_path: Path, live: FakeUpstream, tmp_path: Path, private_tmp: Path
) -> None:
    # The lock's own folder, made shared as it used to be, with a link where the lock goes.
    cassette_path.parent.mkdir(parents=True)
    with locked(cassette_path):
        pass
    folder = Path(lock_folder())
    (lock,) = folder.iterdir()
    lock.unlink()
    target = tmp_path / "chosen-by-the-attacker"
    lock.symlink_to(target)
    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        with pytest.raises(CassetteError, match="cannot be opened as a lock"):
            _ask(client, "one")
    assert not target.exists()


# -- several OS users on one machine ---------------------------------------------------------


def _as_nobody() -> list[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("switching to a second OS user needs root and setpriv (util-linux)")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary directory every user may write to, as /tmp is (mode 1777)."""
    folder = Path(tempfile.mkdtemp(prefix="promptecho-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_RECORD = textwrap.dedent(
    """
    import sys, httpx, promptecho
    cassette, url, text = sys.argv[1:4]
    with httpx.Client(base_url=url, transport=promptecho.EchoTransport(cassette)) as client:
        client.post("/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": text}]})
    print("recorded", flush=True)
    """
)


def _record_in_child(
    prefix: list[str], tmp: Path, cassette: Path, url: str, text: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(
        [*prefix, sys.executable, "-c", _RECORD, str(cassette), url, text],
        capture_output=True,
        text=True,
        env=env,
        timeout=BOUNDED,
    )


def test_a_second_user_records_on_a_machine_where_another_user_recorded_first(
    shared_tmp: Path, live: FakeUpstream
) -> None:
    nobody = _as_nobody()
    mine = shared_tmp / "root-cassettes" / "test.json"
    first = _record_in_child([], shared_tmp, mine, live.url, "root")
    assert first.returncode == 0, first.stderr
    theirs = shared_tmp / "theirs"
    theirs.mkdir(mode=0o777)
    theirs.chmod(0o777)
    second = _record_in_child(nobody, shared_tmp, theirs / "test.json", live.url, "nobody")
    assert second.returncode == 0, second.stderr  # used to be a PermissionError
    assert _asked(theirs / "test.json") == ["nobody"]
    assert {p.name for p in shared_tmp.glob("promptecho-locks-*")} == {
        f"promptecho-locks-{NOBODY}",
        f"promptecho-locks-{os.geteuid()}",
    }


_HOLD = textwrap.dedent(
    """
    import fcntl, hashlib, os, sys, threading
    folder, cassette = sys.argv[1:3]
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o777)
    # The lock a victim's cassette maps to, as every user's shared folder used to name it.
    name = hashlib.sha256(os.path.abspath(cassette).encode()).hexdigest()[:32] + ".lock"
    fd = os.open(os.path.join(folder, name), os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("held", flush=True)
    threading.Event().wait()
    """
)


def test_another_user_holding_a_predictable_lock_cannot_hang_a_recording(
    shared_tmp: Path, live: FakeUpstream, tmp_path: Path
) -> None:
    nobody = _as_nobody()
    cassette = tmp_path / "victim" / "test.json"
    attacker = subprocess.Popen(
        [*nobody, sys.executable, "-c", _HOLD, str(shared_tmp / "promptecho-locks"), str(cassette)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert attacker.stdout is not None
        assert attacker.stdout.readline().strip() == "held"
        victim = _record_in_child([], shared_tmp, cassette, live.url, "mine")  # used to hang
        assert victim.returncode == 0, victim.stderr
        assert _asked(cassette) == ["mine"]
    finally:
        attacker.kill()
        attacker.wait(timeout=BOUNDED)
        if attacker.stdout is not None:
            attacker.stdout.close()


def test_a_lock_folder_planted_by_another_user_is_refused_naming_it(
    shared_tmp: Path, live: FakeUpstream, tmp_path: Path
) -> None:
    nobody = _as_nobody()
    planted = shared_tmp / f"promptecho-locks-{os.geteuid()}"
    done = subprocess.run(
        [*nobody, sys.executable, "-c", f"import os; os.mkdir({str(planted)!r}, 0o777)"],
        capture_output=True,
        text=True,
        timeout=BOUNDED,
    )
    assert done.returncode == 0, done.stderr
    victim = _record_in_child([], shared_tmp, tmp_path / "test.json", live.url, "mine")
    assert victim.returncode != 0
    assert (
        f"CassetteError: {planted}: is promptecho's lock folder but is owned by uid {NOBODY}"
        in (victim.stderr)
    )
    assert not (tmp_path / "test.json").exists()


# -- what is on disk is what you see ---------------------------------------------------------


def _journal_only(cassette: Path, live: FakeUpstream, *texts: str) -> None:
    """A cassette whose recordings are still in its journal (a run killed before close)."""
    _record(cassette, live, *texts)
    data = Cassette.load(cassette).interactions
    cassette.unlink()
    journal_path(cassette).write_bytes(b"".join(encode_interaction(i) + b"\n" for i in data))


def test_load_and_the_commands_read_the_journal_without_writing(
    cassette_path: Path, live: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    _journal_only(cassette_path, live, "one", "two")
    before = sorted(cassette_path.parent.iterdir())
    journal = journal_path(cassette_path).read_bytes()
    assert _asked(cassette_path) == ["one", "two"]  # used to raise "cannot be read"
    assert main(["check", str(cassette_path)]) == 0
    assert main(["show", str(cassette_path)]) == 0
    out = capsys.readouterr().out
    assert ": 2 interactions" in out
    assert "#1 POST" in out
    assert sorted(cassette_path.parent.iterdir()) == before
    assert journal_path(cassette_path).read_bytes() == journal


def test_mode_none_replays_a_leftover_journal_from_a_read_only_checkout(
    small_disk: Path, live: FakeUpstream
) -> None:
    cassette = small_disk / "test.json"
    _record(cassette, live, "folded")
    folded = Cassette.load(cassette)
    _record(cassette, live, "in the journal", mode="all")
    journal = encode_interaction(Cassette.load(cassette).interactions[0]) + b"\n"
    folded.save(cassette)
    journal_path(cassette).write_bytes(journal)
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    assert subprocess.run(remount, capture_output=True, timeout=BOUNDED).returncode == 0
    live.stop()
    with httpx.Client(transport=EchoTransport(cassette, mode="none")) as client:  # used to fail
        for text in ("folded", "in the journal"):
            answer = client.post("http://x/v1/chat/completions", json=chat(text))
            assert text in answer.json()["choices"][0]["message"]["content"]
    assert journal_path(cassette).read_bytes() == journal


# -- leftovers and versions ------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=BOUNDED,
    )
    return int(child.stdout)


def test_a_fold_removes_the_temporary_files_of_killed_folds_and_nothing_else(
    cassette_path: Path, live: FakeUpstream
) -> None:
    folder = cassette_path.parent
    folder.mkdir(parents=True)
    killed = folder / f".test.json.{_dead_pid()}.0123456789ab.fold.tmp"
    running = folder / f".test.json.{os.getppid()}.0123456789ab.fold.tmp"  # a live process
    saved = folder / f".test.json.{_dead_pid()}.0123456789ab.tmp"  # Cassette.save's, not a fold's
    other = folder / ".other.json.1.0123456789ab.fold.tmp"
    for file in (killed, running, saved, other):
        file.write_bytes(b"{")
    with httpx.Client(base_url=live.url, transport=EchoTransport(cassette_path)) as client:
        _ask(client, "one")
    assert not killed.exists()  # used to stay forever
    assert running.exists()
    assert saved.exists()
    assert other.exists()


@pytest.mark.parametrize("version", [0, -1])
def test_format_versions_below_1_are_refused(tmp_path: Path, version: int) -> None:
    cassette = tmp_path / "test.json"
    cassette.write_text(f'{{"version": {version}, "interactions": []}}')
    with pytest.raises(CassetteError, match=f"has format version {version}, which no promptecho"):
        Cassette.load(cassette)


@pytest.mark.parametrize("name", ["nul", "CON", "com1", "lpt1", "aux", "prn", "nul.txt"])
def test_windows_device_names_get_a_suffix(name: str) -> None:
    devices = {"con", "prn", "aux", "nul", "com1", "lpt1"}
    path = default_cassette_path("tests/test_chat.py", name)
    assert path.stem.partition(".")[0].lower() not in devices
    assert path.stem.lower().startswith(name.partition(".")[0].lower())
    folder = default_cassette_path(f"tests/{name.partition('.')[0]}.py", "test_x").parent
    assert folder.name.partition(".")[0].lower() not in devices
    assert default_cassette_path("tests/test_chat.py", "console").stem == "console"


def test_closing_with_nothing_recorded_writes_nothing(cassette_path: Path) -> None:
    with contextlib.closing(EchoTransport(cassette_path, mode="none")):
        pass
    assert not cassette_path.parent.exists()
    assert fold(cassette_path) is None


def test_a_cassette_whose_folder_cannot_be_made_says_what_to_do(tmp_path: Path) -> None:
    import promptecho

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(promptecho.CassetteError, match="a part of its folder path is a file"):
        promptecho.EchoTransport(blocker / "sub" / "c.json")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_a_folder_that_cannot_be_created_names_the_folder() -> None:
    # Under /tmp itself: pytest's own tmp folders are private to root, the user could not
    # even look into them.
    base = Path(tempfile.mkdtemp(prefix="promptecho-ro-"))
    os.chmod(base, 0o755)
    locked_dir = base / "locked"
    locked_dir.mkdir()
    os.chmod(locked_dir, 0o555)  # readable by all, writable by nobody but root
    code = (
        "import sys, httpx, promptecho\n"
        "from promptecho.testing import FakeUpstream, openai_chat_handler\n"
        "with FakeUpstream(openai_chat_handler) as up:\n"
        "    try:\n"
        "        with promptecho.client(sys.argv[1]) as c:\n"
        "            c.post(up.url + '/v1/chat/completions', json={'model': 'm', 'messages': []})\n"
        "    except promptecho.CassetteError as err:\n"
        "        print(err)\n"
    )
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            code,
            str(locked_dir / "new" / "c.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        f"its folder {locked_dir / 'new'} cannot be created (Permission denied)" in done.stdout
    ), done.stdout + done.stderr
