"""The pure half of the WebSocket support (promptecho._frames): no sockets."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from promptecho._cassette import (
    BinaryFrame,
    Cassette,
    CloseFrame,
    JsonFrame,
    TextFrame,
    WebSocketSession,
)
from promptecho._frames import (
    ClientIds,
    Record,
    Refuse,
    Replay,
    compare,
    decide,
    frame_of,
    handshake_headers,
    payload,
    trim_audio,
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('{"type": "session.update"}', JsonFrame("client", value={"type": "session.update"})),
        ("[1, 2]", JsonFrame("client", value=[1, 2])),
        ("hello", TextFrame("client", text="hello")),
        ("42", TextFrame("client", text="42")),
        (b"\x00\x01", BinaryFrame("client", data=b"\x00\x01")),
    ],
    ids=["json-object", "json-array", "text", "json-scalar-kept-as-text", "binary"],
)
def test_a_message_becomes_the_frame_that_stores_it(message: str | bytes, expected: Any) -> None:
    frame = frame_of("client", message)
    assert frame == expected
    assert isinstance(frame, JsonFrame | TextFrame | BinaryFrame)
    again = payload(frame)
    assert frame_of("client", again) == expected


def item_create(event_id: str, item_id: str, previous: str) -> JsonFrame:
    value = {"type": "conversation.item.create", "event_id": event_id, "item": {"id": item_id}}
    return JsonFrame("client", value={**value, "previous_item_id": previous})


def test_client_made_up_ids_compare_by_order_and_server_ids_as_they_are() -> None:
    recorded, incoming = ClientIds(), ClientIds()
    for ids in (recorded, incoming):
        ids.saw_server({"type": "conversation.item.added", "item": {"id": "item_srv_1"}})
    old = item_create("e1", "mine_a", "item_srv_1")
    same = item_create("x9", "mine_b", "item_srv_1")
    assert compare(old, same, recorded, incoming) == []
    # A server id is compared as it is: another one is a difference.
    other = item_create("e1", "mine_a", "item_srv_2")
    diffs = compare(old, other, ClientIds(), ClientIds())
    assert diffs == []  # with no server frame seen, both ids are the client's: <id:2> on both sides
    seen_server = ClientIds()
    seen_server.saw_server({"item": {"id": "item_srv_1"}})
    diffs = compare(old, other, seen_server, ClientIds())
    assert [(d.path, d.recorded, d.incoming) for d in diffs] == [
        ("json.previous_item_id", "item_srv_1", "<id:2>")
    ]


def test_a_close_and_a_message_differ_at_their_kind() -> None:
    diffs = compare(
        JsonFrame("client", value={"type": "response.create"}),
        CloseFrame("client", code=1000),
        ClientIds(),
        ClientIds(),
    )
    assert [d.path for d in diffs] == ["json", "close"]


def test_trim_audio_cuts_openai_deltas_and_gemini_inline_data_only() -> None:
    audio = base64.b64encode(bytes(100)).decode()
    value = {
        "type": "response.output_audio.delta",
        "delta": audio,
        "nested": {
            "serverContent": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": audio}}]}
        },
    }
    trimmed = trim_audio(value, 3)
    assert trimmed["delta"] == "AAAA"
    assert trimmed["nested"]["serverContent"]["parts"][0]["inlineData"] == {
        "mimeType": "audio/pcm",
        "data": "AAAA",
    }
    text_delta = {"type": "response.output_text.delta", "delta": audio}
    assert trim_audio(text_delta, 3) == text_delta
    assert value["delta"] == audio  # the input is left alone


def test_handshake_headers_drop_the_per_connection_ones_and_redact_secrets() -> None:
    secrets: list[str] = []
    kept = handshake_headers(
        [
            ("Host", "127.0.0.1:1"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", "abc"),
            ("Sec-WebSocket-Version", "13"),
            ("Authorization", "Bearer sk-x"),
            ("x-goog-api-key", "AIza-key"),
            ("OpenAI-Beta", "realtime=v1"),
        ],
        secrets,
    )
    assert kept == {
        "authorization": "<redacted>",
        "x-goog-api-key": "<redacted>",
        "openai-beta": "realtime=v1",
    }
    # The removed values, for the scan to look for elsewhere; the per-connection key is none.
    assert {"Bearer sk-x", "AIza-key"} <= set(secrets)
    assert "abc" not in secrets


SESSIONS = [WebSocketSession(path="/a"), WebSocketSession(path="/b"), WebSocketSession(path="/a")]


@pytest.mark.parametrize(
    ("mode", "sessions", "played", "path", "expected"),
    [
        ("once", [], set(), "/a", Record),
        ("once", SESSIONS, set(), "/a", 0),
        ("once", SESSIONS, {0}, "/a", 2),
        ("once", SESSIONS, {0, 2}, "/a", Refuse),
        ("once", SESSIONS, set(), "/c", Refuse),
        ("none", [], set(), "/a", Refuse),
        ("new_episodes", SESSIONS, set(), "/c", Record),
        ("new_episodes", SESSIONS, set(), "/b", 1),
        ("all", SESSIONS, set(), "/a", Record),
        ("rewrite", SESSIONS, set(), "/a", Record),
        ("verify", SESSIONS, set(), "/a", Record),
    ],
    ids=[
        "once-empty-records",
        "once-replays-first",
        "once-replays-next-unplayed",
        "once-all-played-misses",
        "once-unknown-path-misses",
        "none-misses",
        "new-episodes-records-new-path",
        "new-episodes-replays-known",
        "all-records",
        "rewrite-records",
        "verify-goes-live",
    ],
)
def test_decide_by_mode_and_recorded_sessions(
    mode: Any, sessions: list[WebSocketSession], played: set[int], path: str, expected: Any
) -> None:
    plan = decide(mode, path, sessions, played, cassette=Path("c.json"), url=f"wss://x{path}")
    if isinstance(expected, int):
        assert isinstance(plan, Replay)
        assert plan.index == expected
    else:
        assert type(plan) is expected


def test_a_cassette_with_sessions_round_trips_and_keeps_one_frame_per_line() -> None:
    session = WebSocketSession(
        path="/v1/realtime",
        headers={"authorization": "<redacted>"},
        frames=[
            JsonFrame("server", value={"type": "session.created", "text": "line\nbreak"}),
            BinaryFrame("client", delay_ms=3, data=b"\x00\xff"),
            CloseFrame("server", code=1011, reason="internal error"),
        ],
    )
    cassette = Cassette(version=1, websockets=[session, WebSocketSession(path="/empty")])
    data = cassette.to_bytes()
    assert Cassette.from_bytes(data) == cassette
    lines = data.decode().splitlines()
    assert '        {"kind":"binary","from":"client","delay_ms":3,"data":"AP8="},' in lines
    assert '        {"kind":"close","from":"server","code":1011,"reason":"internal error"}' in lines


def test_the_pure_half_imports_no_websocket_or_http_library() -> None:
    import ast

    from tests.test_layering import PACKAGE, imported_roots

    tree = ast.parse((PACKAGE / "_frames.py").read_text())
    assert not imported_roots(tree) & {"websockets", "httpx", "httpx2", "pytest"}


KEY = "sk-proj-Zq3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def test_the_secret_scan_sees_binary_frames_and_keys_split_across_frames() -> None:
    from promptecho._secrets import find_secret

    binary = WebSocketSession(
        path="/ws", frames=[BinaryFrame("server", data=f"key={KEY}".encode())]
    )
    hit = find_secret(binary)
    assert hit is not None
    assert (hit.path, hit.kind, hit.url) == (
        "$.frames[0].data (the decoded bytes)",
        "openai",
        "/ws",
    )
    split = WebSocketSession(
        path="/ws",
        frames=[
            JsonFrame("server", value={"type": "response.output_text.delta", "delta": KEY[:12]}),
            JsonFrame("server", value={"type": "response.output_text.delta", "delta": KEY[12:]}),
        ],
    )
    hit = find_secret(split)
    assert hit is not None
    assert hit.path == "$.frames[*] (joined across events)"
    assert find_secret(WebSocketSession(path="/ws", frames=split.frames[:1])) is None
