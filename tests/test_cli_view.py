"""``promptecho view``: one self-contained page, checked in a real headless browser.

The browser is Debian's ``chromium`` (``.ci/run`` installs it). Console messages are read
from its log (``--enable-logging=stderr``); the first test proves that this catches an
error on a page that throws, so that the next ones mean something.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from promptecho._cli import interaction_answer, main
from tests.cli_data import interaction, write

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"
)
CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")

SCENARIOS = [
    ("anthropic", "thinking-stream"),
    ("anthropic", "tool-use-stream"),
    ("openai-chat", "tool-result"),
    ("openai-responses", "stream"),
    ("gemini", "tools-thinking"),
    ("cohere", "tools-stream"),
    ("openai-audio", "speech"),
]


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def console_messages(stderr: str) -> list[str]:
    return CONSOLE.findall(stderr)


def dom_text(text: str) -> str:
    """``text`` as the browser serialises a text node."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@needs_browser
def test_the_console_check_catches_an_error(tmp_path: Path) -> None:
    page = tmp_path / "throws.html"
    page.write_text(
        "<!DOCTYPE html><html><body><script>throw new Error('bang')</script></body></html>"
    )
    assert any(
        "Uncaught Error: bang" in m
        for m in console_messages(browse(page, tmp_path, "--dump-dom").stderr)
    )


@needs_browser
def test_the_page_loads_cleanly_and_shows_every_turn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    interactions = [interaction(f, s) for f, s in SCENARIOS]
    cassette = write(tmp_path / "chat.json", *interactions)
    page = tmp_path / "view.html"
    assert main(["view", str(cassette), "-o", str(page)]) == 0
    assert capsys.readouterr().out == f"wrote {page} ({page.stat().st_size} bytes)\n"

    shown = browse(page, tmp_path, "--dump-dom")
    assert console_messages(shown.stderr) == []
    dom = shown.stdout
    for number, item in enumerate(interactions):
        body = item.request.body
        assert f'id="i{number}"' in dom
        for message in body.get("messages", []):
            for part in message["content"]:
                if part["kind"] == "text":
                    assert dom_text(part["text"]) in dom
        if body.get("system"):
            assert dom_text(body["system"]) in dom
        answer = interaction_answer(item)
        for text in (answer.text, answer.thinking, *(c.name for c in answer.tool_calls)):
            assert dom_text(text) in dom
    assert "<details" in dom  # thinking is folded away
    assert 'class="tick' in dom  # a stream's timeline

    screenshot = tmp_path / "view.png"
    browse(page, tmp_path, "--window-size=1100,2400", f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_the_page_fetches_nothing(tmp_path: Path) -> None:
    cassette = write(tmp_path / "chat.json", *(interaction(f, s) for f, s in SCENARIOS))
    page = tmp_path / "view.html"
    assert main(["view", str(cassette), "-o", str(page), "--json"]) == 0
    text = page.read_text()
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", text)
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "url(" not in text
    assert "@import" not in text


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    hostile = interaction("openai-chat", "text")
    hostile.request.body["messages"][0]["content"][0]["text"] = "<script>alert(1)</script>"
    page = tmp_path / "view.html"
    assert main(["view", str(write(tmp_path / "c.json", hostile)), "-o", str(page)]) == 0
    text = page.read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@needs_browser
def test_view_a_b_shows_the_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(
        tmp_path / "a.json", interaction("openai-chat", "text"), interaction("gemini", "generate")
    )
    original = (Path(__file__).parent / "data/wire/openai-chat/text.response.json").read_text()
    b = write(
        tmp_path / "b.json",
        interaction("openai-chat", "text", response=original.replace("aider", "assister").encode()),
        interaction("anthropic", "text"),
    )
    page = tmp_path / "diff.html"
    assert main(["view", str(a), str(b), "--diff", "-o", str(page), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(page)
    shown = browse(page, tmp_path, "--dump-dom")
    assert console_messages(shown.stderr) == []
    assert re.search(r'class="text-changed">text changed \(ratio 0\.\d\d\)<', shown.stdout)
    assert 'class="removed">removed<' in shown.stdout
    assert 'class="added">added<' in shown.stdout
    assert main(["view", str(a), "--diff"]) == 2
