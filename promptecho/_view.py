"""``promptecho view``: cassettes as one self-contained HTML page a reviewer opens.

Each interaction is a chat: system, user and assistant turns, tool calls and results,
thinking folded away (``<details>``), then the answer as the SDK user sees it, its token
usage, and for a stream a timeline of its events from the recorded delays. With two
cassettes and ``compare_pairs`` it adds a table of the comparator's verdicts. The page has
no script, fetches nothing and links nothing: every style is inline in one ``<style>``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from ._answer import Answer, answer_of
from ._cassette import Cassette, Interaction, Ndjson, Sse
from ._types import JSON

__all__ = ["render_page"]

_CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px}
header h1{font-size:18px;margin:0}
main{max-width:960px;margin:0 auto;padding:12px 20px}
section.cassette>h2{font-size:16px;margin:24px 0 8px;word-break:break-all}
article{background:#fff;border:1px solid #d8dbe2;border-radius:8px;margin:12px 0;padding:10px 14px}
article h3{font-size:13px;margin:0 0 8px;font-family:ui-monospace,monospace;word-break:break-all}
.meta{color:#667;font-size:12px;margin-bottom:8px}
.turn{border-radius:8px;padding:6px 10px;margin:6px 0;white-space:pre-wrap;word-break:break-word}
.role{font-size:11px;font-weight:600;text-transform:uppercase;color:#556;display:block}
.system{background:#eef0f4}.user{background:#e3efff;margin-right:15%}
.assistant{background:#e8f6ec;margin-left:15%}.tool{background:#fff6e0}
.call{font-family:ui-monospace,monospace;font-size:12px}
.error{background:#fde8e8;color:#8a1c1c}
details{margin:6px 0}summary{cursor:pointer;color:#556}
.usage{font-size:12px;color:#445}
.timeline{position:relative;height:22px;background:#f0f1f4;border-radius:4px;margin:6px 0}
.tick{position:absolute;top:3px;width:2px;height:16px;background:#3c6fd8}
.tick.other{background:#aab}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border:1px solid #d8dbe2;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}
.identical{color:#1b7a3a}.text-changed{color:#9a6a00}.structure-changed,.added,.removed,
.request-changed{color:#b42318}
"""


