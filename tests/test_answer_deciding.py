"""Everything that decides the answer is in the match key: structured output and conversation state.

End to end (issue 14, items 1 and 2): the real openai and anthropic SDKs record their
structured-output helpers (``chat.completions.parse``, ``responses.parse``,
``messages.parse``) through a socket to `FakeUpstream`; the upstream is stopped; a replay
asking for a model with one more field misses, naming ``output_format``. Three Responses
requests that differ only in ``previous_response_id`` replay out of order, each with its
own answer.

The measurement (issue 14, "Done when"): every request sample in tests/data (the wire
reference's requests and the canonical samples) is canonicalised and keyed the way the
recorder keys it (endpoint, API family, stream flag, the default selection); requests that
share a key share every answer-deciding field, no answer-deciding field sits outside
``DEFAULT_MATCH_ON``, and editing one answer-deciding wire field always changes the key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx2
import msgspec
import openai
import pydantic
import pytest

import promptecho.httpx2
from promptecho import Cassette, CassetteMiss
from promptecho._canonical import Canonical, canonicalize_request
from promptecho._match import DEFAULT_MATCH_ON, select
from promptecho.testing import FakeUpstream, Reply, Seen
from tests.sdk.conftest import API_KEY, real, stop_and_prove_down
from tests.test_canonical import url_of

WIRE = Path(__file__).parent / "data" / "wire"
CANONICAL = Path(__file__).parent / "data" / "canonical"


class Person(pydantic.BaseModel):
    name: str
    age: int


class PersonWithEmail(pydantic.BaseModel):
    name: str
    age: int
    email: str


# -- the fake upstream: a structured answer, or one that names the request's previous response --


def _sample(provider: str, scenario: str) -> dict[str, Any]:
    return json.loads((WIRE / provider / f"{scenario}.response.json").read_bytes())


def _json_reply(value: dict[str, Any]) -> Reply:
    return Reply(
        200, headers=[("content-type", "application/json")], chunks=[json.dumps(value).encode()]
    )


def answer(seen: Seen) -> Reply:
    """Each API's wire sample with its text replaced: the person as JSON, or "after <previous id>"."""
    body: Any = seen.json()
    path = seen.path.partition("?")[0]
    if path == "/v1/chat/completions":
        reply = _sample("openai-chat", "text")
        reply["choices"][0]["message"]["content"] = '{"name": "Ada", "age": 36}'
    elif path == "/v1/responses":
        reply = _sample("openai-responses", "string-input")
        previous = body.get("previous_response_id")
        text = f"after {previous}" if previous else '{"name": "Ada", "age": 36}'
        reply["output"][0]["content"][0]["text"] = text
        reply["previous_response_id"] = previous
    elif path == "/v1/messages":
        reply = json.loads((WIRE / "anthropic" / "text.response.json").read_bytes())
        reply["content"][0]["text"] = '{"name": "Ada", "age": 36}'
    else:
        return Reply(404, headers=[("content-type", "application/json")], chunks=[b"{}"])
    return _json_reply(reply)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream(answer).start()
    yield up
    up.stop()


def openai_client(up: FakeUpstream, echo: promptecho.httpx2.EchoTransport) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=API_KEY,
        base_url=up.url + "/v1",
        http_client=httpx2.Client(transport=echo),
        max_retries=0,
    )


def echo(cassette: Path, mode: str) -> promptecho.httpx2.EchoTransport:
    return promptecho.httpx2.EchoTransport(cassette, mode=mode, transport=real(httpx2))  # type: ignore[arg-type]


def the_miss(transport: promptecho.httpx2.EchoTransport) -> CassetteMiss:
    assert len(transport.misses) == 1, transport.misses
    return transport.misses[0]


def output_format_paths(miss: CassetteMiss) -> list[str]:
    return [d.path for d in miss.differences if d.path.startswith("output_format")]


QUESTION = [{"role": "user", "content": "Ada Lovelace was 36. Who is she?"}]


# -- item 1: structured output ------------------------------------------------------------


