"""Anthropic Messages edge cases: blocks, tool results, thinking, Bedrock and Vertex URLs."""

from __future__ import annotations

import pytest

from promptecho._canonical import canonicalize, canonicalize_request

URL = "https://api.anthropic.com/v1/messages"


def test_tool_results_leave_the_user_turn_and_following_text_stays_with_the_user():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "42",
                            "is_error": True,
                        },
                        {"type": "text", "text": "thanks"},
                    ],
                },
            ],
        },
    )
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [{"kind": "tool_call", "name": "f", "id": "call_0", "arguments": {}}],
        },
        {
            "role": "tool",
            "content": [
                {
                    "kind": "tool_result",
                    "id": "call_0",
                    "content": [{"kind": "text", "text": "42"}],
                    "is_error": True,
                }
            ],
        },
        {"role": "user", "content": [{"kind": "text", "text": "thanks"}]},
    ]


def test_thinking_signatures_and_redacted_data_are_dropped():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "EqQB..."},
                        {"type": "redacted_thinking", "data": "opaque"},
                    ],
                }
            ],
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "thinking", "text": "hmm"},
        {"kind": "thinking", "redacted": True},
    ]


def test_system_blocks_and_system_role_messages_join_with_newlines():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "system": [
                {"type": "text", "text": "A"},
                {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
            ],
            "messages": [{"role": "system", "content": "C"}, {"role": "user", "content": "hi"}],
        },
    )
    assert body["system"] == "A\nB\nC"


@pytest.mark.parametrize(
    ("choice", "expected", "params"),
    [
        ({"type": "auto"}, {"mode": "auto"}, {"max_tokens": 5}),
        ({"type": "any"}, {"mode": "required"}, {"max_tokens": 5}),
        ({"type": "tool", "name": "f"}, {"mode": "required", "names": ["f"]}, {"max_tokens": 5}),
        ({"type": "none"}, {"mode": "none"}, {"max_tokens": 5}),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            {"mode": "auto"},
            {"max_tokens": 5, "parallel_tool_calls": False},
        ),
    ],
    ids=["auto", "any", "tool", "none", "no-parallel"],
)
def test_tool_choice_maps_to_the_shared_modes(choice, expected, params):
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": choice,
        },
    )
    assert (body["tool_choice"], body["params"]) == (expected, params)


def test_server_tools_keep_their_type_and_settings():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        },
    )
    assert body["tools"] == [
        {"name": "web_search", "type": "web_search_20250305", "config": {"max_uses": 3}}
    ]


def test_output_config_effort_joins_thinking_and_disabled_thinking_equals_none():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [],
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "low", "format": {"type": "json_schema"}},
            "stop_sequences": ["END"],
        },
    )
    assert body["thinking"] == {"type": "adaptive", "effort": "low"}
    assert body["output_format"] == {"type": "json_schema"}
    assert body["params"] == {"max_tokens": 5, "stop": ["END"]}
    disabled = canonicalize(
        URL, {"model": "c", "max_tokens": 5, "messages": [], "thinking": {"type": "disabled"}}
    )
    assert "thinking" not in disabled


@pytest.mark.parametrize(
    ("url", "stream"),
    [
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-6/invoke",
            False,
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-6/invoke-with-response-stream",
            True,
        ),
        (
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/anthropic/models/anthropic.claude-sonnet-4-6:streamRawPredict",
            True,
        ),
    ],
    ids=["bedrock", "bedrock-stream", "vertex-stream"],
)
def test_bedrock_and_vertex_urls_give_the_model_and_the_stream_flag(url, stream):
    raw = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    canonical = canonicalize_request(url, raw, "application/json")
    assert (canonical.api, canonical.stream, canonical.body["model"]) == (
        "anthropic",
        stream,
        "anthropic.claude-sonnet-4-6",
    )
    assert "anthropic_version" not in canonical.body.get("params", {})


def test_documents_keep_their_source():
    body = canonicalize(
        URL,
        {
            "model": "c",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVBE",
                            },
                        },
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                            "title": "T",
                        },
                        {
                            "type": "search_result",
                            "source": "s",
                            "title": "t",
                            "content": [],
                            "cache_control": {},
                        },
                    ],
                }
            ],
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "document", "media_type": "application/pdf", "data": "JVBE"},
        {"kind": "document", "media_type": "text/plain", "name": "T", "text": "plain"},
        {
            "kind": "other",
            "type": "search_result",
            "value": {"source": "s", "title": "t", "content": []},
        },
    ]
