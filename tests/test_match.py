"""select(), diff() and describe(): what decides a match and how a miss is explained."""

from __future__ import annotations

import pytest

from promptecho._errors import Difference
from promptecho._match import ABSENT, DEFAULT_MATCH_ON, MatchOn, describe, diff, select


def test_default_match_on_is_the_documented_tuple():
    assert tuple(DEFAULT_MATCH_ON) == (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "reasoning",
        "thinking",
    )


def test_adding_a_list_to_default_match_on_gives_an_extended_match_on():
    extended = DEFAULT_MATCH_ON + ["temperature"]  # noqa: RUF005 (the documented spelling)
    assert type(extended) is MatchOn
    assert extended[-1] == "temperature"
    assert len(DEFAULT_MATCH_ON) == 8


def test_select_keeps_only_the_named_fields_and_looks_into_params():
    body = {"model": "m", "messages": [], "params": {"temperature": 0.2, "max_tokens": 5}}
    assert select(body, "openai-chat", ["model", "temperature", "params.max_tokens"]) == {
        "model": "m",
        "temperature": 0.2,
        "params.max_tokens": 5,
    }


def test_diff_names_leaf_paths_and_marks_missing_sides():
    recorded = {"messages": [{"content": [{"text": "summarize the cat"}]}]}
    incoming = {"messages": [{"content": [{"text": "summarize the dog"}]}], "system": "S"}
    assert diff(recorded, incoming) == [
        Difference("messages[0].content[0].text", "summarize the cat", "summarize the dog"),
        Difference("system", ABSENT, "S"),
    ]


@pytest.mark.parametrize(
    ("difference", "line"),
    [
        (
            Difference("messages[1].content[0].text", "summarize the cat", "summarize the dog"),
            'messages[1].content[0].text: recorded "summarize the cat" / incoming "summarize the dog"',
        ),
        (Difference("model", ABSENT, "gpt-5.1"), 'model: recorded <absent> / incoming "gpt-5.1"'),
    ],
    ids=["text", "absent"],
)
def test_describe_renders_one_line_per_difference(difference, line):
    assert describe([difference]) == [line]
