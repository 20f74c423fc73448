"""output_format and state: every provider's structured-output knob and server-held input, one canonical field each."""

from __future__ import annotations

import json

import msgspec
import pytest

from promptecho._canonical import canonicalize, canonicalize_request
from promptecho._dialects._schema import Request
from tests.test_canonical import load

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
GEMINI_SCHEMA = {
    "type": "OBJECT",
    "properties": {"name": {"type": "STRING"}, "age": {"type": "INTEGER"}},
    "required": ["name", "age"],
}
ASK = "Who was Ada Lovelace?"
OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
RESPONSES = "https://api.openai.com/v1/responses"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
ANTHROPIC = "https://api.anthropic.com/v1/messages"

# The same schema, named and strict, where the provider takes a name and a strict flag.
NAMED = {
    "openai-chat": (
        OPENAI_CHAT,
        {
            "model": "m",
            "messages": [{"role": "user", "content": ASK}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
            },
        },
    ),
    "openai-responses": (
        RESPONSES,
        {
            "model": "m",
            "input": ASK,
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "person",
                    "schema": SCHEMA,
                    "strict": True,
                }
            },
        },
    ),
    "mistral": (
        "https://api.mistral.ai/v1/chat/completions",
        {
            "model": "m",
            "messages": [{"role": "user", "content": ASK}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
            },
        },
    ),
}
# The same schema where the provider takes the schema alone.
UNNAMED = {
    "anthropic": (
        ANTHROPIC,
        {
            "model": "m",
            "max_tokens": 9,
            "messages": [{"role": "user", "content": ASK}],
            "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
        },
    ),
    "gemini-response-schema": (
        GEMINI,
        {
            "contents": [{"role": "user", "parts": [{"text": ASK}]}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": GEMINI_SCHEMA,
            },
        },
    ),
    "gemini-response-json-schema": (
        GEMINI,
        {
            "contents": [{"role": "user", "parts": [{"text": ASK}]}],
            "generation_config": {
                "response_mime_type": "application/json",
                "response_json_schema": SCHEMA,
            },
        },
    ),
    "cohere": (
        "https://api.cohere.com/v2/chat",
        {
            "model": "m",
            "messages": [{"role": "user", "content": ASK}],
            "response_format": {"type": "json_object", "json_schema": SCHEMA},
        },
    ),
    "ollama": (
        "http://localhost:11434/api/chat",
        {"model": "m", "messages": [{"role": "user", "content": ASK}], "format": SCHEMA},
    ),
    "bedrock-converse": (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
        {
            "messages": [{"role": "user", "content": [{"text": ASK}]}],
            "outputConfig": {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {"jsonSchema": {"schema": json.dumps(SCHEMA)}},
                }
            },
        },
    ),
}


@pytest.mark.parametrize("provider", NAMED, ids=list(NAMED))
def test_a_named_schema_is_one_output_format_in_every_api_that_names_it(provider):
    url, body = NAMED[provider]
    canonical = canonicalize(url, body)
    assert canonical["output_format"] == {
        "type": "json_schema",
        "name": "person",
        "schema": SCHEMA,
        "strict": True,
    }
    assert "params" not in canonical or not {"response_format", "text"} & set(canonical["params"])
    msgspec.convert(canonical, Request)


@pytest.mark.parametrize("provider", UNNAMED, ids=list(UNNAMED))
def test_a_schema_alone_is_one_output_format_in_every_api_that_takes_it(provider):
    url, body = UNNAMED[provider]
    canonical = canonicalize(url, body)
    assert canonical["output_format"] == {"type": "json_schema", "schema": SCHEMA}
    assert not {"response_format", "format", "output_config", "response_schema"} & set(
        canonical.get("params", {})
    )
    msgspec.convert(canonical, Request)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (OPENAI_CHAT, {"model": "m", "messages": [], "response_format": {"type": "json_object"}}),
        (RESPONSES, {"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}}),
        (GEMINI, {"contents": [], "generationConfig": {"responseMimeType": "application/json"}}),
        ("http://localhost:11434/api/generate", {"model": "m", "prompt": "x", "format": "json"}),
    ],
    ids=["chat-json-object", "responses-json-object", "gemini-json", "ollama-json"],
)
def test_any_json_is_the_json_output_format(url, body):
    assert canonicalize(url, body)["output_format"] == {"type": "json"}


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (OPENAI_CHAT, {"model": "m", "messages": [], "response_format": {"type": "text"}}),
        (RESPONSES, {"model": "m", "input": "x", "text": {"format": {"type": "text"}}}),
        (GEMINI, {"contents": [], "generationConfig": {"responseMimeType": "text/plain"}}),
        (OPENAI_CHAT, {"model": "m", "messages": []}),
    ],
    ids=["chat-text", "responses-text", "gemini-text-plain", "nothing-sent"],
)
def test_plain_text_output_leaves_the_output_format_out(url, body):
    assert "output_format" not in canonicalize(url, body)


