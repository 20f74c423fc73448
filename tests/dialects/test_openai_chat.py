"""OpenAI Chat Completions edge cases (also Groq, Mistral, Ollama /v1)."""

from __future__ import annotations

import pytest

from promptecho._canonical import canonicalize

URL = "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize(
    ("extra", "params"),
    [
        ({"max_completion_tokens": 7}, {"max_tokens": 7}),
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"n": 1, "parallel_tool_calls": True}, {}),
        ({"n": 2, "parallel_tool_calls": False}, {"n": 2, "parallel_tool_calls": False}),
        (
            {"seed": 3, "response_format": {"type": "json_object"}},
            {"seed": 3},
        ),
        ({"user": "u", "metadata": {}, "store": True, "stream": True, "stream_options": {}}, {}),
    ],
    ids=[
        "max-completion-tokens",
        "stop-string",
        "defaults-dropped",
        "non-defaults-kept",
        "kept",
        "volatile",
    ],
)
def test_parameters_are_folded_and_volatile_ones_dropped(extra, params):
    body = canonicalize(URL, {"model": "m", "messages": [], **extra})
    assert body.get("params", {}) == params


def test_legacy_functions_and_function_messages_are_tools():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "functions": [{"name": "f", "parameters": {"type": "object"}}],
            "function_call": {"name": "f"},
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "f", "arguments": ""},
                },
                {"role": "function", "name": "f", "content": "ok"},
            ],
        },
    )
    assert body["tools"] == [{"name": "f", "parameters": {"type": "object"}}]
    assert body["tool_choice"] == {"mode": "required", "names": ["f"]}
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [{"kind": "tool_call", "name": "f", "id": "call_0", "arguments": {}}],
        },
        {
            "role": "tool",
            "content": [
                {"kind": "tool_result", "id": "call_0", "content": [{"kind": "text", "text": "ok"}]}
            ],
        },
    ]


def test_content_parts_of_every_type():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://x/y.png", "detail": "auto"},
                        },
                        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBE",
                                "filename": "a.pdf",
                            },
                        },
                        {"type": "refusal", "refusal": "no"},
                    ],
                }
            ],
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "text", "text": "look"},
        {"kind": "image", "url": "https://x/y.png"},
        {"kind": "document", "media_type": "audio/wav", "data": "UklG"},
        {"kind": "document", "media_type": "application/pdf", "data": "JVBE", "name": "a.pdf"},
        {"kind": "other", "type": "refusal", "value": {"refusal": "no"}},
    ]


def test_reasoning_handed_back_by_compatible_servers_is_thinking():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "messages": [{"role": "assistant", "content": "4", "reasoning_content": "2+2"}],
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "thinking", "text": "2+2"},
        {"kind": "text", "text": "4"},
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", {"mode": "required"}),
        ({"type": "function", "function": {"name": "f"}}, {"mode": "required", "names": ["f"]}),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "auto",
                    "tools": [
                        {"type": "function", "function": {"name": "g"}},
                        {"type": "function", "function": {"name": "f"}},
                    ],
                },
            },
            {"mode": "auto", "names": ["f", "g"]},
        ),
    ],
    ids=["required", "forced-function", "allowed-tools"],
)
def test_tool_choice_forms(choice, expected):
    body = canonicalize(URL, {"model": "m", "messages": [], "tool_choice": choice})
    assert body["tool_choice"] == expected


def test_tool_order_and_strict_false_do_not_matter_but_strict_true_does():
    def tool(name, **extra):
        return {
            "type": "function",
            "function": {"name": name, "parameters": {"type": "object"}, **extra},
        }

    one = canonicalize(
        URL, {"model": "m", "messages": [], "tools": [tool("b"), tool("a", strict=False)]}
    )
    two = canonicalize(URL, {"model": "m", "messages": [], "tools": [tool("a"), tool("b")]})
    strict = canonicalize(
        URL, {"model": "m", "messages": [], "tools": [tool("a", strict=True), tool("b")]}
    )
    assert one == two != strict
    assert [t["name"] for t in one["tools"]] == ["a", "b"]
