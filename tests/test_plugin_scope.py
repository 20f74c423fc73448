"""The plugin with one play state per cassette: drift, swallowed misses, CI and the counts."""

from __future__ import annotations

import pytest

from .conftest import INI

SHARED = """
import asyncio

def ask_both(handle, ask):
    return ask(handle.client(), "same"), ask(handle.client(flavor="httpx2"), "same")

async def test_shared(promptecho_cassette, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "same"}]}
    sync = promptecho_cassette.client()
    async_client = promptecho_cassette.async_client()
    first = sync.post(upstream.url + "/v1/chat/completions", json=body)
    second = await async_client.post(upstream.url + "/v1/chat/completions", json=body)
    assert first.status_code == second.status_code == 200
"""


def test_a_sync_and_an_async_client_of_one_test_share_a_cassette(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat=SHARED)
    suite.runpytest().assert_outcomes(passed=1)  # records two interactions
    result = suite.runpytest("--promptecho-strict", "--promptecho-mode=none")
    result.assert_outcomes(passed=1)
    # Both recordings answered (#0 then #1, not #0 twice): strict finds nothing unplayed,
    # and the cassette is counted once.
    result.stdout.fnmatch_lines(
        [
            "promptecho: 1 cassette replayed, 0 recorded, 0 re-recorded, 0 misses, "
            "0 unplayed interactions, 0 replays with drift",
        ]
    )


DRIFTING = """
import os

def test_drift(promptecho_client, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}],
            "temperature": float(os.environ.get("TEMPERATURE", "0.2"))}
    promptecho_client.post(upstream.url + "/v1/chat/completions", json=body)
"""


@pytest.mark.parametrize(
    ("args", "ini", "outcome", "expected"),
    [
        ((), "", "warn", "*DriftWarning: 1 replay of this test drifted*"),
        (("--promptecho-drift=fail",), "", "failed", "*1 replay of this test drifted*"),
        (
            (),
            "promptecho_drift = fail\n",
            "failed",
            "*params.temperature: recorded 0.2 / incoming 0.9",
        ),
        (("--promptecho-drift=ignore",), "promptecho_drift = fail\n", "passed", None),
    ],
    ids=["warn-by-default", "fail-option", "fail-ini", "option-over-ini"],
)
def test_drift_is_warned_failed_or_ignored(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args, ini, outcome, expected
) -> None:
    suite.makeini(INI.replace("filterwarnings = error\n", "") + ini)
    suite.makepyfile(test_chat=DRIFTING)
    suite.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TEMPERATURE", "0.9")
    result = suite.runpytest("-W", "always::promptecho.DriftWarning", *args)
    if outcome == "warn":
        result.assert_outcomes(passed=1, warnings=1)
    else:
        result.assert_outcomes(**{outcome: 1})
    if expected:
        result.stdout.fnmatch_lines([expected])
    if outcome != "passed":
        result.stdout.fnmatch_lines(["*params.temperature: recorded 0.2 / incoming 0.9"])
    result.stdout.fnmatch_lines(["promptecho: 1 cassette replayed, *, 1 replay with drift"])


SWALLOWED = """
import asyncio

async def test_gathered(promptecho_async_client, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "changed"}]}
    results = await asyncio.gather(
        promptecho_async_client.post(upstream.url + "/v1/chat/completions", json=body),
        return_exceptions=True,
    )
    print("GATHERED", type(results[0]).__name__)

def test_caught(promptecho_client, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "changed"}]}
    try:
        promptecho_client.post(upstream.url + "/v1/chat/completions", json=body)
    except BaseException:
        pass
"""


def test_a_miss_the_code_under_test_swallows_still_fails_the_test_with_the_diff(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_chat=SWALLOWED.replace('"changed"', '"hi"'))
    suite.runpytest().assert_outcomes(passed=2)
    suite.makepyfile(test_chat=SWALLOWED)
    result = suite.runpytest("-s")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*GATHERED Failed*",
            "*a request had no recorded answer (the code under test caught the failure):",
            "CassetteMiss: no recorded request in */test_gathered.json matches POST *",
            '  messages[[]0].content[[]0].text: recorded "hi" / incoming "changed"',
        ]
    )
    # The test's own line that made the request is named.
    result.stdout.fnmatch_lines(
        ["Requested at *test_chat.py:*, in test_caught: *promptecho_client.post(*"]
    )