def test_responses_verbosity_stays_a_param_beside_the_format():
    body = canonicalize(
        RESPONSES,
        {
            "model": "m",
            "input": "x",
            "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        },
    )
    assert body["params"] == {"text": {"verbosity": "low"}}


def test_gemini_enum_output_keeps_its_mime_type_and_schema():
    body = canonicalize(
        GEMINI,
        {
            "contents": [],
            "generationConfig": {
                "responseMimeType": "text/x.enum",
                "responseSchema": {"type": "STRING", "enum": ["a", "b"]},
            },
        },
    )
    assert body["output_format"] == {
        "type": "text/x.enum",
        "schema": {"type": "string", "enum": ["a", "b"]},
    }


def test_the_sdk_samples_of_one_pydantic_model_carry_its_fields_in_every_api():
    # Captured from each installed SDK's own structured-output helper (parse, response_schema,
    # format=...). The SDKs transform the schema differently (titles, additionalProperties,
    # Gemini's property_ordering), so the families that send the same bytes compare equal.
    samples = {
        name: load(f"{name}/structured-output").body["output_format"]
        for name in (
            "openai-chat",
            "openai-responses",
            "mistral",
            "anthropic",
            "gemini",
            "cohere",
            "ollama",
        )
    }
    for output_format in samples.values():
        assert output_format["type"] == "json_schema"
        assert output_format["schema"]["required"] == ["name", "age"]
        assert output_format["schema"]["properties"]["age"]["type"] == "integer"
    assert samples["openai-chat"] == samples["openai-responses"] == samples["mistral"]
    assert samples["openai-chat"]["name"] == "Person"
    assert samples["cohere"] == samples["ollama"]


def test_responses_server_state_is_the_state_field():
    body = canonicalize(
        RESPONSES,
        {
            "model": "m",
            "input": [
                {"type": "item_reference", "id": "msg_1"},
                {"role": "user", "content": "And then?"},
                {"type": "item_reference", "id": "rs_2"},
            ],
            "previous_response_id": "resp_1",
            "conversation": {"id": "conv_1"},
            "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
            "truncation": "auto",
        },
    )
    assert body["state"] == {
        "previous_response_id": "resp_1",
        "conversation": "conv_1",
        "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
        "item_references": ["msg_1", "rs_2"],
        "truncation": "auto",
    }
    assert "params" not in body
    msgspec.convert(body, Request)
    bare = canonicalize(
        RESPONSES, {"model": "m", "input": "x", "conversation": "conv_1", "truncation": "disabled"}
    )
    assert bare["state"] == {"conversation": "conv_1"}


@pytest.mark.parametrize(
    ("url", "body", "state"),
    [
        (
            GEMINI,
            {"contents": [], "cachedContent": "cachedContents/abc"},
            {"cached_content": "cachedContents/abc"},
        ),
        (
            GEMINI,
            {"contents": [], "cached_content": "cachedContents/abc"},
            {"cached_content": "cachedContents/abc"},
        ),
        (
            ANTHROPIC,
            {
                "model": "m",
                "max_tokens": 9,
                "messages": [],
                "container": "container_1",
                "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "ex"}],
                "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            },
            {
                "container": "container_1",
                "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "ex"}],
                "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            },
        ),
        (
            "https://api.cohere.com/v2/chat",
            {"model": "m", "messages": [], "documents": ["Paris is in France."]},
            {"documents": ["Paris is in France."]},
        ),
        (
            "http://localhost:11434/api/generate",
            {"model": "m", "prompt": "def f(", "suffix": "return 1", "context": [1, 2, 3]},
            {"suffix": "return 1", "context": [1, 2, 3]},
        ),
        (
            "https://api.mistral.ai/v1/agents/completions",
            {"agent_id": "ag_1", "messages": [{"role": "user", "content": "Hi"}]},
            {"agent_id": "ag_1"},
        ),
    ],
    ids=[
        "gemini-cached-content",
        "gemini-snake-case",
        "anthropic",
        "cohere-documents",
        "ollama-generate",
        "mistral-agent",
    ],
)
def test_server_held_input_of_each_api_is_the_state_field(url, body, state):
    canonical = canonicalize(url, body)
    assert canonical["state"] == state
    assert not set(state) & set(canonical.get("params", {}))
    msgspec.convert(canonical, Request)


def test_an_anthropic_system_message_of_non_text_blocks_is_a_system_turn():
    canonical = load("anthropic/system-message-blocks")
    assert canonical.api == "anthropic"
    assert canonical.body["messages"][0] == {
        "role": "system",
        "content": [
            {"kind": "text", "text": "You are a concise assistant. Answer in French."},
            {
                "kind": "document",
                "media_type": "text/plain",
                "name": "facts",
                "text": "Paris is in France.",
            },
        ],
    }
    text_only = canonicalize(
        ANTHROPIC,
        {
            "model": "m",
            "max_tokens": 9,
            "messages": [{"role": "system", "content": [{"type": "text", "text": "S"}]}],
        },
    )
    assert text_only["system"] == "S"


def test_gemini_tools_given_as_one_object_equal_tools_given_as_a_list():
    one = load("gemini/tools-object").body
    listed = load("gemini/tools-thinking").body
    assert one["tools"] == listed["tools"]
    assert one["tools"][0]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("url", "body", "unparsed"),
    [
        (
            ANTHROPIC,
            {"model": "m", "messages": "hi"},
            "not parsed as anthropic: messages: expected an array, got str",
        ),
        (OPENAI_CHAT, {"model": "m"}, "not parsed as openai-chat: no 'messages' field"),
        (
            GEMINI,
            {"contents": [{"parts": [{"text": 3}]}]},
            "not parsed as gemini: parts[].text: expected a string, got int",
        ),
    ],
    ids=["anthropic", "openai-chat", "gemini"],
)
def test_a_body_its_endpoint_names_but_rejects_is_kept_whole_with_the_reason(url, body, unparsed):
    canonical = canonicalize_request(url, json.dumps(body).encode(), "application/json")
    assert (canonical.api, canonical.body, canonical.unparsed) == ("json", body, unparsed)


def test_a_body_guessed_by_shape_alone_is_kept_whole_without_a_note():
    body = {"messages": "not a list", "system": "s"}  # looks like Anthropic, at no known endpoint
    canonical = canonicalize_request("http://localhost:9/x", json.dumps(body).encode(), None)
    assert (canonical.api, canonical.unparsed) == ("json", None)
