"""The pure Recorder: decisions from plain values, no HTTP library, no network."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from promptecho import Cassette, CassetteMiss
from promptecho._cassette import Failure, Json, Sse
from promptecho._options import Options
from promptecho._recorder import Record, Recorder, Replay
from promptecho._store import journal_path

URL = "https://api.openai.com/v1/chat/completions"
JSON_HEADERS = [("content-type", "application/json")]


def body(text: str, **extra: object) -> bytes:
    return json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    ).encode()


def record_one(recorder: Recorder, text: str, answer: bytes = b'{"ok": true}') -> None:
    decision = recorder.decide("POST", URL, JSON_HEADERS, body(text))
    assert isinstance(decision, Record)
    now = time.perf_counter()
    recorder.complete(decision, 200, JSON_HEADERS, [(now, answer)], started=now)


def test_a_recorded_answer_is_replayed_from_plain_values(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "hi", b'{"answer": 42}')
    recorder.close()
    replay = Recorder(path, Options(mode="none")).decide("POST", URL, JSON_HEADERS, body("hi"))
    assert isinstance(replay, Replay)
    assert (replay.status, replay.chunks, replay.error) == (200, [(0, b'{"answer": 42}')], None)
    assert replay.headers == [("content-type", "application/json")]


def test_key_order_and_whitespace_do_not_change_the_match(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "hi")
    recorder.close()
    reordered = b'{ "messages" : [ {"content": "hi", "role": "user"} ],\n "model": "m" }'
    assert isinstance(
        Recorder(path, Options(mode="none")).decide("POST", URL, JSON_HEADERS, reordered), Replay
    )


def test_new_interactions_are_durable_in_the_journal_before_close(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "hi")
    assert not path.exists()
    assert journal_path(path).read_bytes().count(b"\n") == 1
    # A new recorder (the next run) folds the journal in.
    assert len(Recorder(path, Options(mode="none"))._index.entries) == 1
    assert len(Cassette.load(path).interactions) == 1


def test_a_failure_before_any_response_is_recorded_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    decision = recorder.decide("POST", URL, JSON_HEADERS, body("hi"))
    assert isinstance(decision, Record)
    recorder.fail(decision, Failure(type="ConnectTimeout", message="timed out"))
    recorder.close()
    replay = Recorder(path, Options(mode="none")).decide("POST", URL, JSON_HEADERS, body("hi"))
    assert isinstance(replay, Replay)
    assert replay.status is None
    assert replay.error == Failure(type="ConnectTimeout", message="timed out")


def test_a_stream_is_stored_as_events_and_replayed_one_event_per_chunk(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    decision = recorder.decide("POST", URL, JSON_HEADERS, body("hi", stream=True))
    assert isinstance(decision, Record)
    t = time.perf_counter()
    wire = [
        (t, b'data: {"a":1}\n\ndata: {"a"'),
        (t + 0.01, b":2}\n\n"),
        (t + 0.02, b"data: [DONE]\n\n"),
    ]
    recorder.complete(decision, 200, [("content-type", "text/event-stream")], wire, started=t)
    recorder.close()
    stored = Cassette.load(path).interactions[0].response
    assert stored is not None
    assert isinstance(stored.body, Sse)
    assert [e.data for e in stored.body.events] == [{"a": 1}, {"a": 2}, "[DONE]"]
    replay = Recorder(path, Options(mode="none")).decide(
        "POST", URL, JSON_HEADERS, body("hi", stream=True)
    )
    assert isinstance(replay, Replay)
    assert [chunk for _, chunk in replay.chunks] == [
        b'data: {"a":1}\n\n',
        b'data: {"a":2}\n\n',
        b"data: [DONE]\n\n",
    ]


def test_miss_in_none_mode_is_kept_on_misses(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "absent.json", Options(mode="none"))
    with pytest.raises(CassetteMiss) as miss:
        recorder.decide("POST", URL, JSON_HEADERS, body("hi"))
    assert recorder.misses == [miss.value]
    assert miss.value.method == "POST"
    assert miss.value.url == URL


def test_unplayed_lists_the_recordings_this_run_did_not_use(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "a")
    record_one(recorder, "b")
    recorder.close()
    again = Recorder(path, Options(mode="none"))
    again.decide("POST", URL, JSON_HEADERS, body("a"))
    assert [i.request.body["messages"][0]["content"][0]["text"] for i in again.unplayed()] == ["b"]


def test_before_record_can_change_or_drop_an_interaction(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    seen = []

    def hook(interaction):  # type: ignore[no-untyped-def]
        seen.append(interaction)
        return None if len(seen) == 2 else interaction

    recorder = Recorder(path, Options(before_record=hook))
    record_one(recorder, "kept")
    record_one(recorder, "dropped")
    recorder.close()
    interactions = Cassette.load(path).interactions
    assert len(seen) == 2
    assert len(interactions) == 1
    assert isinstance(interactions[0].response.body, Json)  # type: ignore[union-attr]


# -- what a mode means: one table ----------------------------------------------------------

# (mode, the cassette exists, a recording matches) -> what decide() does
MODE_TABLE = [
    ("once", False, False, "record"),
    ("once", True, True, "replay"),
    ("once", True, False, "miss"),
    ("none", False, False, "miss"),
    ("none", True, True, "replay"),
    ("none", True, False, "miss"),
    ("new_episodes", False, False, "record"),
    ("new_episodes", True, True, "replay"),
    ("new_episodes", True, False, "record"),
    ("all", False, False, "record"),
    ("all", True, True, "record"),
    ("all", True, False, "record"),
]


@pytest.mark.parametrize(
    ("mode", "exists", "matches", "expected"),
    MODE_TABLE,
    ids=[
        f"{m}-{'exists' if e else 'absent'}-{'match' if h else 'nomatch'}"
        for m, e, h, _ in MODE_TABLE
    ],
)
def test_what_each_mode_does(tmp_path: Path, mode, exists, matches, expected) -> None:
    path = tmp_path / "c.json"
    if exists:
        recorder = Recorder(path)
        record_one(recorder, "recorded")
        recorder.close()
    recorder = Recorder(path, Options(mode=mode))
    text = "recorded" if matches else "other"
    try:
        decision = recorder.decide("POST", URL, JSON_HEADERS, body(text))
    except CassetteMiss:
        outcome = "miss"
    else:
        outcome = "replay" if isinstance(decision, Replay) else "record"
    assert outcome == expected
    assert len(recorder.misses) == (outcome == "miss")


def test_mode_all_keeps_only_what_it_recorded_and_unplayed_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "old")
    recorder.close()
    again = Recorder(path, Options(mode="all"))
    record_one(again, "new")
    assert again.unplayed() == []
    again.close()
    texts = [
        i.request.body["messages"][0]["content"][0]["text"]
        for i in Cassette.load(path).interactions
    ]
    assert texts == ["new"]


def test_each_recorded_interaction_says_when_and_by_which_version(tmp_path: Path) -> None:
    import re

    import promptecho

    path = tmp_path / "c.json"
    recorder = Recorder(path)
    record_one(recorder, "hi")
    recorder.close()
    [interaction] = Cassette.load(path).interactions
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", interaction.recorded_at or "")
    assert interaction.recorded_by == promptecho.__version__