CAUGHT_THEN_BROKEN = """
def test_broken(promptecho_client, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "changed"}]}
    try:
        reply = promptecho_client.post(upstream.url + "/v1/chat/completions", json=body)
    except BaseException as err:
        reply = err
    reply.json()  # what a framework does with what it got back
"""


def test_a_swallowed_miss_is_the_reported_cause_when_the_test_then_breaks(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_chat=CAUGHT_THEN_BROKEN.replace('"changed"', '"hi"'))
    suite.runpytest().assert_outcomes(passed=1)
    suite.makepyfile(test_chat=CAUGHT_THEN_BROKEN)
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a request had no recorded answer*",
            '  messages[[]0].content[[]0].text: recorded "hi" / incoming "changed"',
        ]
    )
    # The error it led to stays linked as the direct cause.
    result.stdout.fnmatch_lines(["*'Failed' object has no attribute 'json'*"])


CI_MARKED = """
import pytest

@pytest.mark.promptecho(mode="new_episodes")
def test_marked(promptecho_client, ask):
    ask(promptecho_client, "new question")
"""


def test_with_ci_set_a_marker_cannot_make_the_run_call_out(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_chat=CI_MARKED.replace("new question", "old question"))
    suite.runpytest().assert_outcomes(passed=1)
    suite.makepyfile(test_chat=CI_MARKED)
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*(mode 'none')",
            "*The mode is 'none' because CI is set (CI never calls out, whatever markers and ini say)*",
            "  pytest 'test_chat.py::test_marked' --promptecho-mode=new_episodes",
        ]
    )
    assert "mode='new_episodes'" not in result.stdout.str()  # the hint that would call out
    # Only the command line overrides CI.
    suite.runpytest("--promptecho-mode=new_episodes").assert_outcomes(passed=1)


def test_the_summary_does_not_count_a_cassette_that_only_missed_as_replayed(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_chat=CI_MARKED.replace("new question", "old question"))
    suite.runpytest().assert_outcomes(passed=1)
    suite.makepyfile(test_chat=CI_MARKED)
    monkeypatch.setenv("CI", "1")
    result = suite.runpytest()
    result.stdout.fnmatch_lines(
        [
            "promptecho: 0 cassettes replayed, 0 recorded, 0 re-recorded, 1 miss, 1 unplayed interaction, 0 replays with drift"
        ]
    )


PLAYLOG_SUITE = """
def test_one(promptecho_client, ask):
    ask(promptecho_client, "one")

def test_two(promptecho_client, ask):
    ask(promptecho_client, "two")
"""


def test_a_run_writes_the_play_log_that_check_reads(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from promptecho._cli import main

    suite.makepyfile(test_chat=PLAYLOG_SUITE)
    suite.runpytest().assert_outcomes(passed=2)
    # A recording no test plays any more: the second test's cassette gets an extra one.
    extra = suite.path / "cassettes/test_chat/test_two.json"
    data = json.loads(extra.read_text())
    data["interactions"].append(data["interactions"][0])
    extra.write_text(json.dumps(data))
    suite.runpytest("-k", "test_one or test_two").assert_outcomes(passed=2)
    log = json.loads((suite.path / ".promptecho/playlog.json").read_text())
    assert log["cassettes"] == {
        "cassettes/test_chat/test_one.json": {"interactions": 1, "played": [0]},
        "cassettes/test_chat/test_two.json": {"interactions": 2, "played": [0]},
    }
    monkeypatch.chdir(suite.path)
    capsys.readouterr()
    assert main(["check", "cassettes"]) == 1
    out = capsys.readouterr().out
    assert "test_two.json: $.interactions[1]: unplayed" in out
    assert "test_one.json" not in out
