"""Gemini edge cases: spellings, base64 alphabets, URLs, calls matched by name."""

from __future__ import annotations

import pytest

from promptecho._canonical import canonicalize, canonicalize_request

URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"


def test_camel_case_and_snake_case_spellings_are_the_same():
    camel = canonicalize(
        URL,
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": "a-b_"}}],
                }
            ],
            "systemInstruction": {"parts": [{"text": "S"}]},
            "generationConfig": {
                "maxOutputTokens": 5,
                "thinkingConfig": {"thinkingBudget": 0},
                "topP": 0.5,
            },
        },
    )
    snake = canonicalize(
        URL,
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inline_data": {"mime_type": "image/png", "data": "a+b/"}}],
                }
            ],
            "system_instruction": {"parts": [{"text": "S"}]},
            "generation_config": {
                "max_output_tokens": 5,
                "thinking_config": {"thinking_budget": 0},
                "top_p": 0.5,
            },
        },
    )
    assert camel == snake
    assert camel["thinking"] == {"thinking_budget": 0}
    assert camel["params"] == {"max_tokens": 5, "top_p": 0.5}


@pytest.mark.parametrize(
    "url",
    [
        "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key=K",
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent",
    ],
    ids=["v1", "v1beta-key", "vertex"],
)
def test_the_model_comes_from_the_url(url):
    assert canonicalize(url, {"contents": []})["model"] == "gemini-2.5-flash"


def test_empty_generation_config_equals_none_and_alt_sse_streams():
    assert canonicalize(URL, {"contents": [], "generationConfig": {}}) == canonicalize(
        URL, {"contents": []}
    )
    canonical = canonicalize_request(URL + "?alt=sse", b'{"contents": []}', "application/json")
    assert canonical.stream is True


def test_function_responses_answer_the_oldest_call_of_their_name():
    body = canonicalize(
        URL,
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "a", "args": {}}},
                        {"functionCall": {"name": "b"}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "b", "response": {"r": 2}}},
                        {"functionResponse": {"name": "a", "response": {"r": 1}}},
                        {"text": "and?"},
                    ],
                },
            ]
        },
    )
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [
                {"kind": "tool_call", "name": "a", "id": "call_0", "arguments": {}},
                {"kind": "tool_call", "name": "b", "id": "call_1", "arguments": {}},
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "kind": "tool_result",
                    "id": "call_1",
                    "content": [{"kind": "json", "value": {"r": 2}}],
                },
                {
                    "kind": "tool_result",
                    "id": "call_0",
                    "content": [{"kind": "json", "value": {"r": 1}}],
                },
            ],
        },
        {"role": "user", "content": [{"kind": "text", "text": "and?"}]},
    ]


def test_tool_config_modes_and_built_in_tools():
    body = canonicalize(
        URL,
        {
            "contents": [],
            "tools": [
                {"googleSearch": {}},
                {
                    "functionDeclarations": [
                        {"name": "f", "parametersJsonSchema": {"type": "object"}}
                    ]
                },
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
            "safetySettings": [{"category": "X", "threshold": "BLOCK_NONE"}],
        },
    )
    assert body["tools"] == [
        {"name": "f", "parameters": {"type": "object"}},
        {"name": "google_search", "type": "google_search"},
    ]
    assert body["tool_choice"] == {"mode": "required", "names": ["f"]}
    assert body["params"] == {"safety_settings": [{"category": "X", "threshold": "BLOCK_NONE"}]}


def test_files_and_unknown_parts():
    body = canonicalize(
        URL,
        {
            "contents": [
                {
                    "parts": [
                        {"fileData": {"fileUri": "gs://b/a.pdf", "mimeType": "application/pdf"}},
                        {"fileData": {"fileUri": "gs://b/a.png", "mimeType": "image/png"}},
                        {"inlineData": {"data": "UklG", "mimeType": "audio/wav"}},
                        {
                            "executableCode": {"language": "PYTHON", "code": "1"},
                            "thoughtSignature": "x",
                        },
                    ]
                }
            ]
        },
    )
    assert body["messages"][0] == {
        "role": "user",
        "content": [
            {"kind": "document", "media_type": "application/pdf", "url": "gs://b/a.pdf"},
            {"kind": "image", "media_type": "image/png", "url": "gs://b/a.png"},
            {"kind": "document", "media_type": "audio/wav", "data": "UklG"},
            {
                "kind": "other",
                "type": "executable_code",
                "value": {"language": "PYTHON", "code": "1"},
            },
        ],
    }
