"""``promptecho import``: vcrpy and cassetter cassettes recorded here, converted, and replayed.

Each round trip records with the other tool's own patching against a real socket
(`promptecho.testing.FakeUpstream`), stops the server, converts the cassette, and replays
the same requests through promptecho in mode "none": the same answers come back.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import promptecho
from promptecho._cassette import Cassette, Json, Sse
from promptecho._cli import main
from promptecho.testing import FakeUpstream, Reply, Seen, openai_chat_handler

FAKE_KEY = "sk-test-Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ"  # key-shaped, not a key


def handler(seen: Seen) -> Reply:
    """OpenAI's fake, gzipped when the question asks for it."""
    reply = openai_chat_handler(seen)
    return dataclasses.replace(reply, gzip=b"gzip" in seen.body)


CALLS = [
    {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hello"}]},
    {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hello gzip"}]},
    {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "user", "content": "a stream"}],
        "stream": True,
    },
]


def ask(client: httpx.Client, base: str) -> list[Any]:
    """Each call's answer as the caller reads it: the JSON, or the stream's text lines."""
    answers: list[Any] = []
    for body in CALLS:
        headers = {"authorization": f"Bearer {FAKE_KEY}"}
        url = f"{base}/v1/chat/completions"
        if body.get("stream"):
            with client.stream("POST", url, json=body, headers=headers) as response:
                answers.append([line for line in response.iter_lines() if line])
        else:
            answers.append(client.post(url, json=body, headers=headers).json())
    return answers


def record(tool: Callable[[Path], Any], path: Path) -> list[Any]:
    with FakeUpstream(handler) as upstream, tool(path), httpx.Client() as client:
        return ask(client, upstream.url)


def replay(path: Path) -> list[Any]:
    transport = promptecho.EchoTransport(path, mode="none")
    with httpx.Client(transport=transport) as client:
        return ask(client, "http://127.0.0.1:9")  # the server is gone; nothing may go out


def vcrpy_yaml(path: Path) -> Any:
    import vcr

    return vcr.use_cassette(str(path))


def vcrpy_json(path: Path) -> Any:
    import vcr

    # The JSON serializer cannot hold bytes: vcrpy stores the gzipped answer decoded.
    return vcr.use_cassette(str(path), serializer="json", decode_compressed_response=True)


def cassetter_any(path: Path) -> Any:
    import cassetter

    return cassetter.use_cassette(str(path), record_mode="all", intercept=["httpx"])


