"""The transports, sync, in both flavours: modes, ordering, redaction, errors.

Mirrored by test_transport_async.py. The real side is an in-memory MockTransport except
in the end-to-end proof, which goes through a real socket.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptecho import Cassette, CassetteError, CassetteMiss
from promptecho.testing import FakeUpstream

from .conftest import CHAT_URL, Flavour, Upstream, chat, untouchable


def record(
    flavour: Flavour, path: Path, upstream: Upstream, *texts: str, mode: str = "once"
) -> list[object]:
    echo = flavour.EchoTransport(path, mode=mode, transport=upstream.transport())
    with flavour.http.Client(transport=echo) as client:
        return [client.post(CHAT_URL, json=chat(t)).json() for t in texts]


# -- the proof: a real server, recorded, shut down, replayed --------------------------------


def test_records_through_a_real_socket_and_replays_with_the_server_down(
    flavour: Flavour, cassette_path: Path, live: FakeUpstream
) -> None:
    with flavour.client(cassette_path, base_url=live.url) as client:
        live_json = client.post("/v1/chat/completions", json=chat("Say hello."))
        with client.stream("POST", "/v1/chat/completions", json=chat("Count.", stream=True)) as s:
            live_lines = list(s.iter_lines())
    live.stop()
    assert len(live.seen) == 2
    with pytest.raises(flavour.http.ConnectError):
        flavour.http.get(live.url)

    with flavour.client(cassette_path, base_url=live.url, mode="none") as client:
        again = client.post("/v1/chat/completions", json=chat("Say hello."))
        with client.stream("POST", "/v1/chat/completions", json=chat("Count.", stream=True)) as s:
            replay_lines = list(s.iter_lines())
            stream_type = s.headers["content-type"]
    assert again.status_code == live_json.status_code == 200
    assert again.headers["content-type"] == live_json.headers["content-type"]
    assert again.json() == live_json.json()
    assert replay_lines == live_lines
    assert replay_lines[-2:] == ["data: [DONE]", ""]
    assert stream_type.startswith("text/event-stream")


# -- the modes -------------------------------------------------------------------------------


def test_once_mode_records_when_the_cassette_is_absent(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    answers = record(flavour, cassette_path, upstream, "a", "b")
    assert [a["choices"][0]["message"]["content"] for a in answers] == ["echo: a", "echo: b"]
    assert len(upstream.seen) == 2
    assert len(Cassette.load(cassette_path).interactions) == 2


def test_once_mode_replays_and_raises_on_new_request_when_cassette_exists(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    recorded = record(flavour, cassette_path, upstream, "a")
    echo = flavour.EchoTransport(cassette_path, transport=untouchable(flavour.http))
    with flavour.http.Client(transport=echo) as client:
        assert client.post(CHAT_URL, json=chat("a")).json() == recorded[0]
        with pytest.raises(CassetteMiss) as miss:
            client.post(CHAT_URL, json=chat("b"))
    assert echo.misses == [miss.value]
    assert "mode 'once'" in str(miss.value)
    assert 'messages[0].content[0].text: recorded "a" / incoming "b"' in str(miss.value)


def test_none_mode_without_cassette_raises_and_never_calls_upstream(
    flavour: Flavour, cassette_path: Path
) -> None:
    echo = flavour.EchoTransport(cassette_path, mode="none", transport=untouchable(flavour.http))
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteMiss) as miss:
        client.post(CHAT_URL, json=chat("a"))
    assert "does not exist" in str(miss.value)
    assert not cassette_path.exists()


def test_none_mode_replays_and_never_calls_upstream(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    recorded = record(flavour, cassette_path, upstream, "a", "b")
    echo = flavour.EchoTransport(cassette_path, mode="none", transport=untouchable(flavour.http))
    with flavour.http.Client(transport=echo) as client:
        assert client.post(CHAT_URL, json=chat("b")).json() == recorded[1]
        assert client.post(CHAT_URL, json=chat("a")).json() == recorded[0]
        with pytest.raises(CassetteMiss):
            client.post(CHAT_URL, json=chat("c"))


def test_new_episodes_mode_replays_matches_and_appends_misses(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a")
    answers = record(flavour, cassette_path, upstream, "a", "b", mode="new_episodes")
    assert upstream.seen == [chat("a"), chat("b")]  # "a" was replayed, only "b" went upstream
    assert answers[0]["id"] == "chatcmpl-1"
    bodies = [i.request.body for i in Cassette.load(cassette_path).interactions]
    assert len(bodies) == 2
    assert bodies[0] != bodies[1]


def test_new_episodes_mode_records_when_the_cassette_is_absent(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a", mode="new_episodes")
    assert len(Cassette.load(cassette_path).interactions) == 1


def test_all_mode_rerecords_everything_and_keeps_only_this_run(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a", "b")
    record(flavour, cassette_path, upstream, "a", "c", mode="all")
    assert len(upstream.seen) == 4
    interactions = Cassette.load(cassette_path).interactions
    answers = [i.response.body.value["id"] for i in interactions]  # type: ignore[union-attr]
    assert answers == ["chatcmpl-3", "chatcmpl-4"]


def test_all_mode_records_when_the_cassette_is_absent(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a", mode="all")
    assert len(Cassette.load(cassette_path).interactions) == 1


def test_unknown_mode_is_a_value_error_listing_the_valid_ones(
    flavour: Flavour, cassette_path: Path
) -> None:
    with pytest.raises(
        ValueError,
        match=r"^'onse' is not a valid mode\. Valid modes are: 'once', 'none', 'new_episodes', 'all', 'rewrite', 'verify'\.$",
    ):
        flavour.EchoTransport(cassette_path, mode="onse")


def test_a_cassette_path_given_as_str_or_path_is_the_same_file(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    recorded = record(flavour, cassette_path, upstream, "a")
    echo = flavour.EchoTransport(str(cassette_path), mode="none")
    assert echo.path == cassette_path
    with flavour.http.Client(transport=echo) as client:
        assert [client.post(CHAT_URL, json=chat("a")).json()] == recorded


@pytest.mark.parametrize("bad", [b"cassette.json", None, 3])
def test_a_cassette_path_that_is_not_a_text_path_is_a_type_error(
    flavour: Flavour, bad: object
) -> None:
    with pytest.raises(TypeError):
        flavour.EchoTransport(bad, mode="none")  # type: ignore[arg-type]


# -- ordering and repeats --------------------------------------------------------------------


def test_identical_requests_replay_in_recorded_order_then_miss(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    recorded = record(flavour, cassette_path, upstream, "same", "same", "same")
    assert [r["id"] for r in recorded] == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]
    echo = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=echo) as client:
        ids = [client.post(CHAT_URL, json=chat("same")).json()["id"] for _ in range(3)]
        with pytest.raises(CassetteMiss, match="already been replayed"):
            client.post(CHAT_URL, json=chat("same"))
    assert ids == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]


def test_allow_repeats_keeps_replaying_the_last_recording(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "same", "same")
    echo = flavour.EchoTransport(cassette_path, mode="none", allow_repeats=True)
    with flavour.http.Client(transport=echo) as client:
        ids = [client.post(CHAT_URL, json=chat("same")).json()["id"] for _ in range(4)]
    assert ids == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-2", "chatcmpl-2"]


def test_a_streamed_and_a_plain_request_never_answer_each_other(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a")
    echo = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteMiss) as miss:
        client.post(CHAT_URL, json=chat("a", stream=True))
    assert "stream: recorded false / incoming true" in str(miss.value)


def test_different_endpoints_never_answer_each_other(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a")
    echo = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=echo) as client, pytest.raises(CassetteMiss) as miss:
        client.post("https://api.openai.com/v1/other", json=chat("a"))
    assert "the cassette holds: POST /v1/chat/completions" in str(miss.value)


# -- secrets ---------------------------------------------------------------------------------


def test_keys_in_headers_and_query_never_reach_the_cassette(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    secret = "sk-proj-TOPSECRET0123456789abcdef"
    echo = flavour.EchoTransport(cassette_path, transport=upstream.transport())
    headers = {
        "authorization": f"Bearer {secret}",
        "x-api-key": secret,
        "x-goog-api-key": secret,
        "cookie": f"session={secret}",
        "openai-organization": secret,
    }
    with flavour.http.Client(transport=echo) as client:
        client.post(
            f"{CHAT_URL}?key={secret}&api_key={secret}&keep=1", json=chat("a"), headers=headers
        )
    data = cassette_path.read_bytes()
    assert secret.encode() not in data
    assert b"TOPSECRET" not in data
    request = Cassette.load(cassette_path).interactions[0].request
    assert request.url == f"{CHAT_URL}?key=<redacted>&api_key=<redacted>&keep=1"
    assert request.headers["authorization"] == "<redacted>"

    replay = flavour.EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=replay) as client:  # the key may differ at replay time
        assert (
            client.post(f"{CHAT_URL}?key=other&api_key=x&keep=1", json=chat("a")).status_code == 200
        )


# -- bad cassettes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (b'{"version": 1, "interactions": [{"request": {"method": "POST"', "is not valid JSON"),
        (b'{"version": 99, "interactions": []}', "format version 99"),
        (b'{"version": 1, "interactions": [{"request": 3}]}', "$.interactions[0].request"),
        (b'{"version": 1, "interactions": [], "extra": 1}', "unknown field `extra`"),
        (b"[]", "is not a promptecho cassette"),
    ],
    ids=["corrupt", "truncated", "newer-version", "wrong-shape", "unknown-field", "not-an-object"],
)
def test_a_bad_cassette_is_a_cassette_error_naming_the_file(
    flavour: Flavour, cassette_path: Path, content: bytes, problem: str
) -> None:
    cassette_path.parent.mkdir(parents=True)
    cassette_path.write_bytes(content)
    with pytest.raises(CassetteError) as err:
        flavour.EchoTransport(cassette_path)
    assert str(cassette_path) in str(err.value)
    assert problem in str(err.value)
    assert cassette_path.read_bytes() == content  # nothing was lost or rewritten


def test_a_bad_response_is_a_cassette_error_naming_the_file_when_it_is_replayed(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    # Responses are decoded on first replay (the index keeps them raw), so a response
    # broken by hand fails then, with the file and the interaction named; the others play.
    answers = record(flavour, cassette_path, upstream, "good", "broken")
    data = json.loads(cassette_path.read_bytes())
    data["interactions"][1]["response"]["status"] = "two hundred"
    cassette_path.write_text(json.dumps(data, indent=2))
    with flavour.client(cassette_path, mode="none") as client:
        assert client.post(CHAT_URL, json=chat("good")).json() == answers[0]
        with pytest.raises(CassetteError) as err:
            client.post(CHAT_URL, json=chat("broken"))
    assert str(cassette_path) in str(err.value)
    assert "$.interactions[1].response" in str(err.value)
    assert "Expected `int`, got `str`" in str(err.value)


def test_a_cassette_path_that_cannot_be_read_is_a_cassette_error_naming_it(
    flavour: Flavour, cassette_path: Path
) -> None:
    cassette_path.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(CassetteError) as err:
        flavour.EchoTransport(cassette_path)
    assert str(cassette_path) in str(err.value)
    assert "cannot be read: Is a directory" in str(err.value)
    with pytest.raises(CassetteError, match="cannot be read: No such file or directory"):
        Cassette.load(cassette_path / "missing.json")


def test_the_cassette_is_pretty_stable_json(
    flavour: Flavour, cassette_path: Path, upstream: Upstream
) -> None:
    record(flavour, cassette_path, upstream, "a")
    first = cassette_path.read_bytes()
    assert first.startswith(b'{\n  "version": 2,\n  "interactions": [\n')
    assert json.loads(first)["interactions"][0]["request"]["api"] == "openai-chat"
    # Replaying rewrites nothing.
    with flavour.client(cassette_path, mode="none") as client:
        client.post(CHAT_URL, json=chat("a"))
    assert cassette_path.read_bytes() == first


def test_a_response_nobody_read_is_read_and_recorded_at_close(flavour: Flavour, cassette_path: Path, live: FakeUpstream) -> None:
    with flavour.client(cassette_path, base_url=live.url) as client:
        request = client.build_request("POST", "/v1/chat/completions", json=chat("unread"))
        client.send(request, stream=True)  # never read, never closed
    interactions = Cassette.load(cassette_path).interactions
    assert len(interactions) == 1
    assert interactions[0].response.body.value["choices"][0]["message"]["content"] == "You said: unread"  # type: ignore[union-attr]


def test_a_transport_of_the_other_flavour_is_a_type_error_naming_the_right_one(
    flavour: Flavour, cassette_path: Path
) -> None:
    other = "httpx2" if flavour.name == "httpx" else "httpx"
    from .conftest import FLAVOURS

    wrong = FLAVOURS[other].EchoTransport(cassette_path, mode="none")
    with flavour.http.Client(transport=wrong) as client, pytest.raises(TypeError) as err:
        client.post(CHAT_URL, json=chat("a"))
    right = "promptecho.httpx2" if flavour.name == "httpx2" else "promptecho"
    assert str(err.value) == (
        f"EchoTransport is promptecho's {other} transport, but it was given a {flavour.name} "
        f"request: use {right}.EchoTransport with a {flavour.name} client."
    )
