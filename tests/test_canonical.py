"""canonicalize_request(): the same conversation gives the same canonical request.

The bodies in tests/data/canonical are the captured wire samples: the greeting and the
weather-tool conversations, sent by each provider's SDK.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptecho import _canonical
from promptecho._canonical import (
    canonicalize,
    canonicalize_request,
    register_normalizer,
)
from promptecho._dialects._schema import Embedding, Request, Speech
from promptecho._match import select

DATA = Path(__file__).parent / "data" / "canonical"
URLS = {
    "anthropic": "https://api.anthropic.com/v1/messages",
    "cohere": "https://api.cohere.com/v2/chat",
    "gemini": "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent",
    "groq": "https://api.groq.com/openai/v1/chat/completions",
    "mistral": "https://api.mistral.ai/v1/chat/completions",
    "ollama": "http://localhost:11434/api/chat",
    "openai-audio": "https://api.openai.com/v1/audio/speech",
    "openai-chat": "https://api.openai.com/v1/chat/completions",
    "openai-embeddings": "https://api.openai.com/v1/embeddings",
    "openai-responses": "https://api.openai.com/v1/responses",
}
SAMPLES = sorted(
    p.relative_to(DATA).as_posix()[: -len(".request.json")] for p in DATA.glob("*/*.json")
)


BEDROCK = (
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-6-v1%3A0"
)
BEDROCK_ENDPOINTS = (
    "count-tokens",
    "converse-stream",
    "converse",
    "invoke-with-response-stream",
    "invoke",
)


def url_of(sample: str) -> str:
    folder, name = sample.split("/")
    if folder == "bedrock":  # a sample's name starts with its endpoint
        return f"{BEDROCK}/{next(e for e in BEDROCK_ENDPOINTS if name.startswith(e))}"
    if name.startswith("openai-compat"):
        return "http://localhost:11434/v1/chat/completions"
    if folder == "gemini" and name == "stream":
        return URLS["gemini"].replace(":generateContent", ":streamGenerateContent?alt=sse")
    return URLS[folder]


def load(sample: str) -> _canonical.Canonical:
    raw = (DATA / f"{sample}.request.json").read_bytes()
    return canonicalize_request(url_of(sample), raw, "application/json")


def without(body: dict[str, Any], kinds: set[str]) -> list[dict[str, Any]]:
    """The messages with the parts of the given kinds removed (and emptied turns dropped)."""
    out = []
    for message in body["messages"]:
        parts = [p for p in message.get("content", []) if p["kind"] not in kinds]
        if parts:
            out.append({**message, "content": parts})
    return out


GREETING = [
    "anthropic/text",
    "anthropic/text-stream",
    "anthropic/error-mid-stream",
    "openai-chat/text",
    "openai-chat/text-stream",
    "openai-chat/developer-reasoning",
    "openai-responses/string-input",
    "openai-responses/stream",
    "gemini/generate",
    "gemini/stream",
    "cohere/chat",
    "cohere/chat-stream",
    "mistral/chat",
    "groq/chat",
    "ollama/chat",
    "ollama/openai-compat",
    "bedrock/converse",
    "bedrock/converse-stream",
    "bedrock/invoke",
    "bedrock/invoke-with-response-stream",
    "bedrock/count-tokens-converse",
    "bedrock/count-tokens-invoke",
]
WEATHER = [
    "anthropic/tool-use",
    "anthropic/tool-use-stream",
    "openai-chat/tools-stream",
    "openai-responses/function-call-stream",
    "openai-responses/items-tools-reasoning",
    "gemini/tools-thinking",
    "cohere/tools-stream",
    "mistral/tools-stream",
    "ollama/tools-stream",
    "bedrock/converse-tools",
    "gemini/tools-object",
]
FOLLOW_UP = [
    "anthropic/tool-result",
    "openai-chat/tool-result",
    "openai-responses/function-call-output",
    "gemini/function-response",
    "bedrock/converse-tool-result",
]


@pytest.mark.parametrize("sample", GREETING, ids=GREETING)
def test_greeting_has_one_canonical_system_and_messages_in_every_dialect(sample):
    reference = load("anthropic/text").body
    body = load(sample).body
    assert body["system"] == reference["system"] == "You are a concise assistant. Answer in French."
    assert body["messages"] == reference["messages"]
    assert body["params"]["max_tokens"] == 1024


@pytest.mark.parametrize("sample", WEATHER, ids=WEATHER)
def test_weather_question_has_one_canonical_messages_tools_and_tool_choice(sample):
    reference = load("openai-chat/tools-stream").body
    body = load(sample).body
    assert body["messages"] == reference["messages"]
    assert body["tools"] == reference["tools"]
    assert body["tool_choice"] == {"mode": "auto"}


@pytest.mark.parametrize("sample", FOLLOW_UP, ids=FOLLOW_UP)
def test_tool_calls_and_results_are_equal_whatever_ids_and_argument_text(sample):
    # The samples differ in the assistant's words (text, thought summary, nothing); the
    # calls, their parsed arguments and the results that answer them are the same.
    assert load(sample).body["messages"][0] == load("openai-chat/tool-result").body["messages"][0]
    assert without(load(sample).body, {"text", "thinking"}) == [
        {
            "role": "assistant",
            "content": [
                {
                    "kind": "tool_call",
                    "name": "get_weather",
                    "id": "call_0",
                    "arguments": {"city": "Paris"},
                },
                {
                    "kind": "tool_call",
                    "name": "get_weather",
                    "id": "call_1",
                    "arguments": {"city": "Tokyo"},
                },
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "kind": "tool_result",
                    "id": "call_0",
                    "content": [
                        {"kind": "json", "value": {"temp_c": 14, "conditions": "partly cloudy"}}
                    ],
                },
                {
                    "kind": "tool_result",
                    "id": "call_1",
                    "content": [{"kind": "json", "value": {"temp_c": 19, "conditions": "clear"}}],
                },
            ],
        },
    ]


def test_one_png_is_one_canonical_image_in_anthropic_openai_and_gemini():
    png = {
        "kind": "image",
        "media_type": "image/png",
        "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
    }
    assert load("anthropic/image-input").body["messages"][0]["content"][0] == png
    assert load("openai-chat/image-url").body["messages"][0]["content"][1] == png
    assert load("gemini/image-input").body["messages"][0]["content"][0] == png


def test_canonical_request_reads_as_documented():
    assert load("openai-chat/developer-reasoning") == _canonical.Canonical(
        api="openai-chat",
        stream=False,
        body={
            "model": "gpt-5.1",
            "system": "You are a concise assistant. Answer in French.",
            "messages": [{"role": "user", "content": [{"kind": "text", "text": "Say hello."}]}],
            "reasoning_effort": "low",
            "params": {"max_tokens": 1024},
        },
    )


@pytest.mark.parametrize(
    ("sample", "api", "stream"),
    [
        ("anthropic/text", "anthropic", False),
        ("anthropic/text-stream", "anthropic", True),
        ("openai-chat/text-stream", "openai-chat", True),
        ("openai-responses/stream", "openai-responses", True),
        ("gemini/generate", "gemini", False),
        ("gemini/stream", "gemini", True),
        ("cohere/chat", "cohere", False),
        ("mistral/chat", "openai-chat", False),
        ("groq/chat-stream", "openai-chat", True),
        ("ollama/chat", "ollama-chat", False),
        ("ollama/chat-stream", "ollama-chat", True),
        ("ollama/openai-compat", "openai-chat", False),
        ("openai-embeddings/default-base64", "embeddings", False),
        ("openai-audio/speech", "speech", False),
        ("bedrock/converse", "bedrock-converse", False),
        ("bedrock/converse-stream", "bedrock-converse", True),
        ("bedrock/invoke", "anthropic", False),
        ("bedrock/invoke-with-response-stream", "anthropic", True),
        ("bedrock/count-tokens-converse", "bedrock-converse", False),
        ("bedrock/count-tokens-invoke", "anthropic", False),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_api_and_stream_flag_of_each_sample(sample, api, stream):
    canonical = load(sample)
    assert (canonical.api, canonical.stream) == (api, stream)


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLES)
def test_canonical_body_follows_the_schema_structs(sample):
    canonical = load(sample)
    schema = {"embeddings": Embedding, "speech": Speech}.get(canonical.api, Request)
    typed = msgspec.convert(canonical.body, schema)
    assert msgspec.to_builtins(typed) == canonical.body


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLES)
def test_key_order_and_whitespace_never_change_the_canonical_request(sample):
    raw = json.loads((DATA / f"{sample}.request.json").read_bytes())
    reordered = json.dumps(_reverse_keys(raw), indent=3, ensure_ascii=True).encode()
    again = canonicalize_request(url_of(sample), reordered, "application/json; charset=utf-8")
    assert again == load(sample)


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLES)
def test_canonicalize_is_the_body_of_canonicalize_request(sample):
    raw = json.loads((DATA / f"{sample}.request.json").read_bytes())
    assert canonicalize(url_of(sample), raw) == load(sample).body


def test_canonicalize_rejects_a_body_that_is_not_an_object():
    with pytest.raises(ValueError, match="got list"):
        canonicalize("https://api.openai.com/v1/chat/completions", [1])


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLES)
def test_a_canonical_body_keeps_its_key_through_the_cassette_round_trip(sample):
    # The recorder stores the canonical body as JSON and selects from the stored copy later.
    canonical = load(sample)
    stored = msgspec.json.decode(msgspec.json.encode(canonical.body))
    assert stored == canonical.body
    assert _key(_canonical.Canonical(canonical.api, canonical.stream, stored)) == _key(canonical)


# Volatile fields and reasoning knobs


VOLATILE_EDITS = {
    "chat-user": ("openai-chat/developer-reasoning", lambda b: b.update(user="someone-else")),
    "chat-metadata": (
        "openai-chat/developer-reasoning",
        lambda b: b.update(metadata={"run": "ci-9"}),
    ),
    "chat-store": ("openai-chat/developer-reasoning", lambda b: b.update(store=True)),
    "chat-stream-options": (
        "openai-chat/text-stream",
        lambda b: b.update(stream_options={"include_usage": False, "include_obfuscation": False}),
    ),
    "chat-safety-identifier": ("openai-chat/text", lambda b: b.update(safety_identifier="u-1")),
    "chat-prompt-cache-key": ("openai-chat/text", lambda b: b.update(prompt_cache_key="k-2")),
    "chat-service-tier": ("openai-chat/text", lambda b: b.update(service_tier="flex")),
    "chat-tool-call-ids": (
        "openai-chat/tool-result",
        lambda b: _replace_text(b, "call_OQAPsu6DLsfSm0YVYbYOY9hW", "call_new"),
    ),
    "anthropic-metadata": ("anthropic/text", lambda b: b.update(metadata={"user_id": "other"})),
    "anthropic-cache-control": (
        "anthropic/text-stream",
        lambda b: b["system"][0].update(cache_control={"type": "ephemeral", "ttl": "1h"}),
    ),
    "anthropic-tool-use-ids": (
        "anthropic/tool-result",
        lambda b: _replace_text(b, "toolu_01rGEgb6Pam3UcsAgF4OeolL", "toolu_other"),
    ),
    "anthropic-thinking-signature": (
        "anthropic/text",
        lambda b: b["messages"].extend(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "t", "signature": "SIG-B"}],
                },
                {"role": "user", "content": "go on"},
            ]
        ),
    ),
    "gemini-thought-signature": (
        "gemini/function-response",
        lambda b: b["contents"][1]["parts"][1].update(thoughtSignature="AAAA"),
    ),
    "responses-reasoning-id-and-encrypted-content": (
        "openai-responses/function-call-output",
        lambda b: b["input"][1].update(id="rs_other", encrypted_content="gAAAAB-other"),
    ),
    "responses-call-ids": (
        "openai-responses/function-call-output",
        lambda b: _replace_text(b, "call_O0cYQmCGfw60RdRlfMvQNugu", "call_x"),
    ),
    "responses-include": ("openai-responses/items-tools-reasoning", lambda b: b.pop("include")),
    "temperature": ("openai-chat/text", lambda b: b.update(temperature=0.9)),
}


@pytest.mark.parametrize("edit", list(VOLATILE_EDITS), ids=list(VOLATILE_EDITS))
def test_volatile_fields_never_change_the_default_selection(edit):
    sample, change = VOLATILE_EDITS[edit]
    before = load(sample)
    if edit == "anthropic-thinking-signature":  # needs a thinking block on both sides
        base = json.loads((DATA / f"{sample}.request.json").read_bytes())
        change(base)
        before = canonicalize_request(url_of(sample), json.dumps(base).encode(), None)
        base["messages"][1]["content"][0]["signature"] = "SIG-A"
        after = canonicalize_request(url_of(sample), json.dumps(base).encode(), None)
    else:
        after = _edited(sample, change)
    assert select(after.body, after.api, None) == select(before.body, before.api, None)


KNOB_EDITS = {
    "chat-reasoning-effort": (
        "openai-chat/developer-reasoning",
        lambda b: b.update(reasoning_effort="high"),
        "reasoning_effort",
    ),
    "responses-reasoning-effort": (
        "openai-responses/stream",
        lambda b: b["reasoning"].update(effort="high"),
        "reasoning",
    ),
    "anthropic-thinking-budget": (
        "anthropic/thinking",
        lambda b: b["thinking"].update(budget_tokens=4096),
        "thinking",
    ),
    "anthropic-effort": (
        "anthropic/thinking",
        lambda b: b.update(output_config={"effort": "low"}),
        "thinking",
    ),
    "gemini-thinking-budget": (
        "gemini/generate",
        lambda b: b["generationConfig"]["thinkingConfig"].update(thinking_budget=512),
        "thinking",
    ),
    "openrouter-reasoning": (
        "openai-chat/text",
        lambda b: b.update(reasoning={"effort": "high"}),
        "reasoning",
    ),
    "ollama-think": ("ollama/chat", lambda b: b.update(think=True), "thinking"),
}


@pytest.mark.parametrize("edit", list(KNOB_EDITS), ids=list(KNOB_EDITS))
def test_each_reasoning_knob_changes_the_default_selection(edit):
    sample, change, name = KNOB_EDITS[edit]
    before, after = load(sample), _edited(sample, change)
    assert select(after.body, after.api, None) != select(before.body, before.api, None)
    assert select(after.body, after.api, [name]) != select(before.body, before.api, [name])


# Properties (hypothesis)

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
names = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
tools = st.lists(
    st.builds(
        lambda name, text: {
            "type": "function",
            "function": {
                "name": name,
                "description": text,
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        },
        names,
        texts,
    ),
    max_size=4,
    unique_by=lambda t: t["function"]["name"],
)
turns = st.lists(
    st.tuples(st.sampled_from(["user", "assistant", "system"]), texts), min_size=1, max_size=6
)


def chat_body(turn_list, tool_list, temperature):
    body: dict[str, Any] = {
        "model": "gpt-4.1-mini",
        "messages": [{"role": role, "content": text} for role, text in turn_list],
        "temperature": temperature,
    }
    if tool_list:
        body["tools"] = tool_list
    return body


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(turns, tools, st.floats(0, 2), st.randoms(use_true_random=False))
def test_key_order_whitespace_tool_order_and_string_content_never_change_the_key(
    turn_list, tool_list, temperature, rnd
):
    body = chat_body(turn_list, tool_list, temperature)
    variant = _shuffle_keys(copy.deepcopy(body), rnd)
    rnd.shuffle(variant.get("tools", []))
    for message in variant["messages"]:
        if message["role"] != "system" and rnd.random() < 0.5:
            message["content"] = [{"type": "text", "text": message["content"]}]
    raw = json.dumps(body).encode()
    other = json.dumps(
        variant, indent=rnd.choice([None, 1, 4]), ensure_ascii=rnd.random() < 0.5
    ).encode()
    url = URLS["openai-chat"]
    first = canonicalize_request(url, raw, "application/json")
    second = canonicalize_request(url, other, "application/json")
    assert first == second
    assert _key(first) == _key(second)


@settings(max_examples=40)
@given(turns, st.randoms(use_true_random=False))
def test_anthropic_string_content_equals_one_text_block(turn_list, rnd):
    messages = [
        {"role": "user" if role == "system" else role, "content": text} for role, text in turn_list
    ]
    blocks = [
        {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages
    ]
    url = URLS["anthropic"]
    plain = canonicalize(url, {"model": "c", "max_tokens": 5, "messages": messages})
    typed = canonicalize(
        url, _shuffle_keys({"model": "c", "max_tokens": 5, "messages": blocks}, rnd)
    )
    assert plain == typed


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "model",
                    "messages",
                    "role",
                    "content",
                    "type",
                    "text",
                    "tools",
                    "function",
                    "name",
                    "parameters",
                    "tool_calls",
                    "arguments",
                    "input",
                    "contents",
                    "parts",
                    "system",
                    "tool_choice",
                    "stream",
                    "options",
                    "prompt",
                    "instructions",
                    "voice",
                    "source",
                    "functionCall",
                    "inlineData",
                    "data",
                    "thinking",
                    "generationConfig",
                    "x",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
ALL_URLS = [
    *URLS.values(),
    "https://generativelanguage.googleapis.com/v1beta/models/m:embedContent",
    "http://localhost:11434/api/generate",
    "https://example.com/unknown",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.sampled_from(ALL_URLS))
def test_canonicalize_request_never_fails_on_arbitrary_json(value, url):
    canonical = canonicalize_request(url, json.dumps(value).encode(), "application/json")
    assert canonical.api != "bytes"
    _key(canonical)  # what the recorder does next must not fail either


@settings(max_examples=100)
@given(
    st.binary(max_size=64),
    st.sampled_from(ALL_URLS),
    st.sampled_from([None, "application/json", "audio/mpeg"]),
)
def test_canonicalize_request_never_fails_on_arbitrary_bytes(raw, url, content_type):
    canonical = canonicalize_request(url, raw, content_type)
    _key(canonical)


@pytest.mark.parametrize(
    ("body", "content_type", "api", "canonical"),
    [
        (b"", None, "empty", None),
        (b"[1, 2]", "application/json", "json", [1, 2]),
        (b'{"a": 1}', None, "json", {"a": 1}),
        (
            b"\xff\x00",
            None,
            "bytes",
            {"sha256": hashlib.sha256(b"\xff\x00").hexdigest(), "size": 2},
        ),
        (
            b'{"a": 1}',
            "audio/mpeg",
            "bytes",
            {"sha256": hashlib.sha256(b'{"a": 1}').hexdigest(), "size": 8},
        ),
        (b"[" * 5000 + b"]" * 5000, None, "bytes", None),
    ],
    ids=["empty", "json-array", "unknown-object", "binary", "non-json-content-type", "too-deep"],
)
def test_bodies_no_dialect_knows_fall_back(body, content_type, api, canonical):
    result = canonicalize_request("https://example.com/x", body, content_type)
    assert (result.api, result.stream) == (api, False)
    if canonical is not None or api == "empty":
        assert result.body == canonical


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": 5},
        {"model": "m", "messages": [{"role": 3, "content": "x"}]},
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}],
        },
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": None}]}]},
    ],
    ids=[
        "messages-not-a-list",
        "role-not-a-string",
        "image-url-not-an-object",
        "tool-call-without-function",
    ],
)
def test_a_known_shape_with_wrong_types_is_matched_as_plain_json(body):
    result = canonicalize_request(URLS["openai-chat"], json.dumps(body).encode(), None)
    assert (result.api, result.body) == ("json", body)


def test_multipart_uploads_hash_equal_whatever_their_random_boundary():
    def upload(boundary: str) -> _canonical.Canonical:
        raw = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            f"RIFF....\r\n--{boundary}--\r\n"
        ).encode()
        return canonicalize_request(
            "https://api.openai.com/v1/audio/transcriptions",
            raw,
            f"multipart/form-data; boundary={boundary}",
        )

    first, second = upload("a1b2c3"), upload("zz9yy8")
    assert first.api == "bytes"
    assert first.body == second.body


# Detection


@pytest.mark.parametrize(
    ("url", "body", "api"),
    [
        (
            "https://api.groq.com/openai/v1/chat/completions",
            {"model": "m", "messages": []},
            "openai-chat",
        ),
        (
            "http://localhost:4000/v1/chat/completions",
            {"model": "m", "messages": []},
            "openai-chat",
        ),
        (
            "http://localhost:8080/anthropic/v1/messages",
            {"model": "m", "messages": []},
            "anthropic",
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-6/invoke",
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []},
            "anthropic",
        ),
        (
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/anthropic/models/claude-sonnet-4-6:rawPredict",
            {"anthropic_version": "vertex-2023-10-16", "max_tokens": 5, "messages": []},
            "anthropic",
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent",
            {"contents": []},
            "gemini",
        ),
        ("https://api.cohere.com/v2/chat", {"model": "m", "messages": []}, "cohere"),
        (
            "https://api.cohere.com/compatibility/v1/chat/completions",
            {"model": "m", "messages": []},
            "openai-chat",
        ),
        ("https://api.cohere.com/v2/embed", {"model": "m", "texts": ["a"]}, "embeddings"),
        ("http://localhost:11434/api/generate", {"model": "m", "prompt": "p"}, "ollama-generate"),
        ("http://localhost:11434/api/embed", {"model": "m", "input": "p"}, "embeddings"),
        ("https://api.mistral.ai/v1/embeddings", {"model": "m", "input": ["p"]}, "embeddings"),
        ("https://gateway.local/llm", {"model": "m", "system": "s", "messages": []}, "anthropic"),
        ("https://gateway.local/llm", {"model": "m", "messages": []}, "openai-chat"),
        ("https://gateway.local/llm", {"model": "m", "input": "hi"}, "openai-responses"),
        ("https://gateway.local/llm", {"contents": []}, "gemini"),
        ("https://gateway.local/llm", {"model": "m", "input": "hi", "voice": "alloy"}, "speech"),
        ("https://gateway.local/llm", {"query": "hi"}, "json"),
    ],
    ids=[
        "groq",
        "litellm-proxy",
        "anthropic-proxy",
        "bedrock",
        "vertex-anthropic",
        "vertex-gemini",
        "cohere",
        "cohere-compat",
        "cohere-embed",
        "ollama-generate",
        "ollama-embed",
        "mistral-embeddings",
        "shape-anthropic",
        "shape-chat",
        "shape-responses",
        "shape-gemini",
        "shape-speech",
        "shape-unknown",
    ],
)
def test_dialect_is_found_by_host_path_then_body_shape(url, body, api):
    assert canonicalize_request(url, json.dumps(body).encode(), "application/json").api == api


# Registered normalizers


@pytest.fixture
def no_custom_normalizers(monkeypatch):
    monkeypatch.setattr(_canonical, "_CUSTOM", [])


@pytest.mark.usefixtures("no_custom_normalizers")
def test_a_registered_normalizer_comes_before_the_built_in_ones():
    def normalize(url, body):
        return {"model": body["engine"], "messages": [{"role": "user", "content": body["query"]}]}

    register_normalizer(lambda url, body: "/gateway/" in url, normalize, api="acme")
    raw = json.dumps({"engine": "e1", "query": "hi", "messages": [], "request_id": "r-1"}).encode()
    result = canonicalize_request("https://x.test/gateway/chat/completions", raw, None)
    assert result == _canonical.Canonical(
        api="acme",
        stream=False,
        body={"model": "e1", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert select(result.body, result.api, None) == result.body


@pytest.mark.usefixtures("no_custom_normalizers")
def test_a_failing_registered_normalizer_raises_value_error_naming_it():
    def broken(url, body):
        raise KeyError("engine")

    register_normalizer(lambda url, body: True, broken, api="acme")
    with pytest.raises(ValueError, match=r"registered normalizer .*broken for api 'acme' failed"):
        canonicalize_request("https://x.test/", b"{}", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [((None, None), "two callables"), ((bool, dict), "non-empty string")],
    ids=["not-callables", "empty-api"],
)
@pytest.mark.usefixtures("no_custom_normalizers")
def test_register_normalizer_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        register_normalizer(*args, api="" if message == "non-empty string" else "x")


# Helpers


def _key(canonical: _canonical.Canonical) -> bytes:
    selected = select(canonical.body, canonical.api, None)
    return hashlib.sha256(msgspec.json.encode(selected, order="sorted")).digest()


def _edited(sample: str, change) -> _canonical.Canonical:
    body = json.loads((DATA / f"{sample}.request.json").read_bytes())
    result = change(body)
    if isinstance(result, dict) and "model" in result:
        body = result
    return canonicalize_request(url_of(sample), json.dumps(body).encode(), "application/json")


def _replace_text(body: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    replaced = json.loads(json.dumps(body).replace(old, new))
    body.clear()
    body.update(replaced)
    return body


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _shuffle_keys(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {k: _shuffle_keys(value[k], rnd) for k in keys}
    if isinstance(value, list):
        return [_shuffle_keys(v, rnd) for v in value]
    return value
