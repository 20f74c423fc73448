"""Seeded generators of realistic LLM traffic for the benchmarks.

Shapes follow the OpenAI Chat Completions samples described in ``shared/wire`` (read
once when this file was written, never at run time): compact request bodies as the
SDK sends them, compact response bodies, the response headers a real call carries
(date, request ids, rate limits, cookies), and ``chat.completion.chunk`` SSE events
ending with ``data: [DONE]``. Text mixes ASCII with some non-ASCII words, so UTF-8
handling is exercised.

Every function takes a seed (or an index mixed into one) and is deterministic:
the same arguments give the same bytes on every machine.
"""

from __future__ import annotations

import json
import random
import string

__all__ = [
    "CHAT_URL",
    "agent_request",
    "chat_request",
    "chat_response",
    "request_headers",
    "response_headers",
    "sse_events",
    "sse_headers",
]

CHAT_URL = "https://api.openai.com/v1/chat/completions"
MODEL = "gpt-4.1-mini"
MODEL_DATED = "gpt-4.1-mini-2025-04-14"

_WORDS = [
    "the",
    "model",
    "answer",
    "request",
    "token",
    "stream",
    "cassette",
    "replay",
    "record",
    "latency",
    "budget",
    "tool",
    "call",
    "result",
    "weather",
    "city",
    "forecast",
    "temperature",
    "humidity",
    "wind",
    "paris",
    "tokyo",
    "lima",
    "oslo",
    "cairo",
    "function",
    "argument",
    "schema",
    "object",
    "string",
    "number",
    "boolean",
    "array",
    "summary",
    "context",
    "window",
    "prompt",
    "system",
    "user",
    "assistant",
    "message",
    "content",
    "reasoning",
    "effort",
    "cache",
    "retry",
    "timeout",
    "invoice",
    "customer",
    "order",
    "shipment",
    "refund",
    "account",
    "balance",
    "ledger",
    "report",
    "quarterly",
    "café",
    "naïve",
    "résumé",
    "déjà-vu",
    "Zürich",
    "São",
    "Köln",
    "東京",
    "データ",
    "—",
    "“quoted”",
    "…",
]


