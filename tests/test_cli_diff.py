"""``promptecho diff`` and the comparator it shares with verify."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from promptecho._cli import main
from promptecho._compare import compare
from tests.cli_data import WIRE, interaction, write


def wire(family: str, name: str) -> str:
    return (WIRE / family / name).read_text()


def changed(family: str, scenario: str, old: str, new: str):
    name = next((WIRE / family).glob(f"{scenario}.response.*")).name
    text = wire(family, name)
    assert old in text
    return interaction(family, scenario, response=text.replace(old, new).encode())


def verdict(a, b) -> str:
    return str(compare(a.request.api, a.response, b.response))


@pytest.mark.parametrize(
    ("family", "scenario", "old", "new", "expected"),
    [
        ("openai-chat", "text", "aider", "assister", "text changed"),
        ("anthropic", "text-stream", '" vous"', '" nous"', "text changed"),
        ("anthropic", "tool-use-stream", "Tokyo", "Osaka", "text changed"),
        (
            "openai-chat",
            "tools-stream",
            '"tool_calls"}',
            '"length"}',
            'structure changed (finish_reason: "tool_calls" -> "length")',
        ),
        (
            "anthropic",
            "tool-use",
            '"city":"Tokyo"',
            '"city":"Tokyo","days":3',
            'structure changed (tool_calls[1].arguments: {"city":"string"} -> '
            '{"city":"string","days":"number"})',
        ),
        (
            "gemini",
            "tools-thinking",
            '"name": "get_weather"',
            '"name": "get_forecast"',
            'structure changed (tool_calls: ["get_weather","get_weather"] -> '
            '["get_forecast","get_forecast"])',
        ),
    ],
    ids=["prose", "stream-prose", "tool-argument-value", "finish", "argument-key", "tool-name"],
)
def test_the_comparator_tells_text_from_structure(family, scenario, old, new, expected) -> None:
    recorded, new_one = interaction(family, scenario), changed(family, scenario, old, new)
    result = compare(recorded.request.api, recorded.response, new_one.response)
    if expected == "text changed":
        # One word of a short answer: similar, not the same.
        assert result.kind == "text changed"
        assert 0.8 < result.ratio < 1.0
        assert str(result) == f"text changed (ratio {result.ratio:.2f})"
    else:
        assert str(result) == expected


def test_the_ratio_falls_as_more_prose_changes() -> None:
    recorded = interaction("openai-chat", "text")
    one_word = changed("openai-chat", "text", "aider", "assister")
    rewritten = changed(
        "openai-chat", "text", "Comment puis-je vous aider", "Que voulez-vous faire"
    )
    ratios = [
        compare("openai-chat", recorded.response, n.response).ratio for n in (one_word, rewritten)
    ]
    assert 1.0 > ratios[0] > ratios[1] > 0.0


def test_volatile_fields_and_the_count_of_text_deltas_are_not_a_change() -> None:
    recorded = interaction("anthropic", "text-stream")
    text = wire("anthropic", "text-stream.response.sse")
    text = text.replace("msg_01kCJVuoYqLRqrxZKiGvbtcj", "msg_other").replace(
        '"output_tokens":16', '"output_tokens":99'
    )
    # Two deltas merged into one: the same text in fewer events.
    merged = text.replace(
        '"text":" Comment"}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" puis-je"}}',
        '"text":" Comment puis-je"}}',
    )
    assert merged != text
    new = interaction("anthropic", "text-stream", response=merged.encode())
    assert len(new.response.body.events) == len(recorded.response.body.events) - 1
    assert verdict(recorded, new) == "identical"


def test_a_new_stream_event_type_is_a_structure_change() -> None:
    recorded = interaction("openai-responses", "stream")
    new = changed(
        "openai-responses", "stream", "event: response.completed", "event: response.incomplete"
    )
    assert verdict(recorded, new) == (
        "structure changed (events: -response.completed +response.incomplete)"
    )


def test_a_changed_status_is_a_structure_change() -> None:
    recorded = interaction("openai-chat", "text")
    new = interaction("openai-chat", "text")
    new.response.status = 429
    assert verdict(recorded, new) == "structure changed (status: 200 -> 429)"


def test_diff_matches_by_key_and_reports_each_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_text = interaction("openai-chat", "text")
    b_text = changed("openai-chat", "text", "aider", "assister")
    a = write(
        tmp_path / "a.json",
        a_text,
        interaction("anthropic", "tool-use"),
        interaction("gemini", "generate"),
        interaction("cohere", "chat"),
    )
    b = write(
        tmp_path / "b.json",
        changed("anthropic", "tool-use", '"name":"get_weather"', '"name":"lookup"'),
        b_text,
        interaction("gemini", "generate"),
        interaction("mistral", "chat"),
    )
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out.splitlines()
    ratio = compare("openai-chat", a_text.response, b_text.response).ratio
    assert out == [
        f"--- {a}",
        f"+++ {b}",
        f"#0 -> #1 POST /v1/chat/completions [openai-chat]: text changed (ratio {ratio:.2f})",
        '#1 -> #0 POST /v1/messages [anthropic]: structure changed (tool_calls: ["get_weather",'
        '"get_weather"] -> ["lookup","lookup"])',
        "#2 POST /v1/models/gemini-2.5-flash:generateContent [gemini]: identical",
        "#3 POST /v2/chat [cohere]: removed",
        "+#3 POST /v1/chat/completions [openai-chat]: added",
        "1 text changed, 1 structure changed, 1 identical, 1 removed, 1 added",
    ]


def test_diff_shows_request_fields_that_changed_as_a_miss_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.json", interaction("openai-chat", "text"))
    edited = interaction("openai-chat", "text")
    edited.request.body["messages"][0]["content"][0]["text"] = "Say goodbye."
    b = write(tmp_path / "b.json", edited)
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[2:] == [
        "#0 POST /v1/chat/completions [openai-chat]: request changed; answer identical",
        '    messages[0].content[0].text: recorded "Say hello." / incoming "Say goodbye."',
        "1 request changed",
    ]
    assert main(["diff", str(a), str(b), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["interactions"] == [
        {
            "a": 0,
            "b": 0,
            "request": "POST /v1/chat/completions [openai-chat]",
            "status": "request changed",
            "request_changes": [
                'messages[0].content[0].text: recorded "Say hello." / incoming "Say goodbye."'
            ],
            "verdict": {"kind": "identical", "ratio": 1.0, "changes": []},
        }
    ]


def test_diff_of_identical_cassettes_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.json", interaction("openai-chat", "text"))
    assert main(["diff", str(a), str(a)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 identical"


def test_diff_with_one_cassette_compares_it_with_git_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    path = write(repo / "tests" / "cassettes" / "chat.json", interaction("openai-chat", "text"))
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "cassette"],
    ):
        subprocess.run(["git", "-C", str(repo), *command], check=True, timeout=60)
    write(
        path, changed("openai-chat", "text", '"finish_reason": "stop"', '"finish_reason": "length"')
    )
    monkeypatch.chdir(repo / "tests")
    assert main(["diff", "cassettes/chat.json"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "--- cassettes/chat.json (HEAD)"
    assert out[2] == (
        '#0 POST /v1/chat/completions [openai-chat]: structure changed (finish_reason: "stop" -> "length")'
    )
    untracked = write(repo / "new.json", interaction("openai-chat", "text"))
    assert main(["diff", str(untracked)]) == 1
    assert "cannot be read from git HEAD" in capsys.readouterr().err