@pytest.mark.parametrize(
    ("tool", "name"),
    [
        (vcrpy_yaml, "vcr.yaml"),
        (vcrpy_json, "vcr.json"),
        (cassetter_any, "cassetter.yaml"),
        (cassetter_any, "cassetter.toml"),
    ],
    ids=["vcrpy-yaml", "vcrpy-json", "cassetter-yaml", "cassetter-toml"],
)
def test_an_imported_cassette_replays_the_same_answers(
    tool: Callable[[Path], Any], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / name
    live = record(tool, source)
    assert live[0]["choices"][0]["message"]["content"] == "You said: hello"
    assert any("You said" in line or "said" in line for line in live[2])
    if name == "vcr.yaml":  # the gzipped answer is kept as the wire bytes: the import decodes it
        assert "content-encoding:\n      - gzip" in source.read_text()
        assert "!!binary" in source.read_text()
    out = tmp_path / "converted.json"
    assert main(["import", str(source), "-o", str(out)]) == 0
    expected_format = "vcrpy" if name.startswith("vcr") else "cassetter"
    assert capsys.readouterr().out == (
        f"converted {source} ({expected_format}) -> {out}: 3 interactions\n"
    )
    assert replay(out) == live
    cassette = Cassette.load(out)
    assert [type(i.response.body) for i in cassette.interactions] == [Json, Json, Sse]
    assert [i.request.api for i in cassette.interactions] == ["openai-chat"] * 3
    text = out.read_text()
    assert FAKE_KEY not in text  # vcrpy writes authorization; the import redacts it
    if "authorization" in cassette.interactions[0].request.headers:
        assert cassette.interactions[0].request.headers["authorization"] == "<redacted>"


def vcr_document(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"interactions": interactions, "version": 1}


def vcr_interaction(response_body: dict[str, Any], headers: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "request": {
            "body": json.dumps(CALLS[0]),
            "headers": {"content-type": ["application/json"]},
            "method": "POST",
            "uri": "https://api.openai.com/v1/chat/completions",
        },
        "response": {
            "body": response_body,
            "headers": headers,
            "status": {"code": 200, "message": "OK"},
        },
    }


ANSWER = {"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"string": json.dumps(ANSWER)}, {"content-type": ["application/json"]}),
        (
            {"base64_string": base64.b64encode(json.dumps(ANSWER).encode()).decode()},
            {"content-type": ["application/json"]},
        ),
        ({"parsed_json": ANSWER}, {"content-type": ["application/json"]}),
        (
            {"string": gzip.compress(json.dumps(ANSWER).encode())},
            {"content-type": ["application/json"], "content-encoding": ["gzip"]},
        ),
    ],
    ids=["text", "base64", "parsed-under-another-key", "gzip-bytes"],
)
def test_vcrpy_body_layouts_all_give_the_json_answer(
    body: dict[str, Any], headers: dict[str, list[str]], tmp_path: Path
) -> None:
    source = tmp_path / "c.yaml"
    source.write_text(yaml.safe_dump(vcr_document([vcr_interaction(body, headers)])))
    assert main(["import", str(source)]) == 0
    cassette = Cassette.load(tmp_path / "c.json")  # beside its source by default
    answer = cassette.interactions[0].response.body
    assert isinstance(answer, Json)
    assert answer.value == ANSWER  # (json.dumps's spacing is kept too, in `raw`: byte-exact replay)
    assert "content-encoding" not in cassette.interactions[0].response.headers


def test_binary_bodies_stay_bytes(tmp_path: Path) -> None:
    mp3 = bytes(range(256)) * 4
    interaction = vcr_interaction({"string": mp3}, {"content-type": ["audio/mpeg"]})
    source = tmp_path / "c.yaml"
    source.write_text(yaml.safe_dump(vcr_document([interaction])))
    assert main(["import", str(source)]) == 0
    assert Cassette.load(tmp_path / "c.json").interactions[0].response.body.data == mp3


def test_import_reports_what_it_skipped_and_files_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    document = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.openai.com/v1/chat/completions",
                    "headers": {},
                    "body": {"type": "json", "content": CALLS[0]},
                },
                "response": {
                    "status": 200,
                    "headers": {"content-type": ["application/json"]},
                    "body": {"type": "json", "content": ANSWER},
                },
            }
        ],
        "ws_interactions": [{"uri": "wss://api.openai.com/v1/realtime", "frames": []}],
    }
    (folder / "ws.yaml").write_text(yaml.safe_dump(document))
    (folder / "pickled.yaml").write_text("!!python/object:foo.Bar {}\n")
    assert main(["import", str(folder), "-o", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"FAIL {folder / 'pickled.yaml'}: not YAML this importer reads")
    assert lines[0].endswith("unsupported serializer")
    assert lines[1] == (
        f"converted {folder / 'ws.yaml'} (cassetter) -> {tmp_path / 'out' / 'ws.json'}: "
        "1 interaction, skipped 1 (1 websocket frames: promptecho records HTTP only)"
    )
    assert main(["import", str(folder / "ws.yaml"), "-o", str(tmp_path / "o2"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["files"][0]
    assert report["interactions"] == 1
    assert report["skipped"] == ["1 websocket frames: promptecho records HTTP only"]


def test_an_interaction_holding_a_secret_is_skipped_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky = vcr_interaction(
        {"string": json.dumps({"echo": FAKE_KEY})}, {"content-type": ["application/json"]}
    )
    source = tmp_path / "c.yaml"
    source.write_text(yaml.safe_dump(vcr_document([leaky])))
    assert main(["import", str(source)]) == 0
    out = capsys.readouterr().out
    assert "0 interactions, skipped 1 (#0: a secret (openai) at $.response.body.value.echo" in out
    assert FAKE_KEY not in (tmp_path / "c.json").read_text()
