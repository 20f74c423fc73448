"""OpenAI Responses edge cases: input forms, items, strict default, hosted tools."""

from __future__ import annotations

import pytest

from promptecho._canonical import canonicalize

URL = "https://api.openai.com/v1/responses"


@pytest.mark.parametrize(
    "input_",
    [
        "Say hello.",
        [{"role": "user", "content": "Say hello."}],
        [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Say hello."}],
            }
        ],
    ],
    ids=["string", "role-item", "typed-item"],
)
def test_the_three_input_forms_are_one_canonical_user_turn(input_):
    body = canonicalize(URL, {"model": "m", "input": input_})
    assert body["messages"] == [
        {"role": "user", "content": [{"kind": "text", "text": "Say hello."}]}
    ]


def test_developer_items_join_instructions_in_system():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "instructions": "A",
            "input": [{"role": "developer", "content": "B"}, {"role": "user", "content": "x"}],
        },
    )
    assert body["system"] == "A\nB"


def test_a_function_tool_without_strict_is_strict():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "input": "x",
            "tools": [{"type": "function", "name": "f", "parameters": {}}],
        },
    )
    assert body["tools"] == [{"name": "f", "parameters": {}, "strict": True}]


def test_hosted_tools_and_unknown_items_are_kept_without_their_ids():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "input": [
                {"type": "item_reference", "id": "msg_1"},
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"query": "q"},
                },
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
            ],
            "tools": [{"type": "web_search", "search_context_size": "low"}],
            "tool_choice": {"type": "web_search"},
        },
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"kind": "other", "type": "item_reference"}]},
        {
            "role": "assistant",
            "content": [
                {"kind": "other", "type": "web_search_call", "value": {"action": {"query": "q"}}},
                {"kind": "thinking", "redacted": True},
            ],
        },
    ]
    assert body["tools"] == [
        {"name": "web_search", "type": "web_search", "config": {"search_context_size": "low"}}
    ]
    assert body["tool_choice"] == {"mode": "required", "names": ["web_search"]}


def test_images_files_and_previous_response_id():
    body = canonicalize(
        URL,
        {
            "model": "m",
            "previous_response_id": "resp_1",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_image",
                            "image_url": "data:image/png;base64,iVBO",
                            "detail": "high",
                        },
                        {"type": "input_image", "file_id": "file-1"},
                        {"type": "input_file", "file_url": "https://x/a.pdf"},
                    ],
                }
            ],
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "image", "media_type": "image/png", "data": "iVBO", "detail": "high"},
        {"kind": "image", "file_id": "file-1"},
        {"kind": "document", "url": "https://x/a.pdf"},
    ]
    assert body["state"] == {"previous_response_id": "resp_1"}
    assert "params" not in body
