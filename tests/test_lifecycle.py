"""Cassette lifecycle: mode rewrite, when and by what a recording was made, expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import promptecho
from promptecho import Cassette, CassetteExpired, CassetteExpiredWarning
from promptecho._store import journal_path
from promptecho.testing import FakeUpstream, openai_chat_handler

from .conftest import CONFTEST, INI, chat

URL = "http://127.0.0.1:9/v1/chat/completions"


def record(path: Path, *texts: str, mode: str = "once") -> None:
    with FakeUpstream(openai_chat_handler) as upstream, promptecho.client(path, mode=mode) as c:
        for text in texts:
            assert c.post(upstream.url + "/v1/chat/completions", json=chat(text)).status_code == 200


def texts(path: Path) -> list[str]:
    return [
        i.request.body["messages"][0]["content"][0]["text"]
        for i in Cassette.load(path).interactions
    ]


def age(path: Path, days: float, *, which: int | None = None) -> None:
    """Make the recordings (or one of them) ``days`` old, as a clock would have."""
    data = json.loads(path.read_text())
    stamp = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n, interaction in enumerate(data["interactions"]):
        if which is None or n == which:
            interaction["recorded_at"] = stamp
    path.write_text(json.dumps(data))


def test_rewrite_deletes_the_cassette_and_its_journal_then_records_everything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.json"
    record(path, "old one", "old two")
    journal_path(path).write_bytes(b"{not a line anyone should fold}\n")
    record(path, "new", mode="rewrite")
    assert texts(path) == ["new"]
    assert not journal_path(path).exists()


def test_rewrite_with_nothing_recorded_leaves_no_cassette(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, "old")
    promptecho.EchoTransport(path, mode="rewrite").close()
    assert not path.exists()


def test_every_recording_says_when_and_by_which_version_and_old_ones_still_load(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.json"
    record(path, "hi")
    [interaction] = Cassette.load(path).interactions
    when = datetime.strptime(interaction.recorded_at or "", "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)
    assert interaction.recorded_by == promptecho.__version__
    data = json.loads(path.read_text())
    for item in data["interactions"]:
        del item["recorded_at"], item["recorded_by"]
    path.write_text(json.dumps(data))
    with promptecho.client(path, mode="none", max_age="1h", on_expiry="fail") as client:
        assert client.post(URL, json=chat("hi")).status_code == 200  # age unknown: not expired


def test_an_expired_cassette_warns_and_still_replays(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, "hi", "there")
    age(path, 40, which=1)  # judged on the oldest recording
    with pytest.warns(CassetteExpiredWarning, match=r"oldest recording is from .*, 40\.0 days ago"):
        echo = promptecho.EchoTransport(path, mode="none", max_age="30d")
    with httpx.Client(transport=echo) as client:
        assert client.post(URL, json=chat("hi")).status_code == 200


def test_a_fresh_cassette_does_not_expire(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, "hi")
    age(path, 27)
    promptecho.EchoTransport(path, mode="none", max_age="4w", on_expiry="fail").close()


def test_an_expired_cassette_fails_when_told_to(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, "hi")
    age(path, 3)
    with pytest.raises(CassetteExpired, match=r"older than max_age 2\.0 days") as err:
        promptecho.EchoTransport(path, max_age=timedelta(hours=48), on_expiry="fail")
    assert err.value.max_age == timedelta(hours=48)
    assert isinstance(err.value, promptecho.CassetteError)


def test_an_expired_cassette_is_rerecorded_when_told_to(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    record(path, "old")
    age(path, 10)
    record_with: dict[str, Any] = {"max_age": "12h", "on_expiry": "rerecord"}
    with FakeUpstream(openai_chat_handler) as upstream, promptecho.client(path, **record_with) as c:
        c.post(upstream.url + "/v1/chat/completions", json=chat("new"))
    assert texts(path) == ["new"]


@pytest.mark.parametrize("bad", ["30 days", "3y", "-1d", "0h", "", 30])
def test_a_bad_duration_shows_the_accepted_forms(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match=r"max_age"):
        promptecho.EchoTransport(tmp_path / "c.json", max_age=bad)


def test_a_bad_on_expiry_lists_the_valid_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'warn', 'fail', 'rerecord'"):
        promptecho.EchoTransport(tmp_path / "c.json", on_expiry="delete")  # type: ignore[arg-type]


# -- pytest -------------------------------------------------------------------------------

AGED = """
import json, pathlib
from datetime import UTC, datetime, timedelta

def test_ask(promptecho_client, ask):
    ask(promptecho_client, "hi")

def test_make_it_old():
    path = pathlib.Path("cassettes/test_chat/test_ask.json")
    data = json.loads(path.read_text())
    stamp = (datetime.now(UTC) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for item in data["interactions"]:
        item["recorded_at"] = stamp
    path.write_text(json.dumps(data))
"""


@pytest.fixture
def aged(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI + "promptecho_max_age = 30d\npromptecho_on_expiry = rerecord\n")
    pytester.makepyfile(test_chat=AGED)
    pytester.runpytest("-k", "test_ask").assert_outcomes(passed=1)
    pytester.runpytest("-k", "test_make_it_old").assert_outcomes(passed=1)
    return pytester


def test_the_ini_keys_rerecord_an_expired_cassette(aged: pytest.Pytester) -> None:
    result = aged.runpytest("-k", "test_ask")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["promptecho: 0 cassettes replayed, 0 recorded, 1 re-recorded, *"])


def test_under_ci_rerecord_fails_instead_of_calling_out(
    aged: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = aged.runpytest("-k", "test_ask")
    result.assert_outcomes(errors=1)  # the cassette cannot be opened: the test does not run
    result.stdout.fnmatch_lines(
        ["*CassetteExpired*has expired: its oldest recording is from *, 60.0 days ago*"]
    )


def test_mode_rewrite_is_accepted_on_the_command_line(aged: pytest.Pytester) -> None:
    result = aged.runpytest("-k", "test_ask", "--promptecho-mode=rewrite")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["promptecho: 0 cassettes replayed, 0 recorded, 1 re-recorded, *"])