def render_page(
    cassettes: Sequence[tuple[str, Cassette]],
    *,
    compare_pairs: Callable[[Cassette, Cassette], Sequence[Any]] | None = None,
) -> str:
    """The HTML page for ``cassettes`` (name, cassette); with ``compare_pairs``, a diff of two."""
    title = "promptecho: " + ", ".join(name for name, _ in cassettes)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1></header><main>",
    ]
    if compare_pairs is not None and len(cassettes) == 2:
        parts += _diff_table(cassettes, compare_pairs(cassettes[0][1], cassettes[1][1]))
    for name, cassette in cassettes:
        count = len(cassette.interactions)
        parts.append(f'<section class="cassette"><h2>{_e(name)}: {count} interactions</h2>')
        for number, interaction in enumerate(cassette.interactions):
            parts += _interaction(number, interaction)
        parts.append("</section>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# Implementation details


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _diff_table(cassettes: Sequence[tuple[str, Cassette]], pairs: Sequence[Any]) -> list[str]:
    out = [
        f"<h2>Diff: {_e(cassettes[0][0])} → {_e(cassettes[1][0])}</h2>",
        "<table><tr><th>A</th><th>B</th><th>request</th><th>verdict</th></tr>",
    ]
    for pair in pairs:
        status = pair.status
        detail = str(pair.verdict) if pair.verdict is not None else status
        if pair.request_changes:
            detail = "request changed: " + "; ".join(pair.request_changes) + " / answer " + detail
        a = "" if pair.a is None else f"#{pair.a}"
        b = "" if pair.b is None else f"#{pair.b}"
        css = status.replace(" ", "-")
        out.append(
            f"<tr><td>{a}</td><td>{b}</td><td>{_e(pair.request)}</td>"
            f'<td class="{css}">{_e(detail)}</td></tr>'
        )
    out.append("</table>")
    return out


def _interaction(number: int, interaction: Interaction) -> Iterator[str]:
    request = interaction.request
    stream = " · stream" if request.stream else ""
    yield f'<article id="i{number}"><h3>#{number} {_e(request.method)} {_e(request.url)}</h3>'
    meta = [f"{_e(request.api)}{stream}"]
    if interaction.recorded_at:
        meta.append(f"recorded {_e(interaction.recorded_at)}")
    if interaction.recorded_by:
        meta.append(f"by {_e(interaction.recorded_by)}")
    yield f'<div class="meta">{" · ".join(meta)}</div>'
    body = request.body
    if type(body) is dict:
        if body.get("model"):
            yield f'<div class="meta">model {_e(body["model"])}</div>'
        if body.get("system"):
            yield _turn("system", _e(body["system"]))
        for message in body.get("messages") or []:
            if type(message) is dict:
                yield from _message(message)
        if "input" in body:
            yield _turn("user", _e(_text(body["input"])))
        tools = [str(t.get("name")) for t in body.get("tools") or [] if type(t) is dict]
        if tools:
            yield f'<div class="meta">tools: {_e(", ".join(tools))}</div>'
    elif body is not None:
        yield _turn("user", _e(_text(body)))
    error = interaction.error
    answer = answer_of(
        request.api, interaction.response, f"{error.type}: {error.message}" if error else None
    )
    yield from _answer(answer)
    response = interaction.response
    if response is not None and isinstance(response.body, Sse | Ndjson):
        yield from _timeline(response.body.events)
    yield "</article>"


def _turn(role: str, inner: str, label: str | None = None) -> str:
    css = role if role in ("system", "user", "assistant", "tool") else "tool"
    return f'<div class="turn {css}"><span class="role">{_e(label or role)}</span>{inner}</div>'


def _message(message: dict[str, JSON]) -> Iterator[str]:
    role = str(message.get("role", "user"))
    content = message.get("content")
    for part in content if type(content) is list else []:
        if type(part) is not dict:
            continue
        kind = part.get("kind")
        if kind == "text":
            yield _turn(role, _e(part.get("text", "")))
        elif kind == "thinking":
            yield _thinking(str(part.get("text", "")))
        elif kind == "tool_call":
            call = f'<span class="call">{_e(part.get("name"))}({_e(_text(part.get("arguments")))})</span>'
            yield _turn(role, call, f"{role} · tool call")
        elif kind == "tool_result":
            inner = " ".join(
                _text(p.get("text", p.get("value"))) for p in _dicts(part.get("content"))
            )
            yield _turn("tool", _e(inner), "tool result")
        elif kind == "json":
            yield _turn(role, _e(_text(part.get("value"))))
        else:
            yield _turn(role, _e(f"[{part.get('media_type') or part.get('type') or kind}]"))


def _dicts(value: JSON) -> list[dict[str, JSON]]:
    return [v for v in value if type(v) is dict] if type(value) is list else []


def _thinking(text: str) -> str:
    return (
        f'<details class="turn assistant"><summary>thinking ({len(text)} chars)</summary>'
        f"{_e(text)}</details>"
    )


def _answer(answer: Answer) -> Iterator[str]:
    if answer.thinking:
        yield _thinking(answer.thinking)
    if answer.text:
        yield _turn("assistant", _e(answer.text))
    for call in answer.tool_calls:
        inner = f'<span class="call">{_e(call.name)}({_e(_text(call.arguments))})</span>'
        yield _turn("assistant", inner, "assistant · tool call")
    if answer.size is not None:
        yield _turn("assistant", _e(f"{answer.content_type or 'binary'}, {answer.size} bytes"))
    if answer.data is not None:
        yield _turn("assistant", _e(_text(answer.data)))
    if answer.error:
        yield f'<div class="turn error"><span class="role">error</span>{_e(answer.error)}</div>'
    facts = []
    if answer.status is not None:
        facts.append(f"status {answer.status}")
    if answer.finish_reason:
        facts.append(f"finish {_e(answer.finish_reason)}")
    if answer.input_tokens is not None:
        facts.append(f"input tokens {answer.input_tokens}")
    if answer.output_tokens is not None:
        facts.append(f"output tokens {answer.output_tokens}")
    if facts:
        yield f'<div class="usage">{" · ".join(facts)}</div>'


def _timeline(events: Sequence[Any]) -> Iterator[str]:
    times, now = [], 0
    for event in events:
        now += event.delay_ms
        times.append(now)
    total = max(times[-1] if times else 0, 1)
    yield f'<div class="meta">{len(events)} events over {total / 1000:.2f} s</div>'
    yield '<div class="timeline">'
    for event, at in zip(events, times, strict=True):
        name = event.event or (event.data.get("type") if type(event.data) is dict else None)
        left = 100 * at / total
        css = "tick" if name and "delta" in str(name) else "tick other"
        yield f'<span class="{css}" style="left:{left:.1f}%" title="{_e(name or "data")} at {at} ms"></span>'
    yield "</div>"


def _text(value: JSON) -> str:
    if type(value) is str:
        return value
    import msgspec

    return msgspec.json.encode(value).decode()