def test_chat_completions_parse_replays_its_model_and_misses_on_a_model_with_one_more_field(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "parse.json"
    with openai_client(upstream, echo(cassette, "once")) as client:
        live = client.chat.completions.parse(
            model="gpt-4.1-mini", messages=QUESTION, response_format=Person
        )
    stop_and_prove_down(upstream)
    assert live.choices[0].message.parsed == Person(name="Ada", age=36)

    with openai_client(upstream, echo(cassette, "none")) as client:
        replayed = client.chat.completions.parse(
            model="gpt-4.1-mini", messages=QUESTION, response_format=Person
        )
    assert replayed.choices[0].message.parsed == Person(name="Ada", age=36)

    transport = echo(cassette, "none")
    with openai_client(upstream, transport) as client, pytest.raises(CassetteMiss):
        client.chat.completions.parse(
            model="gpt-4.1-mini", messages=QUESTION, response_format=PersonWithEmail
        )
    assert "output_format.schema.properties.email" in output_format_paths(the_miss(transport))
    assert (
        "Closest recorded request (#0) differs at:\n"
        '  output_format.name: recorded "Person" / incoming "PersonWithEmail"\n'
        "  output_format.schema.properties.email: recorded <absent> / incoming "
        '{"title":"Email","type":"string"}\n'
        '  output_format.schema.required[2]: recorded <absent> / incoming "email"\n'
        '  output_format.schema.title: recorded "Person" / incoming "PersonWithEmail"\n'
    ) in str(the_miss(transport))  # the lines the README shows
    recorded = Cassette.load(cassette).interactions[0].request.body
    assert recorded["output_format"]["name"] == "Person"
    assert "params" not in recorded or "response_format" not in recorded["params"]


def test_responses_parse_replays_its_model_and_misses_on_a_model_with_one_more_field(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "responses-parse.json"
    ask = QUESTION[0]["content"]
    with openai_client(upstream, echo(cassette, "once")) as client:
        live = client.responses.parse(model="gpt-4.1-mini", input=ask, text_format=Person)
    stop_and_prove_down(upstream)
    assert live.output_parsed == Person(name="Ada", age=36)

    with openai_client(upstream, echo(cassette, "none")) as client:
        assert client.responses.parse(
            model="gpt-4.1-mini", input=ask, text_format=Person
        ).output_parsed == (Person(name="Ada", age=36))

    transport = echo(cassette, "none")
    with openai_client(upstream, transport) as client, pytest.raises(CassetteMiss):
        client.responses.parse(model="gpt-4.1-mini", input=ask, text_format=PersonWithEmail)
    assert "output_format.schema.properties.email" in output_format_paths(the_miss(transport))


def test_anthropic_messages_parse_replays_its_model_and_misses_on_a_model_with_one_more_field(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "anthropic-parse.json"

    def client(transport: promptecho.httpx2.EchoTransport) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            api_key=API_KEY,
            base_url=upstream.url,
            http_client=httpx2.Client(transport=transport),
            max_retries=0,
        )

    def ask(c: anthropic.Anthropic, model: type[pydantic.BaseModel]) -> Any:
        return c.messages.parse(
            model="claude-sonnet-4-6", max_tokens=256, messages=QUESTION, output_format=model
        )

    with client(echo(cassette, "once")) as c:
        assert ask(c, Person).parsed_output == Person(name="Ada", age=36)
    stop_and_prove_down(upstream)
    with client(echo(cassette, "none")) as c:
        assert ask(c, Person).parsed_output == Person(name="Ada", age=36)
    transport = echo(cassette, "none")
    with client(transport) as c, pytest.raises(anthropic.APIConnectionError):
        ask(c, PersonWithEmail)
    assert "output_format.schema.properties.email" in output_format_paths(the_miss(transport))


# -- item 2: conversation state -----------------------------------------------------------


def test_responses_that_differ_only_in_previous_response_id_each_replay_their_own_answer(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "previous.json"
    previous = ["resp_a", "resp_b", "resp_c"]

    def ask(client: openai.OpenAI, before: str) -> str:
        return client.responses.create(
            model="gpt-4.1-mini", input="Go on.", previous_response_id=before
        ).output_text

    with openai_client(upstream, echo(cassette, "once")) as client:
        live = {before: ask(client, before) for before in previous}
    stop_and_prove_down(upstream)
    assert live == {before: f"after {before}" for before in previous}

    for order in (["resp_c", "resp_a", "resp_b"], ["resp_b"], ["resp_c"]):
        with openai_client(upstream, echo(cassette, "none")) as client:
            assert {before: ask(client, before) for before in order} == {
                before: f"after {before}" for before in order
            }


# -- issue 16 item 1: a body its endpoint names but rejects is recorded with the reason ------


def test_a_body_its_endpoint_rejects_is_recorded_with_why_it_was_not_parsed(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    cassette = tmp_path / "unparsed.json"
    body = {"model": "gpt-4.1-mini", "messages": "not a list"}
    with httpx2.Client(transport=echo(cassette, "once")) as client:
        client.post(upstream.url + "/v1/chat/completions", json=body)
    request = Cassette.load(cassette).interactions[0].request
    assert (request.api, request.body) == ("json", body)
    assert request.unparsed == "not parsed as openai-chat: messages: expected an array, got str"
    # A miss on it says why its fields are raw JSON, for the recording and the request.
    changed = {"model": "gpt-4.1-mini", "messages": "another string"}
    with (
        httpx2.Client(transport=echo(cassette, "none")) as client,
        pytest.raises(CassetteMiss) as miss,
    ):
        client.post(upstream.url + "/v1/chat/completions", json=changed)
    assert miss.value.reason == (
        "The closest recording was not parsed as openai-chat: messages: expected an array, got "
        "str. This request's body was not parsed as openai-chat: messages: expected an array, "
        "got str."
    )


# -- the measurement ----------------------------------------------------------------------


def corpus() -> list[tuple[str, str, bytes]]:
    """Every request sample in tests/data, once: (name, URL, body bytes)."""
    seen: set[tuple[str, bytes]] = set()
    out = []
    for root in (WIRE, CANONICAL):
        for path in sorted(root.glob("*/*.request.json")):
            name = f"{path.parent.name}/{path.name.removesuffix('.request.json')}"
            url, raw = url_of(name), path.read_bytes()
            if (url, raw) not in seen:
                seen.add((url, raw))
                out.append((name, url, raw))
    return out


Key = tuple[str, str, bool, bytes]
_encode = msgspec.json.Encoder(order="sorted").encode


def key_of(url: str, canonical: Canonical) -> Key:
    """What the recorder keys a request on: endpoint, family, stream flag, default selection."""
    return (
        urlsplit(url).path,
        canonical.api,
        canonical.stream,
        _encode(select(canonical.body, canonical.api, None)),
    )


# The canonical parameters that do not decide the answer (the test author may add them to
# match_on): sampling, length and delivery knobs.
KNOBS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "seed",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "parallel_tool_calls",
        "include",  # Responses: which extra fields the answer carries
        "text",  # Responses: verbosity (the format lives in output_format)
    }
)
# Canonical fields of the families that are not chats, all in their default selection.
NOT_CHAT = {
    "embeddings": {"input", "model", "dimensions", "encoding_format"},
    "speech": {"model", "input", "voice", "response_format", "instructions", "speed"},
}


def deciding(canonical: Canonical) -> dict[str, Any]:
    """The answer-deciding part: every canonical field but the knobs of ``params``."""
    body = dict(canonical.body)
    params = {k: v for k, v in body.pop("params", {}).items() if k not in KNOBS}
    return {**body, "params": params}


def test_every_sample_is_parsed_by_its_dialect_and_keeps_nothing_answer_deciding_out_of_the_key() -> (
    None
):
    for name, url, raw in corpus():
        canonical = canonicalize_request(url, raw, "application/json")
        assert canonical.unparsed is None, (name, canonical.unparsed)
        assert canonical.api != "json", name
        fields = set(canonical.body) - {"params"}
        assert fields <= NOT_CHAT.get(canonical.api, set(DEFAULT_MATCH_ON)), (name, fields)
        assert set(canonical.body.get("params", {})) <= KNOBS, (name, canonical.body.get("params"))


def test_requests_that_share_a_match_key_share_every_answer_deciding_field() -> None:
    groups: dict[Key, list[tuple[str, Canonical]]] = {}
    for name, url, raw in corpus():
        canonical = canonicalize_request(url, raw, "application/json")
        groups.setdefault(key_of(url, canonical), []).append((name, canonical))
    shared = [group for group in groups.values() if len(group) > 1]
    for group in shared:
        first = deciding(group[0][1])
        for name, canonical in group[1:]:
            assert deciding(canonical) == first, (group[0][0], name)


# One edit per answer-deciding wire field the issue names, as two different values.
Edit = Callable[[dict[str, Any], Any], None]


def _set(*path: str) -> Edit:
    def edit(body: dict[str, Any], value: Any) -> None:
        for key in path[:-1]:
            body = body.setdefault(key, {})
        body[path[-1]] = value

    return edit


def _append_input(body: dict[str, Any], value: Any) -> None:
    items = (
        body["input"]
        if isinstance(body["input"], list)
        else [{"role": "user", "content": body["input"]}]
    )
    body["input"] = [*items, value]


SCHEMA_A = {"type": "object", "properties": {"name": {"type": "string"}}}
SCHEMA_B = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
}
EDITS: dict[str, list[tuple[str, Edit, Any, Any]]] = {
    "openai-chat": [
        (
            "response_format",
            _set("response_format"),
            {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA_A}},
            {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA_B}},
        ),
        ("agent_id", _set("agent_id"), "ag_a", "ag_b"),
        (
            "response_format type",
            _set("response_format"),
            {"type": "json_object"},
            {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA_A}},
        ),
    ],
    "openai-responses": [
        (
            "text.format",
            _set("text", "format"),
            {"type": "json_schema", "name": "p", "schema": SCHEMA_A},
            {"type": "json_schema", "name": "p", "schema": SCHEMA_B},
        ),
        ("previous_response_id", _set("previous_response_id"), "resp_a", "resp_b"),
        ("conversation", _set("conversation"), "conv_a", {"id": "conv_b"}),
        (
            "prompt",
            _set("prompt"),
            {"id": "pmpt_1", "version": "1"},
            {"id": "pmpt_1", "version": "2"},
        ),
        (
            "item_reference",
            _append_input,
            {"type": "item_reference", "id": "msg_a"},
            {"type": "item_reference", "id": "msg_b"},
        ),
    ],
    "gemini": [
        ("responseSchema", _set("generationConfig", "responseSchema"), SCHEMA_A, SCHEMA_B),
        (
            "responseMimeType",
            _set("generationConfig", "responseMimeType"),
            "application/json",
            "text/x.enum",
        ),
        ("cachedContent", _set("cachedContent"), "cachedContents/a", "cachedContents/b"),
    ],
    "anthropic": [
        (
            "output_config.format",
            _set("output_config", "format"),
            {"type": "json_schema", "schema": SCHEMA_A},
            {"type": "json_schema", "schema": SCHEMA_B},
        ),
        ("container", _set("container"), "container_a", "container_b"),
        (
            "mcp_servers",
            _set("mcp_servers"),
            [{"type": "url", "url": "https://a.example", "name": "a"}],
            [{"type": "url", "url": "https://b.example", "name": "b"}],
        ),
    ],
    "cohere": [
        (
            "response_format",
            _set("response_format"),
            {"type": "json_object", "json_schema": SCHEMA_A},
            {"type": "json_object", "json_schema": SCHEMA_B},
        ),
        ("documents", _set("documents"), ["Paris is in France."], ["Tokyo is in Japan."]),
    ],
    "ollama-chat": [("format", _set("format"), SCHEMA_A, "json")],
    "bedrock-converse": [
        ("promptVariables", _set("promptVariables"), {"a": {"text": "1"}}, {"a": {"text": "2"}})
    ],
}


