"""Mode verify: live answers held to their recordings, and what replay saved in tokens.

The local upstream changes its answer between the recording and the verify run: a
prose-only change, a changed tool call, a changed stream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import promptecho
from promptecho import Cassette
from promptecho.testing import FakeUpstream, Reply, Seen, json_reply, sse_reply

from .conftest import chat

ANSWERS: dict[str, Any] = {}


def completion(
    content: str | None, tool: tuple[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool is not None:
        name, arguments = tool
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ]
    return {
        "id": f"chatcmpl-{len(json.dumps(message))}",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4.1-mini",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def chunks(*deltas: dict[str, Any], finish: str = "stop") -> list[bytes]:
    def event(delta: dict[str, Any], reason: str | None) -> bytes:
        chunk = {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    usage = {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1-mini",
        "choices": [],
        "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35},
    }
    return [
        *(event(d, None) for d in deltas),
        event({}, finish),
        b"data: " + json.dumps(usage).encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ]


def handler(seen: Seen) -> Reply:
    body = seen.json()
    answer = ANSWERS["stream" if body.get("stream") else "json"]
    return sse_reply(answer) if body.get("stream") else json_reply(answer)


@pytest.fixture
def upstream() -> Any:
    ANSWERS.clear()
    with FakeUpstream(handler) as server:
        yield server


def call(path: Path, upstream: Any, mode: str, body: dict[str, Any]) -> tuple[Any, Any]:
    echo = promptecho.EchoTransport(path, mode=mode)  # type: ignore[arg-type]
    with httpx.Client(transport=echo) as client:
        reply = client.post(upstream.url + "/v1/chat/completions", json=body)
        content = reply.read()
    return content, echo


def verify(path: Path, upstream: Any, body: dict[str, Any]) -> tuple[bytes, Any]:
    before = path.read_bytes()
    content, echo = call(path, upstream, "verify", body)
    assert path.read_bytes() == before  # the cassette is not modified
    [verification] = echo.verifications
    return content, verification


def test_the_same_answer_is_identical(tmp_path: Path, upstream: Any) -> None:
    path = tmp_path / "c.json"
    ANSWERS["json"] = completion("Paris is sunny.")
    call(path, upstream, "once", chat("weather?"))
    ANSWERS["json"] = {**completion("Paris is sunny."), "id": "chatcmpl-other", "created": 2}
    _, verification = verify(path, upstream, chat("weather?"))
    assert (verification.verdict, verification.index) == ("identical", 0)


def test_a_prose_only_change_is_text_changed_and_the_caller_gets_the_live_answer(
    tmp_path: Path, upstream: Any
) -> None:
    path = tmp_path / "c.json"
    ANSWERS["json"] = completion("Paris is sunny and warm today.")
    call(path, upstream, "once", chat("weather?"))
    ANSWERS["json"] = completion("Paris is rainy and cold today.")
    content, verification = verify(path, upstream, chat("weather?"))
    assert (
        json.loads(content)["choices"][0]["message"]["content"] == "Paris is rainy and cold today."
    )
    assert verification.verdict == "text changed"
    assert 0.5 < verification.ratio < 1.0


def test_a_changed_tool_call_is_structure_changed(tmp_path: Path, upstream: Any) -> None:
    path = tmp_path / "c.json"
    ANSWERS["json"] = completion(None, ("get_weather", {"city": "Paris"}))
    call(path, upstream, "once", chat("weather?"))
    ANSWERS["json"] = completion(None, ("get_forecast", {"city": "Paris", "days": 3}))
    _, verification = verify(path, upstream, chat("weather?"))
    assert verification.verdict == "structure changed"
    assert any("get_forecast" in change for change in verification.changes)


def test_a_stream_with_more_deltas_of_the_same_kinds_is_only_text(
    tmp_path: Path, upstream: Any
) -> None:
    path = tmp_path / "c.json"
    ANSWERS["stream"] = chunks({"role": "assistant", "content": "Hi"}, {"content": " there"})
    call(path, upstream, "once", chat("hello", stream=True))
    ANSWERS["stream"] = chunks(
        {"role": "assistant", "content": "Hello"}, {"content": " there"}, {"content": ", friend"}
    )
    _, verification = verify(path, upstream, chat("hello", stream=True))
    assert verification.verdict == "text changed"


def test_a_stream_that_now_calls_a_tool_is_structure_changed(tmp_path: Path, upstream: Any) -> None:
    path = tmp_path / "c.json"
    ANSWERS["stream"] = chunks({"role": "assistant", "content": "Hi"})
    call(path, upstream, "once", chat("hello", stream=True))
    tool = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "greet", "arguments": "{}"},
            }
        ]
    }
    ANSWERS["stream"] = chunks({"role": "assistant", "content": None}, tool, finish="tool_calls")
    _, verification = verify(path, upstream, chat("hello", stream=True))
    assert verification.verdict == "structure changed"


def test_a_request_with_no_recording_is_reported_not_recorded(
    tmp_path: Path, upstream: Any
) -> None:
    path = tmp_path / "c.json"
    ANSWERS["json"] = completion("one")
    call(path, upstream, "once", chat("first"))
    _, verification = verify(path, upstream, chat("second"))
    assert (verification.verdict, verification.index) == ("not recorded", None)


def test_recorded_usage_is_kept_per_interaction(tmp_path: Path, upstream: Any) -> None:
    path = tmp_path / "c.json"
    ANSWERS["json"] = completion("x")
    ANSWERS["stream"] = chunks({"role": "assistant", "content": "y"})
    call(path, upstream, "once", chat("json"))
    call(path, upstream, "new_episodes", chat("stream", stream=True))
    usage = [i.usage for i in Cassette.load(path).interactions]
    assert [(u.input_tokens, u.output_tokens) for u in usage if u] == [(12, 7), (30, 5)]


# -- pytest: the report, the fail-on levels, and the savings line -------------------------

SUITE_CONFTEST = """
import json, os, pytest
from promptecho.testing import FakeUpstream, json_reply

