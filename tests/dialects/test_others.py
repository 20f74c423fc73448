"""Cohere v2, Ollama native, embeddings and speech edge cases."""

from __future__ import annotations

import json

import pytest

from promptecho._canonical import canonicalize, canonicalize_request

COHERE = "https://api.cohere.com/v2/chat"
OLLAMA = "http://localhost:11434/api/chat"


def test_cohere_tool_plan_is_thinking_and_p_k_take_shared_names():
    body = canonicalize(
        COHERE,
        {
            "model": "c",
            "p": 0.9,
            "k": 5,
            "stop_sequences": ["X"],
            "tool_choice": "REQUIRED",
            "messages": [
                {
                    "role": "assistant",
                    "tool_plan": "I will call f.",
                    "tool_calls": [
                        {
                            "id": "f_abc",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "f_abc",
                    "content": [{"type": "document", "document": {"data": {"v": 1}}}],
                },
            ],
        },
    )
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [
                {"kind": "thinking", "text": "I will call f."},
                {"kind": "tool_call", "name": "f", "id": "call_0", "arguments": {}},
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "kind": "tool_result",
                    "id": "call_0",
                    "content": [{"kind": "json", "value": {"v": 1}}],
                }
            ],
        },
    ]
    assert body["params"] == {"top_p": 0.9, "top_k": 5, "stop": ["X"]}
    assert body["tool_choice"] == {"mode": "required"}


@pytest.mark.parametrize(
    ("extra", "stream"),
    [({}, True), ({"stream": False}, False), ({"stream": True}, True)],
    ids=["absent", "false", "true"],
)
def test_ollama_native_streams_unless_told_not_to(extra, stream):
    raw = json.dumps({"model": "m", "messages": [], **extra}).encode()
    assert canonicalize_request(OLLAMA, raw, None).stream is stream


def test_ollama_images_thinking_and_tool_name_links():
    body = canonicalize(
        OLLAMA,
        {
            "model": "m",
            "think": "high",
            "keep_alive": "5m",
            "format": "json",
            "options": {"num_predict": 9, "temperature": 0},
            "tools": [],
            "messages": [
                {"role": "user", "content": "what is this?", "images": ["iVBO"]},
                {
                    "role": "assistant",
                    "content": "",
                    "thinking": "hmm",
                    "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
                },
                {"role": "tool", "tool_name": "f", "content": "done"},
            ],
        },
    )
    assert body == {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"kind": "text", "text": "what is this?"},
                    {"kind": "image", "data": "iVBO"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"kind": "thinking", "text": "hmm"},
                    {"kind": "tool_call", "name": "f", "id": "call_0", "arguments": {"a": 1}},
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "kind": "tool_result",
                        "id": "call_0",
                        "content": [{"kind": "text", "text": "done"}],
                    }
                ],
            },
        ],
        "thinking": "high",
        "output_format": {"type": "json"},
        "params": {"max_tokens": 9, "temperature": 0},
    }


def test_ollama_generate_is_one_user_turn():
    body = canonicalize(
        "http://localhost:11434/api/generate",
        {"model": "m", "prompt": "hi", "system": "S", "images": ["iVBO"]},
    )
    assert body == {
        "model": "m",
        "system": "S",
        "messages": [
            {
                "role": "user",
                "content": [{"kind": "text", "text": "hi"}, {"kind": "image", "data": "iVBO"}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        (
            "https://api.openai.com/v1/embeddings",
            {"model": "e", "input": "a", "user": "u"},
            {"model": "e", "input": ["a"], "encoding_format": "float"},
        ),
        (
            "https://api.openai.com/v1/embeddings",
            {"model": "e", "input": ["a"], "encoding_format": "float"},
            {"model": "e", "input": ["a"], "encoding_format": "float"},
        ),
        (
            "https://api.cohere.com/v2/embed",
            {
                "model": "e",
                "texts": ["a"],
                "input_type": "search_document",
                "output_dimension": 256,
            },
            {
                "model": "e",
                "input": ["a"],
                "dimensions": 256,
                "encoding_format": "float",
                "params": {"input_type": "search_document"},
            },
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:embedContent",
            {
                "content": {"parts": [{"text": "a"}]},
                "taskType": "RETRIEVAL_QUERY",
                "outputDimensionality": 8,
            },
            {
                "model": "gemini-embedding-001",
                "input": ["a"],
                "dimensions": 8,
                "encoding_format": "float",
                "params": {"task_type": "RETRIEVAL_QUERY"},
            },
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents",
            {
                "requests": [
                    {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
                    {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}},
                ]
            },
            {"model": "gemini-embedding-001", "input": ["a", "b"], "encoding_format": "float"},
        ),
        (
            "http://localhost:11434/api/embeddings",
            {"model": "e", "prompt": "a"},
            {"model": "e", "input": ["a"], "encoding_format": "float"},
        ),
    ],
    ids=["openai-string", "openai-list", "cohere", "gemini", "gemini-batch", "ollama-legacy"],
)
def test_embeddings_requests(url, body, expected):
    assert canonicalize(url, body) == expected


def test_speech_defaults_and_stream_format():
    url = "https://api.openai.com/v1/audio/speech"
    assert canonicalize(
        url, {"model": "t", "input": "hi", "voice": "alloy", "speed": 1}
    ) == canonicalize(
        url, {"model": "t", "input": "hi", "voice": "alloy", "response_format": "mp3"}
    )
    raw = b'{"model": "t", "input": "hi", "voice": "alloy", "stream_format": "sse"}'
    canonical = canonicalize_request(url, raw, "application/json")
    assert (canonical.api, canonical.stream, canonical.body["params"]) == (
        "speech",
        True,
        {"stream_format": "sse"},
    )
