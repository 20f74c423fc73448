# Run once, before format 2 existed: python tests/data/v1/generate.py tests/data/v1/wire-samples.json
"""Record wire samples with the current (version 1) writer: test data for tests/data/v1."""
import json, sys
from pathlib import Path
import httpx
from promptecho import EchoTransport
from promptecho.testing import FakeUpstream, Reply

WIRE = Path("/work/shared/wire")
CASES = [
    ("/v1/chat/completions", "openai-chat/text.response.json", "application/json"),
    ("/v1/chat/completions", "openai-chat/text-stream.response.sse", "text/event-stream"),
    ("/v1/messages", "anthropic/text-stream.response.sse", "text/event-stream"),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", "gemini/stream.response.sse", "text/event-stream"),
    ("/api/chat", "ollama/chat-stream.response.ndjson", "application/x-ndjson"),
    ("/v1/audio/speech", "openai-audio/speech.response.mp3", "audio/mpeg"),
]
routes = {}
for i, (path, sample, ctype) in enumerate(CASES):
    routes[f"{path}?n={i}"] = (sample, ctype)

def handler(seen):
    sample, ctype = routes[seen.path]
    data = (WIRE / sample).read_bytes()
    if ctype == "text/event-stream":
        chunks = [c + b"\n\n" for c in data.replace(b"\r\n", b"\n").split(b"\n\n") if c] if b"\r\n" not in data else [data]
    else:
        chunks = [data]
    return Reply(200, headers=[("content-type", ctype)], chunks=chunks)

out = Path(sys.argv[1])
with FakeUpstream(handler) as up:
    with httpx.Client(base_url=up.url, transport=EchoTransport(out, mode="once")) as client:
        for i, (path, sample, ctype) in enumerate(CASES):
            body = {"model": "m", "messages": [{"role": "user", "content": f"sample {i}"}]}
            if ctype != "application/json":
                body["stream"] = True
            with client.stream("POST", f"{path}?n={i}", json=body) as r:
                r.read()
