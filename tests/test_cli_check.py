"""``promptecho check``: one line per finding, with the file and the JSON path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from promptecho._cli import check_files, main, parse_age
from promptecho._playlog import PLAYLOG, Plays, read_playlog, write_playlog
from tests.cli_data import interaction, write

# Shaped like an OpenAI key, random enough for the scanner; not a real key.
PLANTED = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ"


def planted_key(tmp_path: Path) -> Path:
    leaky = interaction("openai-chat", "text")
    leaky.request.headers["x-debug-key"] = PLANTED
    return write(tmp_path / "cassettes" / "leaky.json", leaky)


def unparsed_body(tmp_path: Path) -> Path:
    odd = interaction("anthropic", "text")
    odd.request.unparsed = "messages[0].content: expected a string or a list of blocks"
    return write(tmp_path / "cassettes" / "odd.json", odd)


def test_check_finds_a_planted_key_with_its_json_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = planted_key(tmp_path)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{path}: $.interactions[0].request.headers.x-debug-key: secret: looks like an openai key"
        in out
    )
    assert "1 cassette checked, 1 finding" in out


def test_check_finds_a_body_the_dialect_could_not_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = unparsed_body(tmp_path)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{path}: $.interactions[0].request.body: unparsed: the anthropic dialect could not "
        "parse the body: messages[0].content: expected a string or a list of blocks"
    ) in out


def test_check_finds_unused_cassettes_and_unplayed_interactions_from_the_play_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    used = write(
        tmp_path / "tests" / "cassettes" / "used.json",
        interaction("openai-chat", "text"),
        interaction("anthropic", "text"),
        interaction("gemini", "generate"),
    )
    orphan = write(tmp_path / "tests" / "cassettes" / "orphan.json", interaction("groq", "chat"))
    write_playlog(tmp_path, {"tests/cassettes/used.json": (3, [0, 2])})
    monkeypatch.chdir(tmp_path / "tests")  # the log is found upward from the current folder
    assert main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    rel_used, rel_orphan = (
        used.relative_to(tmp_path / "tests"),
        orphan.relative_to(tmp_path / "tests"),
    )
    assert out == [
        f"{rel_orphan}: $: unused: no test used this cassette in the last full run",
        f"{rel_used}: $.interactions[1]: unplayed: the last full run never replayed it",
        "2 cassettes checked, 2 findings",
    ]


def test_check_json_lists_every_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    planted_key(tmp_path)
    unparsed_body(tmp_path)
    write(tmp_path / "cassettes" / "clean.json", interaction("openai-chat", "text"))
    (tmp_path / "cassettes" / "package.json").write_text('{"name": "not a cassette"}')
    assert main(["check", str(tmp_path), "--json", "--playlog-root", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 3
    assert sorted((Path(f["file"]).name, f["code"], f["path"]) for f in report["findings"]) == [
        ("leaky.json", "secret", "$.interactions[0].request.headers.x-debug-key"),
        ("odd.json", "unparsed", "$.interactions[0].request.body"),
    ]


def test_check_passes_a_clean_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "a.json", interaction("openai-chat", "text"))
    assert main(["check", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1 cassette checked, 0 findings\n"


def test_check_reports_an_invalid_cassette(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "interactions": [{"request": {"method": "GET"}}]}')
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{bad}: $: invalid: ")
    assert "$.interactions[0].request" in out


def test_check_reports_large_cassettes_and_interactions(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", interaction("openai-chat", "text"))
    size = path.stat().st_size
    findings = check_files([path], max_size=size - 1)
    assert [(f.code, f.path) for f in findings] == [("large", "$")]
    assert findings[0].message == f"the cassette is {size} bytes (limit {size - 1})"
    huge = interaction("openai-chat", "text", response=json.dumps({"x": "y" * 1_100_000}).encode())
    path = write(tmp_path / "b.json", huge)
    assert [(f.code, f.path) for f in check_files([path])] == [("large", "$.interactions[0]")]


def test_check_max_age_judges_the_oldest_interaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "a.json", interaction("openai-chat", "text"))  # 2026-11-24T10:15:02Z
    recorded = datetime(2026, 11, 24, 10, 15, 2, tzinfo=UTC)
    assert check_files([path], max_age=timedelta(days=30), now=recorded + timedelta(days=29)) == []
    findings = check_files([path], max_age=timedelta(days=30), now=recorded + timedelta(days=31))
    assert [(f.code, f.message) for f in findings] == [
        ("expired", "the oldest recording was made 2026-11-24T10:15:02Z, more than 30d ago")
    ]
    assert main(["check", str(path), "--max-age", "1h"]) == 1  # the real clock: long expired
    assert "expired" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12h", timedelta(hours=12)), ("30d", timedelta(days=30)), ("4w", timedelta(weeks=4))],
    ids=["hours", "days", "weeks"],
)
def test_ages_parse(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


def test_a_bad_max_age_exits_2_with_the_accepted_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path), "--max-age", "30 days"]) == 2
    err = capsys.readouterr().err
    assert "'30 days' is not a valid age" in err
    assert "'12h', '30d', '4w'" in err


def test_playlog_merges_only_this_runs_cassettes(tmp_path: Path) -> None:
    assert read_playlog(tmp_path) is None
    write_playlog(tmp_path, {"a.json": (2, [0, 1]), "b.json": (3, [2, 0, 0])})
    write_playlog(tmp_path, {"b.json": (3, [1])})
    assert read_playlog(tmp_path) == {
        "a.json": Plays(interactions=2, played=[0, 1]),
        "b.json": Plays(interactions=3, played=[1]),
    }
    assert (tmp_path / PLAYLOG).read_text().startswith("{\n")


def test_the_pre_commit_hook_runs_check_on_cassette_files() -> None:
    import re
    import shlex

    import yaml

    hooks = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())
    [hook] = hooks
    assert hook["id"] == "promptecho-check"
    assert shlex.split(hook["entry"]) == ["promptecho", "check"]
    pattern = re.compile(hook["files"])
    assert pattern.search("tests/cassettes/test_chat/test_hello.json")
    assert pattern.search("cassettes/a.json")
    assert not pattern.search("package.json")
    assert not pattern.search("tests/data/wire/openai-chat/text.response.json")


def test_the_console_entry_point_and_python_m_run_main(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = unparsed_body(tmp_path)
    for command in (
        [sys.executable, "-m", "promptecho"],
        [str(Path(sys.executable).parent / "promptecho")],
    ):
        done = subprocess.run(
            [*command, "check", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 1
        assert f"{path}: $.interactions[0].request.body: unparsed:" in done.stdout