def test_editing_one_answer_deciding_wire_field_always_changes_the_match_key() -> None:
    edited: set[str] = set()
    for name, url, raw in corpus():
        base = canonicalize_request(url, raw, "application/json")
        original = json.loads(raw)
        if url.endswith("/count-tokens"):  # a wrapper: its wrapped body is edited as itself
            continue
        for field, edit, one, other in EDITS.get(base.api, []):
            keys = []
            for value in (one, other):
                body = copy.deepcopy(original)
                edit(body, value)
                canonical = canonicalize_request(url, json.dumps(body).encode(), "application/json")
                keys.append(key_of(url, canonical))
                if body != original:  # an edit that changes the request changes its key
                    assert keys[-1] != key_of(url, base), (name, field, value)
            assert keys[0] != keys[1], (name, field)
            edited.add(base.api)
    assert edited == set(EDITS)  # every family above has samples to edit


@pytest.mark.parametrize(
    ("field", "one", "other"),
    [("temperature", 0.1, 0.9), ("user", "u-1", "u-2"), ("metadata", {"a": "1"}, {"a": "2"})],
)
def test_editing_a_knob_or_the_caller_identity_keeps_the_match_key(
    field: str, one: Any, other: Any
) -> None:
    for name, url, raw in corpus():
        base = canonicalize_request(url, raw, "application/json")
        if base.api not in ("openai-chat", "anthropic", "openai-responses"):
            continue
        keys = set()
        for value in (one, other):
            body = {**json.loads(raw), field: value}
            keys.add(
                key_of(
                    url,
                    canonicalize_request(url, json.dumps(body).encode(), "application/json"),
                )
            )
        assert len(keys) == 1, (name, field)
