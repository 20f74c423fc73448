"""The ``promptecho`` command: ``demo``, ``show``, ``check``, ``diff``, ``import`` and ``view``.

``main(argv) -> int`` is the whole command, testable without a subprocess. Output is plain
text, coloured only on a terminal and never with ``NO_COLOR`` set; ``--json`` on every
command gives the same content as JSON. Exit status: 0 fine, 1 problems found (or a
difference, for ``diff``), 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Final

import msgspec

from ._answer import Answer, answer_of
from ._cassette import (
    Cassette,
    CloseFrame,
    Interaction,
    RecordedRequest,
    WebSocketSession,
    encode_interaction,
)
from ._compare import Verdict, compare
from ._errors import CassetteError
from ._index import Key, endpoint, key_of
from ._match import describe, diff, select
from ._playlog import Plays
from ._store import has_journal, journal_path
from ._types import JSON

__all__ = ["main"]

CASSETTE_LIMIT: Final = 5 * 1024 * 1024
"""A cassette file larger than this is reported by ``check`` (``--max-size`` changes it)."""
INTERACTION_LIMIT: Final = 1024 * 1024
"""An interaction larger than this (as compact JSON) is reported by ``check``."""
_SKIPPED_DIRS: Final = frozenset(
    {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".promptecho", ".tox"}
)
_WIDTH: Final = 160  # text longer than this is cut in `show`, with its length


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: 2 on a usage error, 0 for --help
        return exit_.code if isinstance(exit_.code, int) else 2
    out = _Out(sys.stdout, as_json=getattr(args, "json", False))
    if args.command == "demo":
        from ._demo import run_demo  # imports the upstream server only when asked

        return run_demo(sys.stdout, args.keep)
    try:
        status: int = args.run(args, out)
    except _Usage as err:
        print(f"promptecho {args.command}: error: {err}", file=sys.stderr)
        return 2
    return status


class _Usage(Exception):
    """A bad argument found after parsing (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptecho", description="Record and replay LLM API calls: inspect cassettes."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="record and replay against a built-in local upstream")
    demo.add_argument("--keep", type=Path, help="write the demo cassette into this folder")

    show = commands.add_parser("show", help="each interaction as a conversation")
    show.add_argument("path", type=Path, metavar="CASSETTE")
    show.add_argument("-i", "--interaction", type=int, metavar="N", help="only interaction N")
    show.set_defaults(run=_show)

    check = commands.add_parser(
        "check", help="lint cassettes: schema, secrets, size, unparsed bodies, expiry, unused"
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", default=[Path()])
    check.add_argument(
        "--max-age", metavar="AGE", help='report cassettes older than "12h", "30d", "4w"'
    )
    check.add_argument("--max-size", type=int, default=CASSETTE_LIMIT, metavar="BYTES")
    check.add_argument("--playlog-root", type=Path, metavar="DIR", help="where .promptecho/ is")
    check.set_defaults(run=_check)

    diff_ = commands.add_parser("diff", help="what changed between two versions of a cassette")
    diff_.add_argument("a", type=Path, metavar="A")
    diff_.add_argument("b", type=Path, metavar="B", nargs="?", help="default: A as in git HEAD")
    diff_.set_defaults(run=_diff)

    import_ = commands.add_parser("import", help="convert vcrpy and cassetter cassettes")
    import_.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    import_.add_argument("-o", "--out", type=Path, metavar="OUT", help="output file or folder")
    import_.set_defaults(run=_import)

    view = commands.add_parser("view", help="one self-contained HTML page for review")
    view.add_argument("paths", nargs="+", type=Path, metavar="CASSETTE")
    view.add_argument("-o", "--out", type=Path, metavar="OUT.html")
    view.add_argument("--diff", action="store_true", help="A B: show them side by side")
    view.set_defaults(run=_view)

    for command in (show, check, diff_, import_, view):
        command.add_argument("--json", action="store_true", help="print JSON")
    return parser


class _Out:
    """Where the command writes, and whether it may colour."""

    def __init__(self, stream: IO[str], *, as_json: bool) -> None:
        self.stream = stream
        self.as_json = as_json
        self.colour = (
            not as_json and "NO_COLOR" not in os.environ and getattr(stream, "isatty", bool)()
        )

    def line(self, text: str = "") -> None:
        print(text, file=self.stream)

    def json(self, value: object) -> None:
        print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode(), file=self.stream)

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.colour else text

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

    def red(self, text: str) -> str:
        return f"\x1b[31m{text}\x1b[0m" if self.colour else text


def _load(path: Path) -> Cassette:
    return Cassette.load(path)


# -- show ------------------------------------------------------------------------------


def _show(args: argparse.Namespace, out: _Out) -> int:
    try:
        cassette = _load(args.path)
    except CassetteError as err:
        print(err, file=sys.stderr)
        return 1
    numbered = list(enumerate(cassette.interactions))
    sessions = list(enumerate(cassette.websockets))
    if args.interaction is not None:
        if not 0 <= args.interaction < len(numbered):
            raise _Usage(f"-i {args.interaction}: the cassette has {len(numbered)} interactions")
        numbered, sessions = [numbered[args.interaction]], []
    if out.as_json:
        out.json(
            {
                "file": str(args.path),
                "version": cassette.version,
                "interactions": [_show_json(n, i) for n, i in numbered],
                "websockets": [session_summary(n, s) for n, s in sessions],
            }
        )
        return 0
    count, session_count = len(cassette.interactions), len(cassette.websockets)
    title = f"{args.path}: {count} interaction{'s' * (count != 1)}"
    if session_count:
        title += f", {session_count} WebSocket session{'s' * (session_count != 1)}"
    out.line(out.bold(title))
    for number, interaction in numbered:
        out.line()
        for line in show_lines(number, interaction, out):
            out.line(line)
    for number, session in sessions:
        out.line()
        for line in session_lines(number, session, out):
            out.line(line)
    return 0


def session_summary(number: int, session: WebSocketSession) -> dict[str, object]:
    """What ``show`` says of one WebSocket session: its handshake and a count of its frames."""
    senders = [frame.from_ for frame in session.frames]
    close = _last_close(session)
    return {
        "index": number,
        "path": session.path,
        "subprotocol": session.subprotocol,
        "recorded_at": session.recorded_at,
        "recorded_by": session.recorded_by,
        "refused": session.refused.status if session.refused else None,
        "frames": len(senders),
        "client": senders.count("client"),
        "server": senders.count("server"),
        "close": None if close is None else {"code": close.code, "reason": close.reason},
        "duration_ms": sum(frame.delay_ms for frame in session.frames),
    }


def session_lines(number: int, session: WebSocketSession, out: _Out) -> Iterator[str]:
    """The lines ``show`` prints for one WebSocket session."""
    summary = session_summary(number, session)
    yield out.bold(f"~{number} WebSocket {session.path}")
    if session.recorded_at or session.recorded_by:
        by = f" by {session.recorded_by}" if session.recorded_by else ""
        yield out.dim(f"   recorded {session.recorded_at or '(unknown)'}{by}")
    if session.refused is not None:
        yield f" {out.bold('->')} refused: {session.refused.status}"
        return
    frames = (
        f"{summary['frames']} frames: {summary['client']} from the client, "
        f"{summary['server']} from the server, over {summary['duration_ms']} ms"
    )
    close = _last_close(session)
    ended = "" if close is None else f"; closed {close.code} {close.reason}".rstrip()
    yield f" {out.bold('->')} {frames}{ended}"


def _last_close(session: WebSocketSession) -> CloseFrame | None:
    return next((f for f in reversed(session.frames) if isinstance(f, CloseFrame)), None)


def interaction_answer(interaction: Interaction) -> Answer:
    """The `Answer` of an interaction, its transport failure included."""
    error = interaction.error
    message = f"{error.type}: {error.message}" if error and error.message else None
    return answer_of(
        interaction.request.api, interaction.response, message or (error.type if error else None)
    )


def _show_json(number: int, interaction: Interaction) -> dict[str, object]:
    request = interaction.request
    return {
        "index": number,
        "method": request.method,
        "url": request.url,
        "api": request.api,
        "stream": request.stream,
        "recorded_at": interaction.recorded_at,
        "recorded_by": interaction.recorded_by,
        "request": request.body,
        "unparsed": request.unparsed,
        "answer": msgspec.to_builtins(interaction_answer(interaction)),
        "stream_ms": _stream_ms(interaction),
    }


def _stream_ms(interaction: Interaction) -> int | None:
    events = getattr(interaction.response and interaction.response.body, "events", None)
    return sum(e.delay_ms for e in events) if events is not None else None


def show_lines(number: int, interaction: Interaction, out: _Out) -> Iterator[str]:
    """The lines ``show`` prints for one interaction."""
    request = interaction.request
    stream = ", stream" if request.stream else ""
    yield out.bold(f"#{number} {request.method} {request.url}  [{request.api}{stream}]")
    if interaction.recorded_at or interaction.recorded_by:
        by = f" by {interaction.recorded_by}" if interaction.recorded_by else ""
        yield out.dim(f"   recorded {interaction.recorded_at or '(unknown)'}{by}")
    for label, text in request_lines(request):
        yield f"   {label:<11} {text}"
    answer = interaction_answer(interaction)
    yield f" {out.bold('->')} {_outcome(interaction, answer)}"
    for label, text in answer_lines(answer):
        line = f"   {label:<11} {text}"
        yield out.red(line) if label == "error" else line


def request_lines(request: RecordedRequest) -> Iterator[tuple[str, str]]:
    """(label, text) pairs describing what was asked."""
    body = request.body
    if request.unparsed is not None:
        yield "unparsed", cut(request.unparsed)
    if request.api == "empty":
        yield "body", "(none)"
        return
    if request.api == "bytes" and type(body) is dict:
        yield "body", f"binary, {body.get('size')} bytes"
        return
    if type(body) is not dict:
        yield "body", cut(_compact(body))
        return
    if "model" in body:
        yield "model", str(body["model"])
    if body.get("system"):
        yield "system", cut(str(body["system"]))
    for message in body.get("messages") or []:
        if type(message) is dict:
            role = str(message.get("role", "?"))
            for text in _parts(message.get("content")):
                yield role, text
    if "input" in body:  # embeddings, speech
        value = body["input"]
        if type(value) is list:
            yield "input", f"{len(value)} item{'s' * (len(value) != 1)}: {cut(_compact(value))}"
        else:
            yield "input", cut(str(value))
    if body.get("voice"):
        yield "voice", _compact(body["voice"])
    tools = [str(t.get("name")) for t in body.get("tools") or [] if type(t) is dict]
    if tools:
        yield "tools", ", ".join(tools)
    for knob in ("tool_choice", "reasoning_effort", "reasoning", "thinking"):
        if body.get(knob) is not None:
            yield knob, cut(_compact(body[knob]))
    known = {"model", "system", "messages", "tools", "input", "voice", "params"}
    known |= {"tool_choice", "reasoning_effort", "reasoning", "thinking"}
    params = body.get("params")
    if type(params) is dict and params:
        yield "params", cut(", ".join(f"{k}={_compact(v)}" for k, v in params.items()))
    if request.api in ("json", "custom") or not (known & body.keys()):
        yield "body", cut(_compact(body))


def _parts(content: JSON) -> Iterator[str]:
    for part in content if type(content) is list else []:
        if type(part) is not dict:
            continue
        kind = part.get("kind")
        if kind == "text":
            yield cut(str(part.get("text", "")))
        elif kind == "tool_call":
            yield f"tool call {part.get('name')} {cut(_compact(part.get('arguments')))}"
        elif kind == "tool_result":
            inner = " ".join(_parts(part.get("content")))
            error = " (error)" if part.get("is_error") else ""
            yield f"tool result{error} {cut(inner)}"
        elif kind == "json":
            yield cut(_compact(part.get("value")))
        elif kind == "thinking":
            yield f"[thinking, {len(str(part.get('text', '')))} chars]"
        elif kind in ("image", "document"):
            where = part.get("url") or part.get("file_id")
            data = part.get("data")
            size = f", {len(data) * 3 // 4} bytes" if type(data) is str else ""
            yield f"[{kind} {part.get('media_type') or ''}{size}{' ' + str(where) if where else ''}]"
        else:
            yield f"[{part.get('type') or kind}]"


def _outcome(interaction: Interaction, answer: Answer) -> str:
    response = interaction.response
    if response is None:
        return "no response"
    text = f"{response.status} {answer.kind}"
    if answer.events:
        events = getattr(response.body, "events", [])
        ms = _stream_ms(interaction) or 0
        text += f", {len(events)} events over {ms / 1000:.2f} s"
    return text


def answer_lines(answer: Answer) -> Iterator[tuple[str, str]]:
    """(label, text) pairs describing the answer as an SDK user sees it."""
    if answer.model:
        yield "model", answer.model
    if answer.thinking:
        yield "thinking", f"({len(answer.thinking)} chars) {cut(answer.thinking, 80)}"
    if answer.text:
        yield "assistant", cut(answer.text)
    for call in answer.tool_calls:
        yield "tool call", f"{call.name} {cut(_compact(call.arguments))}"
    if answer.size is not None:
        yield "binary", f"{answer.content_type or 'application/octet-stream'}, {answer.size} bytes"
    if answer.data is not None:
        yield "data", cut(_compact(answer.data))
    if answer.finish_reason:
        yield "finish", answer.finish_reason
    if answer.usage:
        parts = []
        if answer.input_tokens is not None:
            parts.append(f"input {answer.input_tokens}")
        if answer.output_tokens is not None:
            parts.append(f"output {answer.output_tokens}")
        yield "usage", ", ".join(parts) or _compact(answer.usage)
    if answer.error:
        yield "error", answer.error


def cut(text: str, width: int = _WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with its length when longer."""
    flat = " ".join(text.split("\n"))
    if len(flat) <= width:
        return flat
    return f"{flat[:width]}… ({len(text)} chars)"


def _compact(value: object) -> str:
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return repr(value)


# -- check -----------------------------------------------------------------------------


class Finding(msgspec.Struct, frozen=True):
    """One problem ``check`` found: in which file, where in it, what kind, and the message."""

    file: str
    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.code}: {self.message}"


def parse_age(text: str) -> timedelta:
    """``"12h"``, ``"30d"``, ``"4w"`` as a `timedelta`; a `ValueError` naming the forms."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text)
    if not match:
        raise ValueError(
            f"{text!r} is not a valid age. Valid forms are a whole number followed by "
            "'h' (hours), 'd' (days) or 'w' (weeks): '12h', '30d', '4w'."
        )
    number, unit = int(match.group(1)), match.group(2)
    return timedelta(hours=number) * {"h": 1, "d": 24, "w": 24 * 7}[unit]


def _check(args: argparse.Namespace, out: _Out) -> int:
    max_age = None
    if args.max_age is not None:
        try:
            max_age = parse_age(args.max_age)
        except ValueError as err:
            raise _Usage(str(err)) from None
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files += sorted(_cassettes_in(path))
        elif path.exists() or has_journal(path):  # a journal alone: what a run left before close
            files.append(path)
        else:
            raise _Usage(f"{path}: no such file or folder")
    root = args.playlog_root or _playlog_root(Path.cwd())
    findings = check_files(files, max_size=args.max_size, max_age=max_age, playlog_root=root)
    if out.as_json:
        out.json({"checked": len(files), "findings": findings})
    else:
        for finding in findings:
            out.line(str(finding))
        out.line(
            out.dim(
                f"{len(files)} cassette{'s' * (len(files) != 1)} checked, "
                f"{len(findings)} finding{'s' * (len(findings) != 1)}"
            )
        )
    return 1 if findings else 0


def _cassettes_in(folder: Path) -> Iterator[Path]:
    """JSON files under ``folder`` that say they are cassettes (a ``version``, and ``interactions``
    or ``websockets``)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".json") and not name.startswith("."):
                path = Path(dirpath, name)
                if _looks_like_cassette(path):
                    yield path


def _looks_like_cassette(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return (
        head.lstrip().startswith(b"{")
        and b'"version"' in head
        and (b'"interactions"' in head or b'"websockets"' in head or len(head) < 4096)
    )


def _playlog_root(start: Path) -> Path | None:
    from ._playlog import PLAYLOG

    for folder in (start, *start.parents):
        if (folder / PLAYLOG).is_file():
            return folder
    return None


def check_files(
    files: Sequence[Path],
    *,
    max_size: int = CASSETTE_LIMIT,
    max_age: timedelta | None = None,
    playlog_root: Path | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """Every finding for ``files``, in file order."""
    from ._playlog import read_playlog
    from ._secrets import find_secret

    findings: list[Finding] = []
    plays = None
    if playlog_root is not None:
        try:
            plays = read_playlog(playlog_root)
        except CassetteError as err:
            findings.append(Finding(str(err.path), "$", "playlog", str(err)))
    now = now or datetime.now(UTC)
    for file in files:
        name = str(file)
        try:
            cassette = Cassette.load(file)  # the file and its journal's lines, as replayed
            size = sum(f.stat().st_size for f in (file, journal_path(file)) if f.exists())
        except (CassetteError, OSError) as err:
            findings.append(Finding(name, "$", "invalid", str(err)))
            continue
        if size > max_size:
            findings.append(
                Finding(name, "$", "large", f"the cassette is {size} bytes (limit {max_size})")
            )
        oldest: datetime | None = None
        items: list[tuple[str, Interaction | WebSocketSession]] = [
            (f"$.interactions[{n}]", interaction)
            for n, interaction in enumerate(cassette.interactions)
        ]
        items += [(f"$.websockets[{n}]", session) for n, session in enumerate(cassette.websockets)]
        for where, item in items:
            hit = find_secret(item)
            if hit is not None:
                findings.append(
                    Finding(name, where + hit.path[1:], "secret", _secret_kind(hit.kind))
                )
            encoded = len(encode_interaction(item))
            if encoded > INTERACTION_LIMIT:
                what = "session" if isinstance(item, WebSocketSession) else "interaction"
                findings.append(
                    Finding(
                        name,
                        where,
                        "large",
                        f"the {what} is {encoded} bytes (limit {INTERACTION_LIMIT})",
                    )
                )
            when = _recorded_at(item.recorded_at)
            if when is not None and (oldest is None or when < oldest):
                oldest = when
            if isinstance(item, WebSocketSession):
                continue
            interaction = item
            if interaction.request.unparsed is not None:
                findings.append(
                    Finding(
                        name,
                        f"{where}.request.body",
                        "unparsed",
                        f"the {interaction.request.api} dialect could not parse the body: "
                        f"{interaction.request.unparsed}",
                    )
                )
        if max_age is not None and oldest is not None and now - oldest > max_age:
            findings.append(
                Finding(
                    name,
                    "$",
                    "expired",
                    f"the oldest recording was made {oldest:%Y-%m-%dT%H:%M:%SZ}, "
                    f"more than {_age(max_age)} ago",
                )
            )
        if plays is not None and playlog_root is not None:
            findings += _unplayed(name, file, cassette, plays, playlog_root)
    return findings


def _secret_kind(kind: str) -> str:
    if " " in kind:  # "the value of a redacted header or query parameter"
        return f"holds {kind}"
    return f"looks like {'an' if kind[0] in 'aeiou' else 'a'} {kind} key"


def _unplayed(
    name: str, file: Path, cassette: Cassette, plays: Mapping[str, Plays], root: Path
) -> list[Finding]:
    try:
        key = file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return []  # outside the run's rootdir: the log cannot say
    entry = plays.get(key)
    if entry is None:
        return [Finding(name, "$", "unused", "no test used this cassette in the last full run")]
    played = set(entry.played)
    return [
        Finding(name, f"$.interactions[{n}]", "unplayed", "the last full run never replayed it")
        for n in range(len(cassette.interactions))
        if n not in played
    ]


def _recorded_at(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours % (24 * 7) == 0:
        return f"{hours // (24 * 7)}w"
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


# -- diff ------------------------------------------------------------------------------


def match_key(request: RecordedRequest) -> Key:
    """The key a replay matches ``request`` on, with the default ``match_on``."""
    return key_of(request.method, request.url, request.api, request.stream, request.body, None)


class Pair(msgspec.Struct, kw_only=True):
    """One row of a diff: interactions of A and B matched, or one side alone."""

    a: int | None
    b: int | None
    request: str
    verdict: Verdict | None = None
    request_changes: list[str] = msgspec.field(default_factory=list)

    @property
    def status(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        if self.request_changes:
            return "request changed"
        assert self.verdict is not None
        return self.verdict.kind


def diff_cassettes(a: Cassette, b: Cassette) -> list[Pair]:
    """Match the interactions of ``a`` and ``b`` by key; compare the answers of each pair."""
    left, right = a.interactions, b.interactions
    keys_b: dict[Key, list[int]] = {}
    for n, interaction in enumerate(right):
        keys_b.setdefault(match_key(interaction.request), []).append(n)
    pairs: list[Pair] = []
    removed: list[int] = []
    used: set[int] = set()
    for n, interaction in enumerate(left):
        queue = keys_b.get(match_key(interaction.request))
        if queue:
            m = queue.pop(0)
            used.add(m)
            pairs.append(_pair(n, m, left[n], right[m], []))
        else:
            removed.append(n)
    added = [m for m in range(len(right)) if m not in used]
    # A removed and an added request to the same endpoint: one request that changed.
    for n in list(removed):
        request = left[n].request
        candidates = [m for m in added if match_key(right[m].request)[:4] == match_key(request)[:4]]
        if not candidates:
            continue
        old = select(request.body, request.api, None)
        scored = [
            (len(diff(old, select(right[m].request.body, right[m].request.api, None))), m)
            for m in candidates
        ]
        _, m = min(scored)
        changes = describe(diff(old, select(right[m].request.body, right[m].request.api, None)))
        pairs.append(_pair(n, m, left[n], right[m], changes))
        removed.remove(n)
        added.remove(m)
    pairs += [Pair(a=n, b=None, request=_request_line(left[n].request)) for n in removed]
    pairs += [Pair(a=None, b=m, request=_request_line(right[m].request)) for m in added]
    pairs.sort(key=lambda p: (p.a if p.a is not None else len(left), p.b or 0))
    return pairs


def _pair(n: int, m: int, a: Interaction, b: Interaction, changes: list[str]) -> Pair:
    verdict = compare(
        a.request.api,
        a.response,
        b.response,
        recorded_error=a.error.type if a.error else None,
        new_error=b.error.type if b.error else None,
    )
    return Pair(
        a=n, b=m, request=_request_line(a.request), verdict=verdict, request_changes=changes
    )


def _request_line(request: RecordedRequest) -> str:
    stream = ", stream" if request.stream else ""
    return f"{request.method} {endpoint(request.url)} [{request.api}{stream}]"


def _diff(args: argparse.Namespace, out: _Out) -> int:
    try:
        a = _load(args.a)
        if args.b is None:
            b, a = a, _from_git_head(args.a)
            names = (f"{args.a} (HEAD)", str(args.a))
        else:
            b = _load(args.b)
            names = (str(args.a), str(args.b))
    except CassetteError as err:
        print(err, file=sys.stderr)
        return 1
    pairs = diff_cassettes(a, b)
    changed = [p for p in pairs if p.status != "identical"]
    if out.as_json:
        out.json(
            {
                "a": names[0],
                "b": names[1],
                "interactions": [
                    {
                        "a": p.a,
                        "b": p.b,
                        "request": p.request,
                        "status": p.status,
                        "request_changes": p.request_changes,
                        "verdict": p.verdict,
                    }
                    for p in pairs
                ],
            }
        )
        return 1 if changed else 0
    out.line(out.bold(f"--- {names[0]}"))
    out.line(out.bold(f"+++ {names[1]}"))
    for p in pairs:
        where = (
            f"#{p.a}"
            if p.b is None
            else f"+#{p.b}"
            if p.a is None
            else (f"#{p.a}" if p.a == p.b else f"#{p.a} -> #{p.b}")
        )
        if p.a is None or p.b is None:
            out.line(f"{where} {p.request}: {p.status}")
            continue
        assert p.verdict is not None
        line = f"{where} {p.request}: "
        if p.request_changes:
            line += "request changed; answer "
        out.line(line + str(p.verdict))
        for change in p.request_changes:
            out.line(f"    {change}")
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.status] = counts.get(p.status, 0) + 1
    out.line(out.dim(", ".join(f"{v} {k}" for k, v in counts.items()) or "no interactions"))
    return 1 if changed else 0


def _from_git_head(path: Path) -> Cassette:
    folder = path.resolve().parent
    try:
        shown = subprocess.run(
            ["git", "-C", str(folder), "show", f"HEAD:./{path.name}"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CassetteError(path, f"cannot be read from git HEAD ({err})") from None
    if shown.returncode != 0:
        reason = shown.stderr.decode(errors="replace").strip().splitlines()
        raise CassetteError(
            path, f"cannot be read from git HEAD ({reason[-1] if reason else 'git failed'})"
        )
    return Cassette.from_bytes(shown.stdout, f"{path} (HEAD)")


# -- import and view -------------------------------------------------------------------


def _import(args: argparse.Namespace, out: _Out) -> int:
    from ._import import import_paths

    reports = import_paths(args.paths, args.out)
    if out.as_json:
        out.json({"files": reports})
    else:
        for report in reports:
            out.line(str(report))
    return 1 if any(r.error for r in reports) else 0


def _view(args: argparse.Namespace, out: _Out) -> int:
    from ._view import render_page

    if args.diff and len(args.paths) != 2:
        raise _Usage("--diff takes two cassettes: A B")
    try:
        cassettes = [(str(p), _load(p)) for p in args.paths]
    except CassetteError as err:
        print(err, file=sys.stderr)
        return 1
    page = render_page(cassettes, compare_pairs=diff_cassettes if args.diff else None)
    target = args.out or Path("promptecho-view.html")
    target.write_text(page, encoding="utf-8")
    if out.as_json:
        out.json({"out": str(target), "bytes": len(page.encode())})
    else:
        out.line(f"wrote {target} ({len(page.encode())} bytes)")
    return 0
