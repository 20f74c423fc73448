"""``promptecho show``: each interaction as a conversation, pinned by golden outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promptecho._cli import main
from tests.cli_data import interaction, write

GOLDEN = Path(__file__).parent / "data" / "cli"
# PROMPTECHO_UPDATE_GOLDEN=1 rewrites the golden files from the current output (then review
# the diff in git before committing it).
UPDATE = os.environ.get("PROMPTECHO_UPDATE_GOLDEN") == "1"

CASES = {
    "anthropic-stream": [
        ("anthropic", "text-stream"),
        ("anthropic", "thinking-stream"),
        ("anthropic", "tool-use-stream"),
        ("anthropic", "error-mid-stream"),
    ],
    "openai-chat-tools": [
        ("openai-chat", "tools-stream"),
        ("openai-chat", "tool-result"),
        ("openai-chat", "image-url"),
    ],
    "openai-responses": [
        ("openai-responses", "stream"),
        ("openai-responses", "function-call-stream"),
        ("openai-responses", "items-tools-reasoning"),
    ],
    "gemini": [("gemini", "stream"), ("gemini", "tools-thinking"), ("gemini", "function-response")],
    "other-families": [
        ("cohere", "tools-stream"),
        ("mistral", "tools-stream"),
        ("groq", "chat-stream"),
        ("ollama", "tools-stream"),
        ("ollama", "openai-compat-stream"),
        ("openai-embeddings", "explicit-float"),
        ("openai-audio", "speech"),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_show_matches_its_golden_output(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    write(tmp_path / f"{name}.json", *(interaction(f, s) for f, s in CASES[name]))
    assert main(["show", f"{name}.json"]) == 0
    out = capsys.readouterr().out
    golden = GOLDEN / f"show-{name}.txt"
    if UPDATE:
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")
    assert "\x1b[" not in out  # captured output is not a terminal: no colour


def test_show_assembles_streamed_text_tool_arguments_and_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "c.json", interaction("anthropic", "tool-use-stream"))
    assert main(["show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    answer = shown["interactions"][0]["answer"]
    assert answer["text"] == "I'll check the weather in both cities."
    assert [(c["name"], c["arguments"]) for c in answer["tool_calls"]] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert answer["finish_reason"] == "tool_use"
    assert answer["usage"]["input_tokens"] == 412
    assert answer["usage"]["output_tokens"] == 89
    assert shown["interactions"][0]["recorded_at"] == "2026-11-24T10:15:02Z"
    assert shown["interactions"][0]["request"]["model"] == "claude-sonnet-4-6"


def test_show_one_interaction_with_i(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path / "c.json", interaction("openai-chat", "text"), interaction("gemini", "generate")
    )
    assert main(["show", str(path), "-i", "1"]) == 0
    out = capsys.readouterr().out
    assert "#1 POST" in out
    assert "#0 POST" not in out
    assert main(["show", str(path), "-i", "2"]) == 2
    assert "the cassette has 2 interactions" in capsys.readouterr().err


def test_show_cuts_long_text_and_says_its_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "word " * 100
    body = json.loads(
        (Path(__file__).parent / "data/wire/openai-chat/text.response.json").read_text()
    )
    body["choices"][0]["message"]["content"] = long
    path = write(
        tmp_path / "c.json", interaction("openai-chat", "text", response=json.dumps(body).encode())
    )
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"… ({len(long)} chars)" in out


def test_show_colours_only_on_a_terminal_and_never_with_no_color(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from promptecho._cli import _Out

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _Out(Terminal(), as_json=False).bold("x") == "\x1b[1mx\x1b[0m"
    assert _Out(io.StringIO(), as_json=False).bold("x") == "x"
    assert _Out(Terminal(), as_json=True).bold("x") == "x"
    monkeypatch.setenv("NO_COLOR", "1")
    assert _Out(Terminal(), as_json=False).bold("x") == "x"


def test_show_of_a_broken_cassette_exits_1_and_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1, "interactions": [{"nope": 1}]}')
    assert main(["show", str(path)]) == 1
    assert "bad.json" in capsys.readouterr().err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show"]) == 2
    assert main(["frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err
