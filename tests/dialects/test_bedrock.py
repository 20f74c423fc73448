"""Bedrock: Converse is its own API family with Anthropic's canonical form, invoke is Anthropic, count-tokens is what it wraps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptecho._canonical import canonicalize, canonicalize_request
from tests.test_canonical import BEDROCK, load

CONVERSE = f"{BEDROCK}/converse"
CANONICAL = Path(__file__).parent.parent / "data" / "canonical"


def request(url: str, body: dict) -> object:
    return canonicalize_request(url, json.dumps(body).encode(), "application/json")


@pytest.mark.parametrize(
    ("converse", "anthropic"),
    [
        ("bedrock/converse", "anthropic/text"),
        ("bedrock/converse-tools", "anthropic/tool-use"),
        ("bedrock/converse-tool-result", "anthropic/tool-result"),
    ],
)
def test_a_converse_conversation_canonicalises_as_the_same_anthropic_one(converse, anthropic):
    body = load(converse).body
    reference = load(anthropic).body
    for field in ("system", "messages", "tools", "tool_choice", "params"):
        assert body.get(field) == reference.get(field), field


def test_converse_model_comes_url_decoded_from_the_url_and_the_stream_from_the_endpoint():
    streamed = load("bedrock/converse-stream")
    assert (streamed.api, streamed.stream) == ("bedrock-converse", True)
    assert streamed.body["model"] == "us.anthropic.claude-sonnet-4-6-v1:0"
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"
    body = canonicalize(
        f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{arn.replace(':', '%3A').replace('/', '%2F')}/converse",
        {"messages": []},
    )
    assert body["model"] == arn


def test_converse_claude_thinking_is_the_thinking_knob_and_other_model_fields_are_params():
    body = load("bedrock/converse-tool-result").body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "anthropic_beta" not in body["params"]
    body = canonicalize(
        CONVERSE,
        {
            "messages": [],
            "inferenceConfig": {"temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
            "additionalModelRequestFields": {"top_k": 40},
            "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
            "requestMetadata": {"tenant": "t-1"},
        },
    )
    assert body["params"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "top_k": 40,
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
    }


@pytest.mark.parametrize(
    ("choice", "canonical"),
    [
        ({"auto": {}}, {"mode": "auto"}),
        ({"any": {}}, {"mode": "required"}),
        ({"tool": {"name": "f"}}, {"mode": "required", "names": ["f"]}),
    ],
    ids=["auto", "any", "tool"],
)
def test_converse_tool_choice_takes_the_shared_modes(choice, canonical):
    body = canonicalize(
        CONVERSE,
        {
            "messages": [],
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}],
                "toolChoice": choice,
            },
        },
    )
    assert body["tools"] == [{"name": "f", "parameters": {"type": "object"}}]
    assert body["tool_choice"] == canonical


def test_converse_images_documents_reasoning_and_error_results():
    body = canonicalize(
        CONVERSE,
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                        {
                            "document": {
                                "format": "pdf",
                                "name": "spec",
                                "source": {"bytes": "JVBERi0="},
                            }
                        },
                        {"document": {"format": "txt", "name": "n", "source": {"text": "hi"}}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {
                            "reasoningContent": {
                                "reasoningText": {"text": "Hmm.", "signature": "s1"}
                            }
                        },
                        {"reasoningContent": {"redactedContent": "b3BhcXVl"}},
                        {"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "t1",
                                "content": [{"text": "boom"}],
                                "status": "error",
                            }
                        }
                    ],
                },
            ]
        },
    )
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"kind": "image", "media_type": "image/png", "data": "iVBORw0KGgo="},
                {
                    "kind": "document",
                    "media_type": "application/pdf",
                    "data": "JVBERi0=",
                    "name": "spec",
                },
                {"kind": "document", "media_type": "text/plain", "name": "n", "text": "hi"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"kind": "thinking", "text": "Hmm."},
                {"kind": "thinking", "redacted": True},
                {"kind": "tool_call", "name": "f", "id": "call_0", "arguments": {}},
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "kind": "tool_result",
                    "id": "call_0",
                    "content": [{"kind": "text", "text": "boom"}],
                    "is_error": True,
                }
            ],
        },
    ]


def test_converse_output_config_is_the_output_format_and_prompt_variables_the_state():
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    body = canonicalize(
        CONVERSE,
        {
            "messages": [],
            "outputConfig": {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "person"}},
                }
            },
            "promptVariables": {"city": {"text": "Paris"}},
        },
    )
    assert body["output_format"] == {"type": "json_schema", "name": "person", "schema": schema}
    assert body["state"] == {"prompt_variables": {"city": {"text": "Paris"}}}


def test_invoke_with_an_anthropic_body_is_anthropic_with_the_model_from_the_url():
    for sample, stream in (
        ("bedrock/invoke", False),
        ("bedrock/invoke-with-response-stream", True),
    ):
        canonical = load(sample)
        assert (canonical.api, canonical.stream) == ("anthropic", stream)
        assert canonical.body["model"] == "us.anthropic.claude-sonnet-4-6-v1:0"
        assert canonical.body["messages"] == load("anthropic/text").body["messages"]


@pytest.mark.parametrize(
    ("wrapper", "wrapped"),
    [
        ("bedrock/count-tokens-converse", "bedrock/converse"),
        ("bedrock/count-tokens-invoke", "bedrock/invoke"),
    ],
)
def test_count_tokens_is_parsed_as_the_body_it_wraps(wrapper, wrapped):
    canonical, inner = load(wrapper), load(wrapped)
    assert (canonical.api, canonical.stream, canonical.unparsed) == (inner.api, False, None)
    assert canonical.body["messages"] == inner.body["messages"]
    assert canonical.body["system"] == inner.body["system"]


@pytest.mark.parametrize(
    ("url", "body", "unparsed"),
    [
        (
            CONVERSE,
            {"messages": [], "system": [{"guardContent": {"text": {"text": "x"}}}]},
            "not parsed as bedrock-converse: system[]: a guardContent block is not text",
        ),
        (
            f"{BEDROCK}/count-tokens",
            {"input": {"somethingElse": {}}},
            "not parsed as bedrock-count-tokens: input: expected converse or invokeModel",
        ),
        (
            f"{BEDROCK}/converse",
            {"system": []},
            "not parsed as bedrock-converse: no 'messages' field",
        ),
    ],
    ids=["system-guard", "count-tokens-unknown", "no-messages"],
)
def test_a_body_a_bedrock_endpoint_rejects_is_plain_json_with_the_reason(url, body, unparsed):
    canonical = request(url, body)
    assert (canonical.api, canonical.body, canonical.unparsed) == ("json", body, unparsed)


def test_a_converse_body_at_an_unknown_url_is_known_by_its_config_blocks():
    raw = (CANONICAL / "bedrock" / "converse.request.json").read_bytes()
    canonical = canonicalize_request("http://localhost:4000/proxy", raw, "application/json")
    assert canonical.api == "bedrock-converse"
    assert canonical.body["messages"] == load("anthropic/text").body["messages"]


def test_converse_s3_sources_document_blocks_system_tools_and_image_results():
    body = canonicalize(
        CONVERSE,
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "image": {
                                "format": "jpeg",
                                "source": {"s3Location": {"uri": "s3://b/cat.jpg"}},
                            }
                        },
                        {
                            "document": {
                                "format": "md",
                                "name": "notes",
                                "source": {"content": [{"text": "a"}, {"text": "b"}]},
                            }
                        },
                        {
                            "video": {
                                "format": "mp4",
                                "source": {"s3Location": {"uri": "s3://b/v.mp4"}},
                            }
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t", "name": "snap", "input": "{}"}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "t",
                                "content": [
                                    {"image": {"format": "png", "source": {"bytes": "iVBO"}}}
                                ],
                            }
                        }
                    ],
                },
            ],
            "toolConfig": {"tools": [{"systemTool": {"name": "nova_grounding"}}]},
        },
    )
    assert body["messages"][0]["content"] == [
        {"kind": "image", "media_type": "image/jpeg", "url": "s3://b/cat.jpg"},
        {"kind": "document", "media_type": "text/markdown", "name": "notes", "text": "a\nb"},
        {
            "kind": "other",
            "type": "video",
            "value": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}},
        },
    ]
    assert body["messages"][1]["content"] == [
        {"kind": "tool_call", "name": "snap", "id": "call_0", "arguments": {}}
    ]
    assert body["messages"][2]["content"][0]["content"] == [
        {"kind": "image", "media_type": "image/png", "data": "iVBO"}
    ]
    assert body["tools"] == [{"name": "nova_grounding", "type": "systemTool"}]
    assert body["tool_choice"] == {"mode": "auto"}
