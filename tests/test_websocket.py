"""WebSocketEcho through real sockets with a plain websockets client: failures recorded and replayed,
the modes, what the cassette holds (one frame per line, no secrets, HTTP interactions kept).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

import promptecho
from promptecho import Cassette, CassetteError, CassetteMiss, WebSocketEcho
from promptecho._cassette import BinaryFrame, CloseFrame, JsonFrame
from promptecho.testing import FakeUpstream
from tests.conftest import chat
from tests.ws_upstream import AUDIO, FakeWebSocketUpstream, realtime, realtime_greeting

NOWHERE = "ws://127.0.0.1:9"  # replay must never connect: nothing listens there
PATH = "/v1/realtime?model=gpt-realtime"


def hello_session(url: str, text: str = "hi", *, path: str = PATH, **options: Any) -> list[Any]:
    """session.update, one user message, response.create; every server event until response.done."""
    seen = []
    with connect(f"{url}{path}", open_timeout=5, close_timeout=5, **options) as ws:
        seen.append(json.loads(ws.recv(timeout=5)))
        ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        seen.append(json.loads(ws.recv(timeout=5)))
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        ws.send(
            json.dumps(
                {"type": "conversation.item.create", "event_id": f"local_{text}", "item": item}
            )
        )
        ws.send(json.dumps({"type": "response.create"}))
        while seen[-1]["type"] != "response.done":
            seen.append(json.loads(ws.recv(timeout=5)))
    return seen


@pytest.fixture
def rt() -> Any:
    with FakeWebSocketUpstream(realtime, realtime_greeting) as upstream:
        yield upstream


def test_records_through_a_real_socket_and_replays_with_the_upstream_down(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        live = hello_session(echo.url)
    rt.stop()
    with WebSocketEcho(cassette_path, rt.url, mode="none") as echo:
        again = hello_session(echo.url)
    assert [e["type"] for e in live][-1] == "response.done"
    assert again == live
    assert len(rt.seen) == 1


def test_client_made_up_ids_are_matched_by_their_order_of_appearance(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        hello_session(echo.url)
    recorded = Cassette.load(cassette_path).websockets[0].frames
    assert {"event_id": "local_hi"}.items() <= recorded[3].value.items()  # type: ignore[union-attr]
    # The same conversation with another client-made event id replays: the id is <id:0> both times.
    with WebSocketEcho(cassette_path, NOWHERE, mode="none") as echo:
        with connect(f"{echo.url}{PATH}", open_timeout=5) as ws:
            ws.recv(timeout=5)
            ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
            ws.recv(timeout=5)
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
            ws.send(
                json.dumps(
                    {"type": "conversation.item.create", "event_id": "evt_other", "item": item}
                )
            )
            # (Recorded: both client frames before the server's answer, so replay waits for both.)
            ws.send(json.dumps({"type": "response.create"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "conversation.item.added"
    assert echo.misses == []


def test_the_upstream_refusing_the_handshake_is_recorded_and_replayed(cassette_path: Path) -> None:
    with (
        FakeWebSocketUpstream(realtime, refuse=401) as upstream,
        WebSocketEcho(cassette_path, upstream.url) as echo,
    ):
        with pytest.raises(InvalidStatus) as live:
            hello_session(echo.url)
    with WebSocketEcho(cassette_path, NOWHERE, mode="none") as echo:
        with pytest.raises(InvalidStatus) as again:
            hello_session(echo.url)
    assert live.value.response.status_code == again.value.response.status_code == 401
    assert again.value.response.body == live.value.response.body
    assert json.loads(again.value.response.body)["error"]["code"] == "invalid_api_key"
    refused = Cassette.load(cassette_path).websockets[0].refused
    assert refused is not None
    assert refused.status == 401


def abort_midway(
    url: str, event: str
) -> tuple[list[Any], ConnectionClosedError | ConnectionClosedOK]:
    seen = []
    with connect(f"{url}{PATH}", open_timeout=5, close_timeout=5) as ws:
        seen.append(json.loads(ws.recv(timeout=5)))
        ws.send(json.dumps({"type": event}))
        with pytest.raises((ConnectionClosedError, ConnectionClosedOK)) as closed:
            ws.recv(timeout=5)
    return seen, closed.value


def seen_close(closed: ConnectionClosedError | ConnectionClosedOK) -> tuple[int, str]:
    return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (1006, "")


@pytest.mark.parametrize(
    ("event", "code", "reason"),
    [("abort.please", 1006, ""), ("close.please", 1011, "internal error")],
    ids=["dropped-without-close-frame", "closed-with-1011"],
)
def test_an_abnormal_close_mid_session_is_recorded_and_replayed(
    cassette_path: Path, rt: FakeWebSocketUpstream, event: str, code: int, reason: str
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        live_seen, live = abort_midway(echo.url, event)
    with WebSocketEcho(cassette_path, NOWHERE, mode="none") as echo:
        again_seen, again = abort_midway(echo.url, event)
    assert again_seen == live_seen
    assert isinstance(live, ConnectionClosedError)
    assert isinstance(again, ConnectionClosedError)
    # What the client saw: no close frame at all (1006), or the upstream's code and reason.
    assert seen_close(live) == seen_close(again) == (code, reason)
    last = Cassette.load(cassette_path).websockets[0].frames[-1]
    assert last == CloseFrame("server", delay_ms=last.delay_ms, code=code, reason=reason)


def test_a_cassette_holds_http_interactions_and_websocket_sessions_and_survives_re_records(
    cassette_path: Path, rt: FakeWebSocketUpstream, live: FakeUpstream
) -> None:
    def http_call(mode: str) -> Any:
        with promptecho.client(cassette_path, base_url=live.url, mode=mode) as client:  # type: ignore[arg-type]
            return client.post("/v1/chat/completions", json=chat("Say hello.")).json()

    answer = http_call("once")
    with WebSocketEcho(cassette_path, rt.url) as echo:
        events = hello_session(echo.url)
    both = Cassette.load(cassette_path)
    assert len(both.interactions) == 1
    assert len(both.websockets) == 1
    # Re-record the HTTP part: the WebSocket session stays; re-record the WebSocket part: the
    # HTTP interaction stays.
    assert http_call("all") == answer
    assert Cassette.load(cassette_path).websockets == both.websockets
    with WebSocketEcho(cassette_path, rt.url, mode="all") as echo:
        assert hello_session(echo.url) == events
    again = Cassette.load(cassette_path)
    assert len(again.interactions) == 1
    assert len(again.websockets) == 1
    live.stop()
    rt.stop()
    assert http_call("none") == answer
    with WebSocketEcho(cassette_path, NOWHERE, mode="none") as echo:
        assert hello_session(echo.url) == events


def test_mode_none_with_no_recorded_session_closes_with_1008_and_raises_the_miss(
    cassette_path: Path,
) -> None:
    echo = WebSocketEcho(cassette_path, NOWHERE, mode="none")
    echo.start()
    with pytest.raises(ConnectionClosedError) as closed:
        hello_session(echo.url)
    with pytest.raises(CassetteMiss) as raised:
        echo.close()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "no recorded WebSocket session has this path and query" in str(raised.value)
    assert echo.misses == [raised.value]


def test_once_records_only_while_the_cassette_has_no_session(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        hello_session(echo.url)
    echo = WebSocketEcho(cassette_path, rt.url)
    echo.start()
    hello_session(echo.url)  # replayed
    with pytest.raises(ConnectionClosedError):
        hello_session(echo.url, path="/v1/realtime?model=gpt-realtime-mini")
    with pytest.raises(CassetteMiss):
        echo.close()
    assert len(rt.seen) == 1


def test_new_episodes_appends_a_new_session_and_all_replaces_them(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        hello_session(echo.url)
    with WebSocketEcho(cassette_path, rt.url, mode="new_episodes") as echo:
        hello_session(echo.url)  # replayed
        hello_session(echo.url, path="/v1/realtime?model=gpt-realtime-mini")  # recorded
    assert [s.path for s in Cassette.load(cassette_path).websockets] == [
        PATH,
        "/v1/realtime?model=gpt-realtime-mini",
    ]
    assert len(rt.seen) == 2
    with WebSocketEcho(cassette_path, rt.url, mode="all") as echo:
        hello_session(echo.url, path="/v1/realtime?model=gpt-realtime-mini")
    assert [s.path for s in Cassette.load(cassette_path).websockets] == [
        "/v1/realtime?model=gpt-realtime-mini"
    ]


def test_verify_relays_live_and_writes_nothing_and_rewrite_replaces_the_sessions(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        recorded = hello_session(echo.url)
    before = cassette_path.read_bytes()
    with WebSocketEcho(cassette_path, rt.url, mode="verify") as echo:
        assert hello_session(echo.url) == recorded
    assert len(rt.seen) == 2
    assert cassette_path.read_bytes() == before
    with WebSocketEcho(cassette_path, rt.url, mode="rewrite") as echo:
        hello_session(echo.url, path="/v1/realtime?model=gpt-realtime-mini")
    assert [s.path for s in Cassette.load(cassette_path).websockets] == [
        "/v1/realtime?model=gpt-realtime-mini"
    ]


def test_a_bad_mode_is_refused_in_the_words_of_the_http_transports(cassette_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("'onse' is not a valid mode. Valid modes are: 'once', 'none', "),
    ):
        WebSocketEcho(cassette_path, NOWHERE, mode="onse")  # type: ignore[arg-type]


def test_the_cassette_has_one_frame_per_line_and_no_handshake_secret(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    key = "sk-proj-Zq3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    with WebSocketEcho(cassette_path, rt.url, audio_bytes=8) as echo:
        hello_session(
            echo.url,
            path=f"{PATH}&api_key={key}",
            additional_headers={"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"},
        )
    text = cassette_path.read_text()
    assert key not in text
    assert ("Authorization", f"Bearer {key}") in rt.seen[0].headers  # the upstream got it
    session = Cassette.load(cassette_path).websockets[0]
    assert session.path == f"{PATH}&api_key=<redacted>"
    assert session.headers == {"authorization": "<redacted>", "openai-beta": "realtime=v1"}
    frame_lines = [line for line in text.splitlines() if line.lstrip().startswith('{"kind":')]
    assert len(frame_lines) == len(session.frames)
    assert [json.loads(line.rstrip(",")) for line in frame_lines] == [
        json.loads(Cassette(version=1, websockets=[session]).to_bytes())["websockets"][0]["frames"][
            n
        ]
        for n in range(len(session.frames))
    ]
    # The whitespace is the only difference from msgspec's own pretty-printing.
    import msgspec

    assert msgspec.json.decode(text) == msgspec.json.decode(msgspec.json.format(text, indent=2))
    audio = [
        f
        for f in session.frames
        if isinstance(f, JsonFrame) and f.value["type"] == "response.output_audio.delta"
    ]
    assert [a.value["delta"] for a in audio] == ["AAECAwQFBgc="]  # 8 bytes of the 2048 sent
    assert len(AUDIO) > 2000


def test_a_secret_in_a_frame_is_refused_before_anything_is_written(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    key = "sk-proj-Zq3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    echo = WebSocketEcho(cassette_path, rt.url)
    echo.start()
    hello_session(echo.url, text=f"my key is {key}")
    with pytest.raises(
        CassetteError, match=r"refusing to write a secret \(openai\) found at \$\.frames\[3\]"
    ):
        echo.close()
    assert not cassette_path.exists()


def test_binary_frames_are_stored_as_base64_and_replayed_as_bytes(cassette_path: Path) -> None:
    def answer(message: Any, turn: Any) -> list[Any]:
        return [message]

    with (
        FakeWebSocketUpstream(answer) as upstream,
        WebSocketEcho(cassette_path, upstream.url) as echo,
    ):
        with connect(f"{echo.url}/echo", open_timeout=5) as ws:
            ws.send(json.dumps({"n": 1}))
            first = ws.recv(timeout=5)
    frames = Cassette.load(cassette_path).websockets[0].frames
    assert isinstance(frames[0], JsonFrame)
    assert first == '{"n": 1}'
    session = Cassette.load(cassette_path).websockets[0]
    session.frames.insert(2, BinaryFrame("server", data=b"\x00\xffpcm"))  # before the close
    Cassette(version=1, websockets=[session]).save(cassette_path)
    assert '"data":"AP9wY20="' in cassette_path.read_text()
    with WebSocketEcho(cassette_path, NOWHERE, mode="none") as echo:
        with connect(f"{echo.url}/echo", open_timeout=5) as ws:
            ws.send(json.dumps({"n": 1}))
            assert json.loads(ws.recv(timeout=5)) == {"n": 1}
            assert ws.recv(timeout=5) == b"\x00\xffpcm"


def test_importing_promptecho_websocket_echo_is_lazy() -> None:
    assert promptecho.WebSocketEcho is WebSocketEcho
    assert "WebSocketEcho" in promptecho.__all__


def test_replay_uses_no_network_beyond_the_local_server(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with WebSocketEcho(cassette_path, rt.url) as echo:
        hello_session(echo.url)
    before = len(rt.seen)
    with WebSocketEcho(cassette_path, rt.url, mode="once") as echo:
        hello_session(echo.url)
    assert len(rt.seen) == before
    with httpx.Client() as client, pytest.raises(httpx.HTTPError):
        client.get(echo.url.replace("ws://", "http://"))  # the echo is stopped after its block


def test_a_cassette_scope_hands_out_a_websocket_echo_closed_with_it(
    cassette_path: Path, rt: FakeWebSocketUpstream
) -> None:
    with promptecho.use_cassette(cassette_path) as cassette:
        echo = cassette.websocket(rt.url)
        live = hello_session(echo.url)
    assert len(Cassette.load(cassette_path).websockets) == 1  # written when the scope closed
    rt.stop()
    with promptecho.use_cassette(cassette_path, mode="none") as cassette:
        echo = cassette.websocket(NOWHERE)
        assert echo.mode == "none"
        assert hello_session(echo.url) == live


# The command sees the sessions: show lists them, check scans them


def test_show_lists_each_session_with_its_frames_and_close(
    cassette_path: Path, rt: FakeWebSocketUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptecho._cli import main

    with WebSocketEcho(cassette_path, rt.url) as echo:
        seen = hello_session(echo.url)
    frames = Cassette.load(cassette_path).websockets[0].frames
    client = sum(frame.from_ == "client" for frame in frames)
    assert main(["show", str(cassette_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{cassette_path}: 0 interactions, 1 WebSocket session"
    assert out[2] == f"~0 WebSocket {PATH}"
    assert out[4].startswith(
        f" -> {len(frames)} frames: {client} from the client, {len(frames) - client} from the server"
    )
    assert out[4].endswith("; closed 1000")
    assert isinstance(frames[-1], CloseFrame)
    assert frames[-1].from_ == "client"  # it closed the session
    assert len(seen) == len(frames) - client  # the server sent what the client read
    assert main(["show", "--json", str(cassette_path)]) == 0
    summary = json.loads(capsys.readouterr().out)["websockets"][0]
    assert (summary["frames"], summary["client"], summary["close"]) == (
        len(frames),
        client,
        {"code": 1000, "reason": ""},
    )


def test_check_finds_a_secret_a_frame_holds_and_a_cassette_of_sessions_only(
    tmp_path: Path, rt: FakeWebSocketUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptecho._cli import check_files, main

    key = "sk-proj-Zq3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    cassette = tmp_path / "cassettes" / "leaky.json"
    with WebSocketEcho(cassette, rt.url, allow_secrets=True) as echo:
        for n in range(40):  # a file over 4 KiB, so the folder scan reads only its head
            hello_session(echo.url, text=f"turn {n}" if n else f"my key is {key}")
    assert cassette.stat().st_size > 4096
    assert b'"interactions"' not in cassette.read_bytes()
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{cassette}: $.websockets[0].frames[3]")
    assert out[0].endswith(": secret: looks like an openai key")
    assert key not in "\n".join(out)
    assert out[-1] == "1 cassette checked, 1 finding"
    # The sessions' recording times count for --max-age, as the interactions' do
    recorded = datetime.fromisoformat(Cassette.load(cassette).websockets[0].recorded_at or "")
    late = check_files([cassette], max_age=timedelta(days=30), now=recorded + timedelta(days=31))
    assert [f.code for f in late] == ["secret", "expired"]
