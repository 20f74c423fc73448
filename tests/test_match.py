"""select(), diff() and describe(): what decides a match and how a miss is explained."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from promptecho._canonical import canonicalize
from promptecho._errors import Difference
from promptecho._match import ABSENT, DEFAULT_MATCH_ON, MatchOn, describe, diff, select

CHAT = "https://api.openai.com/v1/chat/completions"
ANTHROPIC = "https://api.anthropic.com/v1/messages"
RESPONSES = "https://api.openai.com/v1/responses"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CHAT_BODY: dict[str, Any] = {
    "model": "gpt-4.1-mini",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "summarize the cat"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_A", "content": '{"temp_c": 14}'},
    ],
    "tools": [WEATHER_TOOL],
    "temperature": 0.2,
}


def edited(body: dict[str, Any], change) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    change(copied)
    return copied


def lines_for(
    url: str, recorded: dict[str, Any], incoming: dict[str, Any], api: str, match_on=None
):
    left = select(canonicalize(url, recorded), api, match_on)
    right = select(canonicalize(url, incoming), api, match_on)
    return describe(diff(left, right))


# Default match_on


@pytest.mark.parametrize(
    ("combined", "expected"),
    [
        (DEFAULT_MATCH_ON + ["temperature"], (*DEFAULT_MATCH_ON, "temperature")),
        (DEFAULT_MATCH_ON + ("seed", "top_p"), (*DEFAULT_MATCH_ON, "seed", "top_p")),
        (["temperature"] + DEFAULT_MATCH_ON, ("temperature", *DEFAULT_MATCH_ON)),
        (DEFAULT_MATCH_ON + (n for n in ["stop"]), (*DEFAULT_MATCH_ON, "stop")),
    ],
    ids=["plus-list", "plus-tuple", "list-plus", "plus-generator"],
)
def test_adding_names_to_default_match_on_gives_a_new_match_on(combined, expected):
    assert type(combined) is MatchOn
    assert tuple(combined) == expected
    assert len(DEFAULT_MATCH_ON) == 10


def test_default_match_on_cannot_be_changed_in_place():
    with pytest.raises(AttributeError):
        DEFAULT_MATCH_ON.append("temperature")  # type: ignore[attr-defined]
    extended = DEFAULT_MATCH_ON
    extended += ["temperature"]
    assert "temperature" not in DEFAULT_MATCH_ON


@pytest.mark.parametrize(
    "bad",
    [
        lambda: DEFAULT_MATCH_ON + "temperature",
        lambda: DEFAULT_MATCH_ON + [3],
        lambda: MatchOn(["model", ""]),
        lambda: MatchOn(["mesages"]),
        lambda: MatchOn(["messages.0.content"]),
        lambda: MatchOn(["messages[0]..content"]),
        lambda: MatchOn(["messages[0"]),
        lambda: MatchOn(["[0]"]),
    ],
    ids=[
        "a-bare-string",
        "a-number",
        "an-empty-name",
        "an-unknown-field",
        "a-dotted-index",
        "two-dots",
        "an-unclosed-bracket",
        "no-field-first",
    ],
)
def test_bad_match_on_names_raise_value_error(bad):
    with pytest.raises(ValueError, match="match_on"):
        bad()


# select


@pytest.mark.parametrize(
    ("api", "body", "match_on", "expected"),
    [
        (
            "openai-chat",
            {"model": "m", "messages": [], "params": {"temperature": 0.2}},
            None,
            {"model": "m", "messages": []},
        ),
        (
            "openai-chat",
            {"model": "m", "params": {"temperature": 0.2, "max_tokens": 5}},
            ["model", "temperature", "params.max_tokens"],
            {"model": "m", "temperature": 0.2, "params.max_tokens": 5},
        ),
        (
            "openai-responses",
            {"model": "m", "reasoning": {"effort": "low", "summary": "auto"}},
            ["reasoning.effort"],
            {"reasoning.effort": "low"},
        ),
        (
            "openai-chat",
            {"params": {"response_format": {"type": "json_object"}}},
            ["response_format.type"],
            {"response_format.type": "json_object"},
        ),
        (
            "anthropic",
            {"messages": [{"role": "user", "content": [{"kind": "text", "text": "hi"}]}]},
            ["messages[0].content[0].text", "messages[5]", "model"],
            {"messages[0].content[0].text": "hi"},
        ),
        (
            "embeddings",
            {
                "model": "e",
                "input": ["a"],
                "dimensions": 8,
                "encoding_format": "float",
                "params": {"user": 1},
            },
            None,
            {"input": ["a"], "model": "e", "dimensions": 8, "encoding_format": "float"},
        ),
        (
            "speech",
            {
                "model": "t",
                "input": "hi",
                "voice": "alloy",
                "response_format": "mp3",
                "params": {"x": 1},
            },
            None,
            {"model": "t", "input": "hi", "voice": "alloy", "response_format": "mp3"},
        ),
        ("json", {"query": "hi", "n": 1}, None, {"query": "hi", "n": 1}),
        ("json", {"query": "hi", "n": 1}, ["body.query"], {"body.query": "hi"}),
        (
            "anthropic",
            {
                "messages": [
                    {"role": "user", "content": [{"kind": "text", "text": "a"}]},
                    {"role": "user", "content": [{"kind": "text", "text": "b"}]},
                ]
            },
            ["messages[*].content[0].text"],
            {"messages[*].content[0].text": ["a", "b"]},
        ),
        (
            "openai-chat",
            {"params": {"metadata": {"x-y z": 1}}},
            ['params.metadata["x-y z"]'],
            {'params.metadata["x-y z"]': 1},
        ),
        ("bytes", {"sha256": "ab12", "size": 3}, None, "ab12"),
        ("bytes", {"sha256": "ab12", "size": 3}, ["model"], "ab12"),
        ("empty", None, None, None),
        ("acme", {"engine": "e", "query": "q"}, None, {"engine": "e", "query": "q"}),
        ("acme", {"model": "e", "query": "q"}, None, {"model": "e"}),
    ],
    ids=[
        "chat-default",
        "user-names-and-params",
        "dotted-path",
        "dotted-path-in-params",
        "list-index-and-missing",
        "embeddings-default",
        "speech-default",
        "json-default-is-everything",
        "json-with-match-on",
        "every-item",
        "quoted-key",
        "bytes-is-the-hash",
        "bytes-ignores-match-on",
        "empty-is-none",
        "custom-api-of-its-own-shape",
        "custom-api-with-chat-fields",
    ],
)
def test_select_picks_the_fields_that_decide_the_answer(api, body, match_on, expected):
    assert select(body, api, match_on) == expected


def test_a_user_match_on_replaces_the_default():
    body = canonicalize(CHAT, CHAT_BODY)
    assert select(body, "openai-chat", ["temperature"]) == {"temperature": 0.2}


# diff and describe: realistic edits, asserted in full


EDITS = {
    "user-text": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"][1].update(content="summarize the dog"),
        [
            'messages[0].content[0].text: recorded "summarize the cat" / incoming "summarize the dog"'
        ],
    ),
    "system-prompt": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"][0].update(content="Be very brief."),
        ['system: recorded "Be brief." / incoming "Be very brief."'],
    ),
    "tool-call-argument": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"][2]["tool_calls"][0]["function"].update(arguments='{"city":"Lyon"}'),
        ['messages[1].content[0].arguments.city: recorded "Paris" / incoming "Lyon"'],
    ),
    "tool-result": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"][3].update(content='{"temp_c": 15}'),
        ["messages[2].content[0].content[0].value.temp_c: recorded 14 / incoming 15"],
    ),
    "tool-removed": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b.pop("tools"),
        [
            'tools: recorded [{"description":"Get the current weather for a city.","name":"get_weather",'
            '"para… / incoming <absent>',
            'tool_choice: recorded {"mode":"auto"} / incoming <absent>',
        ],
    ),
    "turn-appended": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"].append({"role": "user", "content": "And Tokyo?"}),
        [
            'messages[3]: recorded <absent> / incoming {"content":[{"kind":"text","text":"And Tokyo?"}],"role":"user"}'
        ],
    ),
    "turn-inserted": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b["messages"].insert(1, {"role": "assistant", "content": "Hello!"}),
        [
            'messages[0]: recorded <absent> / incoming {"content":[{"kind":"text","text":"Hello!"}],"role":"assistant"}'
        ],
    ),
    "model": (
        CHAT,
        "openai-chat",
        CHAT_BODY,
        lambda b: b.update(model="gpt-5.1"),
        ['model: recorded "gpt-4.1-mini" / incoming "gpt-5.1"'],
    ),
    "responses-reasoning-effort": (
        RESPONSES,
        "openai-responses",
        {"model": "gpt-5.1", "input": "hi", "reasoning": {"effort": "low", "summary": "auto"}},
        lambda b: b["reasoning"].update(effort="high"),
        ['reasoning.effort: recorded "low" / incoming "high"'],
    ),
    "anthropic-thinking-budget": (
        ANTHROPIC,
        "anthropic",
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": "What is 27 * 453?"}],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
        lambda b: b["thinking"].update(budget_tokens=1024),
        ["thinking.budget_tokens: recorded 2048 / incoming 1024"],
    ),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_describe_names_each_realistic_edit_in_one_line(edit):
    url, api, body, change, expected = EDITS[edit]
    assert lines_for(url, body, edited(body, change), api) == expected


def test_diff_returns_differences_with_an_absent_sentinel():
    assert diff({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}, "c": None}) == [
        Difference("a.b[1]", 2, 3),
        Difference("c", ABSENT, None),
    ]
    assert repr(ABSENT) == "<absent>"


@pytest.mark.parametrize(
    ("recorded", "incoming", "expected"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 1.0}, [Difference("a", 1, 1.0)]),
        ({"a": True}, {"a": 1}, [Difference("a", True, 1)]),
        ({"a": [1]}, {"a": {"0": 1}}, [Difference("a", [1], {"0": 1})]),
        ({"odd key": 1}, {"odd key": 2}, [Difference('["odd key"]', 1, 2)]),
        ([1, 2, 3], [1, 3], [Difference("$[1]", 2, ABSENT)]),
        ("a", "b", [Difference("$", "a", "b")]),
    ],
    ids=[
        "equal",
        "int-vs-float",
        "bool-vs-int",
        "list-vs-object",
        "odd-key",
        "removed-item",
        "root",
    ],
)
def test_diff_compares_json_types_strictly(recorded, incoming, expected):
    assert diff(recorded, incoming) == expected


LONG = "The quick brown fox jumps over the lazy dog. " * 6


@pytest.mark.parametrize(
    ("difference", "line"),
    [
        (
            Difference("messages[0].content[0].text", LONG + "cat", LONG + "dog"),
            "messages[0].content[0].text: recorded …n fox jumps over the lazy dog. The quick brown fox jumps "
            'over the lazy dog. cat" / incoming …n fox jumps over the lazy dog. The quick brown fox jumps '
            'over the lazy dog. dog"',
        ),
        (
            Difference("system", "A" * 10 + "B" + "A" * 100, "A" * 10 + "C" + "A" * 100),
            'system: recorded "AAAAAAAAAAB'
            + "A" * 68
            + '… / incoming "AAAAAAAAAAC'
            + "A" * 68
            + "…",
        ),
        (
            Difference("system", ABSENT, "x" * 100),
            'system: recorded <absent> / incoming "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…',
        ),
        (
            Difference("x", "a" * 50 + "MIDDLE" + "b" * 100, "a" * 50 + "middle" + "b" * 100),
            "x: recorded …"
            + "a" * 20
            + "MIDDLE"
            + "b" * 54
            + "… / incoming …"
            + "a" * 20
            + "middle"
            + "b" * 54
            + "…",
        ),
        (
            Difference("model", "gpt-4.1", "gpt-5.1"),
            'model: recorded "gpt-4.1" / incoming "gpt-5.1"',
        ),
        (Difference("text", "é", ABSENT), 'text: recorded "é" / incoming <absent>'),
    ],
    ids=[
        "cut-at-the-end",
        "cut-near-the-start",
        "absent-side",
        "cut-both-sides",
        "short",
        "non-ascii",
    ],
)
def test_describe_cuts_long_values_around_the_first_difference(difference, line):
    assert describe([difference]) == [line]


def test_an_unknown_match_on_field_names_the_valid_ones():
    with pytest.raises(ValueError, match="Valid fields: model, system, messages") as err:
        DEFAULT_MATCH_ON + ["temprature"]
    assert "'temprature' is not a canonical request field" in str(err.value)
    assert "'params.NAME'" in str(err.value)


def test_what_a_miss_prints_selects_what_it_printed():
    # The path a miss prints, pasted into match_on, picks that same value back.
    body = canonicalize(CHAT, CHAT_BODY)
    incoming = canonicalize(CHAT, edited(CHAT_BODY, lambda b: b["messages"][1].update(content="x")))
    [line] = describe(diff(select(body, "openai-chat", None), select(incoming, "openai-chat", None)))
    printed = line.partition(":")[0]
    assert printed == "messages[0].content[0].text"
    assert select(body, "openai-chat", [printed]) == {printed: "summarize the cat"}
    assert select(incoming, "openai-chat", [printed]) == {printed: "x"}


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions",
        "https://u:p@h:8/v1/x?b=2&a=1#frag",
        "http://h?x=1",
        "h/path?q#f?g",
        "https://[::1]:8080/v1/messages?",
        "https://h/p#only-a-fragment",
    ],
)
def test_the_url_splitter_gives_every_byte_back(url: str) -> None:
    from promptecho._url import split_url

    assert split_url(url).join() == url