def _dumps(value: object) -> bytes:
    """Compact JSON with raw UTF-8, as the OpenAI SDK (httpx ``json=``-style) sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _text(rng: random.Random, n_bytes: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_bytes:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word.encode()) + 1
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."


def _token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def request_headers(seed: int = 0) -> list[tuple[str, str]]:
    """Headers the openai SDK sends (the key is a fake, redacted by every recorder)."""
    rng = random.Random(seed)
    return [
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("user-agent", "OpenAI/Python 3.57.0"),
        ("authorization", f"Bearer sk-proj-{_token(rng, 40)}"),
        ("x-stainless-lang", "python"),
        ("x-stainless-package-version", "3.57.0"),
        ("x-stainless-os", "Linux"),
        ("x-stainless-arch", "x64"),
        ("x-stainless-runtime", "CPython"),
        ("x-stainless-runtime-version", "3.11.7"),
        ("x-stainless-retry-count", "0"),
        ("x-stainless-read-timeout", "600"),
    ]


def chat_request(index: int, *, seed: int = 1, size: int = 1600, stream: bool = False) -> bytes:
    """A ~``size``-byte Chat Completions request; distinct for every ``index``."""
    rng = random.Random(seed * 1_000_003 + index)
    body: dict[str, object] = {
        "messages": [
            {"role": "developer", "content": _text(rng, size // 3)},
            {"role": "user", "content": f"Case {index}: " + _text(rng, size // 2)},
        ],
        "model": MODEL,
        "max_completion_tokens": 1024,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    raw = _dumps(body)
    # Trim or pad the user text so that bodies are close to the asked size.
    missing = size - len(raw)
    if missing > 0:
        msg = body["messages"][1]  # type: ignore[index]
        msg["content"] += " " + _text(rng, missing)[: max(missing - 2, 0)]
        raw = _dumps(body)
    return raw


def chat_response(index: int, *, seed: int = 2, size: int = 1900) -> bytes:
    """A ~``size``-byte ``chat.completion`` body, compact, for request ``index``."""
    rng = random.Random(seed * 1_000_003 + index)
    body = {
        "id": f"chatcmpl-{_token(rng, 29)}",
        "object": "chat.completion",
        "created": 1795558502 + index,
        "model": MODEL_DATED,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 380 + index % 50,
            "completion_tokens": 410 + index % 70,
            "total_tokens": 790 + index % 120,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_{_token(rng, 10, '0123456789abcdef')}",
    }
    overhead = len(_dumps(body))
    body["choices"][0]["message"]["content"] = _text(rng, max(size - overhead - 8, 16))  # type: ignore[index]
    return _dumps(body)


def response_headers(
    index: int, *, seed: int = 3, sse: bool = False, cookie: bool = False
) -> list[tuple[str, str]]:
    """The headers of a real OpenAI answer (volatile ones included), without framing.

    ``set-cookie`` is left out unless asked for: promptecho scrubs it when recording while
    vcrpy and cassetter replay it, and httpx's cookie jar then costs more per call than
    the replay itself, which would compare cookie jars rather than recorders.
    """
    rng = random.Random(seed * 1_000_003 + index)
    headers = [
        ("date", "Tue, 24 Nov 2026 10:15:02 GMT"),
        ("content-type", "text/event-stream; charset=utf-8" if sse else "application/json"),
        ("access-control-expose-headers", "X-Request-ID"),
        ("openai-organization", "user-abc123def456"),
        ("openai-processing-ms", str(200 + rng.randrange(900))),
        ("openai-project", "proj_AbCdEf0123456789ghIJklmn"),
        ("openai-version", "2020-10-01"),
        ("x-envoy-upstream-service-time", str(200 + rng.randrange(900))),
        ("x-ratelimit-limit-requests", "10000"),
        ("x-ratelimit-limit-tokens", "30000000"),
        ("x-ratelimit-remaining-requests", "9999"),
        ("x-ratelimit-remaining-tokens", str(29999000 + rng.randrange(999))),
        ("x-ratelimit-reset-requests", "6ms"),
        ("x-ratelimit-reset-tokens", "0s"),
        ("x-request-id", f"req_{_token(rng, 32, '0123456789abcdef')}"),
        ("cf-cache-status", "DYNAMIC"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
        ("x-content-type-options", "nosniff"),
        ("server", "cloudflare"),
        ("cf-ray", f"{_token(rng, 16, '0123456789abcdef')}-SJC"),
    ]
    if cookie:
        headers.append(
            ("set-cookie", f"__cf_bm={_token(rng, 43)}; path=/; HttpOnly; Secure; SameSite=None")
        )
    return headers


def sse_headers(seed: int = 4) -> list[tuple[str, str]]:
    return response_headers(0, seed=seed, sse=True)


def sse_events(n_events: int = 300, *, seed: int = 5) -> list[bytes]:
    """``n_events`` framed SSE events of one streamed chat completion, ``[DONE]`` last.

    The first event carries the role, then content deltas (one to three words), then the
    finish event, the usage event and ``data: [DONE]``.
    """
    rng = random.Random(seed)
    cid = f"chatcmpl-{_token(rng, 29)}"
    fp = f"fp_{_token(rng, 10, '0123456789abcdef')}"

    def chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
        body: dict[str, object] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": 1795558502,
            "model": MODEL_DATED,
            "service_tier": "default",
            "system_fingerprint": fp,
            "choices": []
            if usage is not None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
            "obfuscation": _token(rng, rng.randrange(2, 12)),
        }
        return b"data: " + _dumps(body) + b"\n\n"

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    for _ in range(n_events - 4):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 4)))
        events.append(chunk({"content": words + " "}))
    events.append(chunk({}, finish="stop"))
    events.append(
        chunk(
            {},
            usage={"prompt_tokens": 412, "completion_tokens": n_events - 4, "total_tokens": 700},
        )
    )
    events.append(b"data: [DONE]\n\n")
    return events


def _tool(rng: random.Random, i: int) -> dict[str, object]:
    props = {
        f"arg_{k}": {
            "type": rng.choice(["string", "number", "boolean"]),
            "description": _text(rng, 60),
        }
        for k in range(rng.randrange(2, 6))
    }
    return {
        "type": "function",
        "function": {
            "name": f"tool_{i:02d}_{rng.choice(_WORDS[:40])}",
            "description": _text(rng, 180),
            "parameters": {
                "type": "object",
                "properties": props,
                "required": sorted(props)[:2],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def agent_request(
    *, turns: int = 60, n_tools: int = 20, seed: int = 6, size: int = 200_000
) -> bytes:
    # Tool results escape their non-ASCII text, so a first pass overshoots: rescale once.
    first = _agent_request(turns, n_tools, seed, size)
    return _agent_request(turns, n_tools, seed, size * size // len(first))


def _agent_request(turns: int, n_tools: int, seed: int, size: int) -> bytes:
    """An agent loop's request: ``turns`` rounds of assistant tool calls and tool results.

    Each turn is an assistant message with one or two ``tool_calls`` (arguments as a JSON
    string, as OpenAI sends them) followed by one ``tool`` message per call, and every
    few turns a user message. Tool results are sized so the body lands near ``size``.
    """
    rng = random.Random(seed)
    tools = [_tool(rng, i) for i in range(n_tools)]
    messages: list[dict[str, object]] = [
        {"role": "developer", "content": _text(rng, 1500)},
        {"role": "user", "content": _text(rng, 400)},
    ]
    skeleton = len(_dumps({"model": MODEL, "messages": messages, "tools": tools}))
    per_turn = max((size - skeleton) // turns, 400)
    for turn in range(turns):
        calls = []
        for _ in range(rng.randrange(1, 3)):
            tool = rng.choice(tools)["function"]  # type: ignore[index]
            args = {name: _text(rng, 20) for name in tool["parameters"]["properties"]}  # type: ignore[index]
            calls.append(
                {
                    "id": f"call_{_token(rng, 24)}",
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": json.dumps(args)},  # type: ignore[index]
                }
            )
        messages.append(
            {"role": "assistant", "content": None, "tool_calls": calls, "refusal": None}
        )
        result_size = max((per_turn - 250 * len(calls)) // len(calls) - 60, 50)
        for call in calls:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "content": json.dumps(
                        {"ok": True, "turn": turn, "data": _text(rng, result_size)}
                    ),
                }
            )
        if turn % 10 == 9:
            messages.append({"role": "user", "content": _text(rng, 200)})
    body = {
        "messages": messages,
        "model": MODEL,
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "max_completion_tokens": 4096,
    }
    return _dumps(body)


if __name__ == "__main__":  # pragma: no cover - a quick look at the sizes
    print("chat request", len(chat_request(0)), "response", len(chat_response(0)))
    print("agent request", len(agent_request()))
    ev = sse_events()
    print("sse events", len(ev), "bytes", sum(map(len, ev)))
