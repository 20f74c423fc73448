"""canonicalize_request(): the same conversation gives the same canonical request."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptecho._canonical import canonicalize_request

DATA = Path(__file__).parent / "data" / "canonical"
CHAT_URL = "https://api.openai.com/v1/chat/completions"


def request(name: str, url: str = CHAT_URL):
    return canonicalize_request(
        "POST", url, (DATA / f"{name}.request.json").read_bytes(), "application/json"
    )


def test_system_and_developer_roles_give_the_same_canonical_request():
    text = request("openai-chat/text").body
    developer = request("openai-chat/developer-reasoning").body
    assert text["system"] == developer["system"] == "You are a concise assistant. Answer in French."
    assert text["messages"] == developer["messages"]


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
            {
                "sha256": "ea5dbf9596d187e9500f23e9a680109475341cf4e81f7e043f7d97152c10772f",
                "size": 2,
            },
        ),
    ],
    ids=["empty", "json-array", "unknown-object", "binary"],
)
def test_bodies_no_dialect_knows_fall_back(body, content_type, api, canonical):
    result = canonicalize_request("POST", "https://example.com/x", body, content_type)
    assert (result.api, result.stream, result.body) == (api, False, canonical)