def answer(seen):
    text = os.environ.get("ANSWER", "Paris is sunny and warm today.")
    message = {"role": "assistant", "content": text}
    if os.environ.get("TOOL"):
        message = {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                   "function": {"name": os.environ["TOOL"], "arguments": "{}"}}]}
    return json_reply({"id": "x", "object": "chat.completion", "model": "gpt-4.1-mini",
                       "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 1200, "completion_tokens": 300}})

@pytest.fixture(scope="session")
def upstream():
    with FakeUpstream(answer) as server:
        yield server
"""

SUITE = """
def test_weather(promptecho_client, upstream):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "weather?"}]}
    promptecho_client.post(upstream.url + "/v1/chat/completions", json=body)
"""


@pytest.fixture
def verified(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    from .conftest import INI

    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(SUITE_CONFTEST)
    pytester.makeini(INI + "promptecho_prices =\n    gpt-4.1-mini 0.40 1.60\n")
    pytester.makepyfile(test_chat=SUITE)
    pytester.runpytest().assert_outcomes(passed=1)
    return pytester


def test_the_summary_counts_calls_and_tokens_replay_did_not_spend(
    verified: pytest.Pytester,
) -> None:
    result = verified.runpytest("--promptecho-mode=none")
    result.stdout.fnmatch_lines(
        [
            "promptecho: 1 call replayed from 1 cassette, 1,200 input + 300 output tokens not spent "
            "($0.0010 at the configured prices), 0 live calls"
        ]
    )


@pytest.mark.parametrize(
    ("env", "fail_on", "outcome"),
    [
        ({"ANSWER": "Paris is rainy and cold today."}, "structure", "passed"),
        ({"ANSWER": "Paris is rainy and cold today."}, "text", "failed"),
        ({"TOOL": "get_weather"}, "structure", "failed"),
        ({"TOOL": "get_weather"}, "never", "passed"),
    ],
    ids=["text-under-structure", "text-under-text", "structure", "never"],
)
def test_verify_reports_every_interaction_and_fails_at_the_chosen_level(
    verified: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env, fail_on, outcome
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cassette = verified.path / "cassettes/test_chat/test_weather.json"
    before = cassette.read_bytes()
    report = verified.path / "out/verify.json"
    result = verified.runpytest(
        "--promptecho-mode=verify",
        f"--promptecho-verify-report={report}",
        f"--promptecho-verify-fail-on={fail_on}",
    )
    result.assert_outcomes(**{outcome: 1})
    assert cassette.read_bytes() == before
    [row] = json.loads(report.read_text())["verified"]
    expected = "text changed" if "ANSWER" in env else "structure changed"
    assert (row["test"], row["request"].split()[0], row["verdict"]) == (
        "test_chat.py::test_weather",
        "POST",
        expected,
    )
    markdown = report.with_suffix(".md").read_text().splitlines()
    assert markdown[0] == "| test | cassette | request | verdict | changed |"
    assert markdown[2].startswith("| test_chat.py::test_weather | ")
    assert expected in markdown[2]
    result.stdout.fnmatch_lines(["promptecho: 0 calls replayed from *, 1 live call"])


@pytest.mark.parametrize(
    ("provider", "scenario", "path", "expected"),
    [
        ("anthropic", "text", "/v1/messages", (23, 16)),
        ("anthropic", "text-stream", "/v1/messages", (23, 16)),
        ("openai-responses", "string-input", "/v1/responses", (24, 16)),
        ("openai-responses", "stream", "/v1/responses", (24, 58)),
        ("gemini", "generate", "/v1beta/models/gemini-2.5-flash:generateContent", (13, 12)),
        (
            "gemini",
            "stream",
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            (13, 12),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and "/" not in v else None,
)
def test_usage_is_read_from_each_providers_own_fields(
    tmp_path: Path, provider: str, scenario: str, path: str, expected: tuple[int, int]
) -> None:
    from .upstream import request_body, wire_handler

    cassette = tmp_path / "c.json"
    with (
        FakeUpstream(wire_handler(serve={provider: scenario})) as server,
        promptecho.client(cassette) as client,
    ):
        client.post(
            server.url + path,
            content=request_body(provider, scenario),
            headers={"content-type": "application/json"},
        ).read()
    [interaction] = Cassette.load(cassette).interactions
    assert interaction.usage is not None
    assert (interaction.usage.input_tokens, interaction.usage.output_tokens) == expected
