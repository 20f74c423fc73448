"""Cassettes for the command's tests, built from the wire samples in tests/data/wire.

Each interaction is made the way the recorder makes one: the request bytes canonicalised
by `canonicalize_request`, the response bytes turned into a body by `build_body`.
"""

from __future__ import annotations

from pathlib import Path

from promptecho._canonical import canonicalize_request
from promptecho._cassette import Cassette, Interaction, RecordedRequest, RecordedResponse
from promptecho._content import build_body
from tests.test_canonical import URLS as CANONICAL_URLS

WIRE = Path(__file__).parent / "data" / "wire"

# The canonicalisation tests' URLs, plus the two that differ by path for a stream or a server.
URLS = {
    **CANONICAL_URLS,
    "gemini-stream": CANONICAL_URLS["gemini"].replace(
        ":generateContent", ":streamGenerateContent?alt=sse"
    ),
    "ollama-compat": "http://localhost:11434/v1/chat/completions",
}
TYPES = {
    ".json": "application/json",
    ".sse": "text/event-stream",
    ".ndjson": "application/x-ndjson",
    ".mp3": "audio/mpeg",
}
RECORDED_AT = "2026-11-24T10:15:02Z"


def interaction(
    family: str, scenario: str, *, url: str | None = None, response: bytes | None = None
) -> Interaction:
    """One interaction from ``tests/data/wire/<family>/<scenario>.*``; ``response`` replaces its body."""
    folder = WIRE / family
    request_bytes = (folder / f"{scenario}.request.json").read_bytes()
    response_file = next(folder.glob(f"{scenario}.response.*"))
    content_type = TYPES[response_file.suffix]
    data = response_file.read_bytes() if response is None else response
    if url is None:
        url = URLS[family]
        if family == "gemini" and "stream" in scenario:
            url = URLS["gemini-stream"]
        if family == "ollama" and scenario.startswith("openai-compat"):
            url = URLS["ollama-compat"]
    canonical = canonicalize_request(url, request_bytes, "application/json")
    # Chunked by line, 10 ms apart, so that stream events carry delays.
    lines = data.splitlines(keepends=True)
    chunks = [(0.01 * n, line) for n, line in enumerate(lines, 1)]
    body = build_body(content_type, chunks, stream_started=0.0)
    return Interaction(
        request=RecordedRequest(
            method="POST",
            url=url,
            api=canonical.api,
            stream=canonical.stream,
            headers={"content-type": "application/json"},
            body=canonical.body,
        ),
        response=RecordedResponse(status=200, headers={"content-type": content_type}, body=body),
        recorded_at=RECORDED_AT,
        recorded_by="promptecho 0.1.0",
    )


def cassette(*interactions: Interaction) -> Cassette:
    return Cassette(version=1, interactions=list(interactions))


def write(path: Path, *interactions: Interaction) -> Path:
    cassette(*interactions).save(path)
    return path
