"""Secrets: ``redact=[...]`` rules, the ``before_record`` hook, and the refusal to write a key."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptecho import Cassette, CassetteError
from promptecho._secrets import find_secret, marker, parse_rules, redact_json
from promptecho._store import journal_path

from .conftest import CHAT_URL, Flavour, Upstream, chat, untouchable

# Fake keys in the real shapes, built at run time so that this file holds no key itself.
OPENAI_KEY = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7s"
KEYS = {
    "openai": OPENAI_KEY,
    "anthropic": "sk-ant-api03-" + "Zy9Xw7Vu5Ts3Rq1Po9Nm7Lk5Ji3Hg1Fe9Dc7Ba5",
    "google": "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "aws": "AKIA" + "IOSFODNN7EXAMPLE",
    "github": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "bearer": "Bearer " + "eyJhbGciOiJIUzI1NiJ9.Ab3dE5gH7jK9",
}


# -- rules ---------------------------------------------------------------------------------


def test_rules_split_by_where_they_apply() -> None:
    rules = parse_rules(
        ["header:X-My-Key", "query:sig", "request:messages[*].content", "response:a.b[0].*"]
    )
    assert rules.headers == ("X-My-Key",)
    assert rules.query == ("sig",)
    assert [p.text for p in rules.request] == ["messages[*].content"]
    assert rules.response[0].steps == (("key", "a"), ("key", "b"), ("index", 0), ("any-key", "*"))


@pytest.mark.parametrize(
    "rule",
    ["x-key", "cookie:x", "header:", "request:a..b", "request:a[x]", "response:[*]"],
    ids=["no-colon", "unknown-where", "empty-name", "empty-step", "bad-index", "no-key"],
)
def test_a_bad_rule_is_refused_with_the_syntax(rule: str) -> None:
    with pytest.raises(ValueError, match=r"redact rule|valid path step") as err:
        parse_rules([rule])
    assert repr(rule) in str(err.value)


def test_a_single_string_is_not_taken_for_a_list_of_rules() -> None:
    with pytest.raises(ValueError, match="sequence of rules"):
        parse_rules("header:x")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("a", {"a": "s", "b": "t"}, {"a": marker("s"), "b": "t"}),
        ("a[*].b", {"a": [{"b": 1}, {"c": 2}]}, {"a": [{"b": marker(1)}, {"c": 2}]}),
        ("a[1]", {"a": ["x", "y"]}, {"a": ["x", marker("y")]}),
        ("a[5]", {"a": ["x"]}, {"a": ["x"]}),
        ("*.k", {"a": {"k": "1"}, "b": 3}, {"a": {"k": marker("1")}, "b": 3}),
        ("missing.deep", {"a": 1}, {"a": 1}),
        ("a", ["not", "an", "object"], ["not", "an", "object"]),
        ("a", {"a": {"whole": ["tree"]}}, {"a": marker({"whole": ["tree"]})}),
    ],
    ids=[
        "key",
        "every-item",
        "index",
        "index-absent",
        "any-key",
        "absent",
        "wrong-type",
        "subtree",
    ],
)
def test_redact_json_replaces_what_the_path_names(path: str, value: Any, expected: Any) -> None:
    before = json.dumps(value)
    assert redact_json(value, parse_rules([f"request:{path}"]).request) == expected
    assert json.dumps(value) == before  # the input is never changed in place


def test_markers_are_stable_distinct_and_idempotent() -> None:
    assert marker("secret") == marker("secret") == "<redacted:2bb80d537b1d>"
    assert marker("secret") != marker("Secret")
    assert marker(marker("secret")) == marker("secret")
    assert marker({"b": 1, "a": 2}) == marker({"a": 2, "b": 1})


# -- redact through the transports ------------------------------------------------------------


def test_redact_rules_keep_values_out_and_still_match_on_replay(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    options: dict[str, Any] = {
        "redact": [
            "header:x-my-key",
            "query:sig",
            "request:messages[*].content",
            "response:choices[*].message.content",
        ]
    }
    url = CHAT_URL + "?sig=s1gn4ture&v=1"
    body = chat("my private question")
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport(), **options)
    with flavour.http.Client(transport=echo) as client:
        live = client.post(url, json=body, headers={"x-my-key": "hunter2hunter2"}).json()
    assert live["choices"][0]["message"]["content"] == "echo: my private question"
    text = cassette_path.read_text()
    for secret in ("my private question", "hunter2hunter2", "s1gn4ture"):
        assert secret not in text
    request = Cassette.load(cassette_path).interactions[0].request
    assert request.headers["x-my-key"] == "<redacted>"
    assert "sig=<redacted>" in request.url
    assert request.body["messages"][0]["content"].startswith("<redacted:")

    # The same request (another key) matches its redacted recording; another question does not.
    echo = flavour.EchoTransport(cassette_path, transport=untouchable(flavour.http), **options)
    with flavour.http.Client(transport=echo) as client:
        again = client.post(url, json=body, headers={"x-my-key": "other-key-value"}).json()
    assert again["choices"][0]["message"]["content"] == marker("echo: my private question")

    # Re-recording the same call gives the same bytes: no diff to review.
    fresh = Upstream(flavour.http)  # numbers its answers from 1 again
    echo = flavour.EchoTransport(cassette_path, mode="all", transport=fresh.transport(), **options)
    with flavour.http.Client(transport=echo) as client:
        client.post(url, json=body, headers={"x-my-key": "hunter2hunter2"})
    assert cassette_path.read_text() == text


def test_a_response_path_is_redacted_in_every_stream_event(
    flavour: Flavour, cassette_path: Path
) -> None:
    events = b"".join(
        b'data: {"choices":[{"delta":{"content":"%s"}}]}\n\n' % word for word in (b"a", b"b")
    )

    def handler(request: Any) -> Any:
        return flavour.http.Response(
            200, headers={"content-type": "text/event-stream"}, content=events + b"data: [DONE]\n\n"
        )

    echo = flavour.EchoTransport(
        cassette_path,
        transport=flavour.http.MockTransport(handler),
        redact=["response:choices[*].delta.content"],
    )
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat("hi", stream=True)).read()
    body = Cassette.load(cassette_path).interactions[0].response.body  # type: ignore[union-attr]
    assert [e.data for e in body.events] == [  # type: ignore[union-attr]
        {"choices": [{"delta": {"content": marker("a")}}]},
        {"choices": [{"delta": {"content": marker("b")}}]},
        "[DONE]",
    ]


# -- before_record -----------------------------------------------------------------------------


def test_before_record_changes_what_is_written(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    def scrub(interaction: Any) -> Any:
        assert interaction.response is not None
        interaction.response.headers.pop("x-request-id")
        return interaction

    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport(), before_record=scrub)
    with flavour.http.Client(transport=echo) as client:
        live = client.post(CHAT_URL, json=chat("a"))
    assert live.headers["x-request-id"] == "req_1"  # the caller still sees the live response
    response = Cassette.load(cassette_path).interactions[0].response
    assert response is not None
    assert "x-request-id" not in response.headers


def test_before_record_returning_none_skips_the_interaction(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    def only_b(interaction: Any) -> Any:
        return interaction if "b" in json.dumps(interaction.request.body) else None

    echo = flavour.EchoTransport(
        cassette_path, transport=upstream.transport(), before_record=only_b
    )
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat("a"))
        client.post(CHAT_URL, json=chat("b"))
    [kept] = Cassette.load(cassette_path).interactions
    assert kept.request.body["messages"][0]["content"][0]["text"] == "b"


def test_before_record_may_remove_a_secret_the_scan_would_refuse(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    def redact_key(interaction: Any) -> Any:
        interaction.request.body["messages"][0]["content"][0]["text"] = "key withheld"
        interaction.response.body.value["choices"][0]["message"]["content"] = "withheld"
        return interaction

    echo = flavour.EchoTransport(
        cassette_path, transport=upstream.transport(), before_record=redact_key
    )
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat(f"my key is {OPENAI_KEY}"))
    assert OPENAI_KEY not in cassette_path.read_text()


# -- the scan ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_a_key_in_a_response_is_refused_and_nothing_is_written(
    flavour: Flavour, cassette_path: Path, kind: str
) -> None:
    def handler(request: Any) -> Any:
        return flavour.http.Response(200, json={"data": [{"note": f"use {KEYS[kind]} here"}]})

    echo = flavour.EchoTransport(cassette_path, transport=flavour.http.MockTransport(handler))
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteError) as err:
        client.post(CHAT_URL, json=chat("a"))
    assert f"a secret ({kind}) found at $.response.body.value.data[0].note" in str(err.value)
    assert KEYS[kind] not in str(err.value)  # the error never repeats the secret
    assert not journal_path(cassette_path).exists()
    assert not cassette_path.exists()


def test_a_key_in_the_request_body_is_refused_naming_its_path(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport())
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteError) as err:
        client.post(CHAT_URL, json=chat(f"my key is {OPENAI_KEY}"))
    assert "(openai) found at $.request.body.messages[0].content[0].text" in str(err.value)
    assert not journal_path(cassette_path).exists()


def test_a_redacted_header_value_echoed_elsewhere_is_refused(
    flavour: Flavour, cassette_path: Path
) -> None:
    def handler(request: Any) -> Any:  # an upstream that echoes the key it was sent
        return flavour.http.Response(200, json={"you_sent": request.headers["x-api-key"]})

    echo = flavour.EchoTransport(cassette_path, transport=flavour.http.MockTransport(handler))
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteError) as err:
        client.post(CHAT_URL, json=chat("a"), headers={"x-api-key": "plain-looking-key"})
    assert "found at $.response.body.value.you_sent" in str(err.value)
    assert "redacted header or query parameter" in str(err.value)


def test_allow_secrets_writes_what_the_scan_would_refuse(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport(), allow_secrets=True)
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat(f"fake key {OPENAI_KEY}"))
    assert OPENAI_KEY in cassette_path.read_text()


def test_the_default_auth_header_is_redacted_and_not_refused(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport())
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat("a"), headers={"authorization": f"Bearer {OPENAI_KEY}"})
    assert OPENAI_KEY not in cassette_path.read_text()
    request = Cassette.load(cassette_path).interactions[0].request
    assert request.headers["authorization"] == "<redacted>"


@pytest.mark.parametrize(
    "text",
    [
        "use sk-learn-compatible-estimators-everywhere",
        "send Authorization: Bearer YOUR_API_TOKEN_HERE",
        "the task-AbC123dEf456GhI789jKl012 id",  # 'sk-' inside a word
        "<redacted:0123456789ab>",
    ],
    ids=["sk-prose", "bearer-placeholder", "inside-a-word", "marker"],
)
def test_prose_that_resembles_a_key_is_not_refused(text: str) -> None:
    from promptecho._cassette import Interaction, RecordedRequest

    request = RecordedRequest(method="POST", url="http://x/", api="json", body={"t": text})
    assert find_secret(Interaction(request=request)) is None


def test_secrets_module_imports_no_http_or_pytest() -> None:
    import promptecho._secrets as module

    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[arg-type]
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not roots & {"httpx", "httpx2", "pytest"}


_SHAPE_TOKENS = [
    b"sk-", b"sk-ant-", b"sk-proj-", b"AIza", b"AKIA", b"ASIA", b"ghp_", b"gh", b"github_pat_",
    b"Bearer ", b"bearer\t", b"earer ", b"-", b"_", b" ", b"\"", b"x", b"Q", b"7", b"aB3",
    b"hf_", b"gsk_", b"xai-", b"ya29.", b"pplx-", b"r8_", b"fw_", b"sk-or-v1-", b"\\n", b"%0A",
    b"\\u001b", b"0123456789abcdef",
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    b"ABCDEFGHIJKLMNOP0123",
]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(_SHAPE_TOKENS), max_size=30).map(b"".join))
def test_the_prefix_scan_finds_a_shape_wherever_one_starts_500_examples(data: bytes) -> None:
    # The scan tries the shapes only where a literal prefix is; the reference tries them at
    # every byte. A left-to-right regex scan finds a subset (it skips a key inside a match,
    # as in "Bearer sk-...").
    from promptecho import _secrets

    shapes = _secrets._shapes()

    def kinds(matches: list[Any]) -> set[str]:
        named = {(_secrets._GROUP[m.lastgroup], m.group()) for m in matches}
        return {kind for kind, token in named if _secrets._random_looking(kind, token)}

    everywhere = kinds(
        [
            m
            for i in range(len(data))
            if _secrets._boundary(data, i, _secrets._KEY_BYTES) and (m := shapes.match(data, i))
        ]
    )
    # (An AWS secret access key has no prefix: it is found beside its label or id, not here.)
    found = [k for k in _secrets._kinds_in(data) if k != "aws-secret"]
    assert set(found) == everywhere
    assert len(found) == len(everywhere)  # each kind once


def test_a_miss_shows_a_key_in_a_prompt_as_its_kind_never_its_value(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    from promptecho import CassetteMiss

    key = "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0nOp3r"
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport(), allow_secrets=True)
    with flavour.http.Client(transport=echo) as client:
        client.post(CHAT_URL, json=chat(f"my key is {key}"))
    replay = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=replay) as client, pytest.raises(CassetteMiss) as miss:
        client.post(CHAT_URL, json=chat(f"my key is {key}!"))
    assert key not in str(miss.value)
    assert 'messages[0].content[0].text: recorded "my key is <openai>"' in str(miss.value)
    assert miss.value.differences[0].path == "messages[0].content[0].text"
