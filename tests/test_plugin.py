"""The pytest plugin, through pytester: the names, modes and messages a user of the fixtures sees."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic  # noqa: F401  imported here, before pytester's snapshot of sys.modules,
import openai  # noqa: F401  so the generated runs do not import the SDKs anew each time
import pytest

from promptecho import Cassette
from promptecho.pytest_plugin import default_cassette_path, resolve_mode

from .conftest import INI


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite itself may run in CI: each test sets CI itself when it wants it.
    monkeypatch.delenv("CI", raising=False)




def texts_in(path: Path) -> list[str]:
    """The user messages recorded in a cassette, in order."""
    return [
        json.dumps(i.request.body["messages"]) for i in Cassette.load(path).interactions
    ]


# -- default_cassette_path: a plain function -------------------------------------------------


@pytest.mark.parametrize(
    ("test_name", "class_name", "expected"),
    [
        ("test_hello", None, "cassettes/test_chat/test_hello.json"),
        ("test_hello", "TestChat", "cassettes/test_chat/TestChat.test_hello.json"),
        ("test_x[gpt-4.1-mini-0.5]", None, "cassettes/test_chat/test_x[gpt-4.1-mini-0.5].json"),
        ("test_x[a/b]", None, "cassettes/test_chat/test_x[a_b]-804c3669.json"),
        ("test_x[..]", None, "cassettes/test_chat/test_x[..].json"),
        ("..", None, "cassettes/test_chat/5ec1f7e7.json"),
        ("../../etc/passwd", None, "cassettes/test_chat/_.._etc_passwd-3754d6cb.json"),
        ("test_x[é]", None, "cassettes/test_chat/test_x[_]-d18ce9fc.json"),
        ("test_x[a\\b:c*?]", None, "cassettes/test_chat/test_x[a_b_c__]-dd87d20d.json"),
    ],
    ids=["plain", "class", "safe-id", "slash", "dots-inside", "only-dots", "traversal",
         "unicode", "windows-reserved"],
)
def test_default_cassette_path_names_the_test_safely(
    test_name: str, class_name: str | None, expected: str
) -> None:
    path = default_cassette_path("tests/test_chat.py", test_name, class_name)
    assert path.relative_to("tests").as_posix() == expected


@pytest.mark.parametrize(
    "test_name",
    ["test_x[a/b]", "test_x[a_b]", "test_x[..]", "..", "test_x[é]", "test_x[e]", "test_x[ü]",
     "test_x[" + "y" * 300 + "]", "test_x[" + "y" * 301 + "]", "", ".hidden", "trailing."],
)
def test_default_cassette_path_stays_in_its_folder_with_a_short_valid_name(test_name: str) -> None:
    folder = Path("/repo/tests/cassettes/test_chat")
    path = default_cassette_path("/repo/tests/test_chat.py", test_name)
    assert path.parent == folder
    assert path.name.isascii()
    assert len(path.name) <= 110
    assert not path.name.startswith(".")
    assert path.stem
    assert not path.stem.endswith(".")


def test_default_cassette_path_gives_distinct_ids_distinct_files() -> None:
    names = ["test_x[a/b]", "test_x[a_b]", "test_x[a\\b]", "test_x[é]", "test_x[ü]", "test_x[_]",
             "test_x[" + "y" * 300 + "]", "test_x[" + "y" * 301 + "]"]
    paths = {default_cassette_path("t/test_m.py", name) for name in names}
    assert len(paths) == len(names)


def test_default_cassette_path_uses_the_cassette_dir_when_given() -> None:
    path = default_cassette_path("tests/unit/test_chat.py", "test_hello", cassette_dir="recorded")
    assert path.as_posix() == "recorded/test_chat/test_hello.json"


# -- resolve_mode: one function, one order -------------------------------------------------


@pytest.mark.parametrize(
    ("option", "marker", "ci", "ini", "expected"),
    [
        (None, None, False, None, "once"),
        (None, None, False, "all", "all"),
        (None, None, True, "all", "none"),
        (None, "new_episodes", True, "all", "none"),
        (None, "new_episodes", False, "all", "new_episodes"),
        ("all", "none", True, "once", "all"),
        ("once", "all", False, None, "once"),
    ],
    ids=["default", "ini", "ci-over-ini", "ci-over-marker", "marker-over-ini", "cli-over-all", "cli-over-marker"],
)
def test_resolve_mode_precedence(option, marker, ci, ini, expected) -> None:
    assert resolve_mode(option=option, marker=marker, ci=ci, ini=ini) == expected


def test_resolve_mode_rejects_an_unknown_mode_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'onse' is not a valid mode\. Valid modes are: 'once', "):
        resolve_mode(option=None, marker="onse", ci=False, ini=None)


# -- the fixtures, end to end ------------------------------------------------------------------

AUTONAMED = """
import pytest

def test_plain(promptecho_client, ask):
    assert ask(promptecho_client, "plain") == "You said: plain"

class TestChat:
    def test_method(self, promptecho_client, ask):
        assert ask(promptecho_client, "method") == "You said: method"

IDS = ["a/b", "..", "héllo", "x" * 200]

@pytest.mark.parametrize("text", IDS, ids=IDS)
def test_param(promptecho_client, ask, text):
    assert ask(promptecho_client, text) == "You said: " + text
"""


def test_records_into_auto_named_cassettes_then_replays_them_in_ci(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_file = suite.makepyfile(test_chat=AUTONAMED)
    suite.runpytest().assert_outcomes(passed=6)

    expected = [
        default_cassette_path(test_file, "test_plain"),
        default_cassette_path(test_file, "test_method", "TestChat"),
        # pytest escapes non-ASCII ids in test names: "héllo" is test_param[h\xe9llo].
        *(default_cassette_path(test_file, f"test_param[{p}]")
          for p in ["a/b", "..", "h\\xe9llo", "x" * 200]),
    ]
    written = sorted((suite.path / "cassettes").rglob("*.json"))
    assert written == sorted(expected)
    assert all(p.parent == suite.path / "cassettes" / "test_chat" for p in written)

    monkeypatch.setenv("CI", "true")
    result = suite.runpytest()
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        ["promptecho: 6 cassettes replayed, 0 recorded, 0 re-recorded, 0 misses, 0 unplayed interactions, 0 replays with drift"]
    )


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On"])
def test_ci_set_to_true_fails_a_test_without_a_cassette_with_the_miss(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    suite.makepyfile(test_chat="def test_hello(promptecho_client, ask): ask(promptecho_client, 'hi')")
    monkeypatch.setenv("CI", value)
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "CassetteMiss: no recorded request in */cassettes/test_chat/test_hello.json matches "
            "POST http://127.0.0.1:*/v1/chat/completions (mode 'none')",
            "The cassette does not exist, and mode 'none' does not record.",
        ],
        consecutive=True,
    )
    assert not (suite.path / "cassettes").exists()


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_ci_set_to_false_records(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    suite.makepyfile(test_chat="def test_hello(promptecho_client, ask): ask(promptecho_client, 'hi')")
    monkeypatch.setenv("CI", value)
    suite.runpytest().assert_outcomes(passed=1)
    assert (suite.path / "cassettes" / "test_chat" / "test_hello.json").exists()


def test_the_summary_line_counts_replayed_recorded_rerecorded_misses_and_unplayed(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_chat="""
        import pytest
        def test_one(promptecho_client, ask): ask(promptecho_client, "one")
        def test_two(promptecho_client, ask): ask(promptecho_client, "two")
        """)
    result = suite.runpytest()
    result.stdout.fnmatch_lines(
        ["promptecho: 0 cassettes replayed, 2 recorded, 0 re-recorded, 0 misses, 0 unplayed interactions, 0 replays with drift"]
    )
    suite.makepyfile(test_chat="""
        import pytest
        def test_one(promptecho_client, ask): ask(promptecho_client, "one")
        @pytest.mark.promptecho(mode="new_episodes")
        def test_two(promptecho_client, ask): ask(promptecho_client, "two, again")
        def test_three(promptecho_client, ask): pass
        """)
    result = suite.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["promptecho: 1 cassette replayed, 0 recorded, 1 re-recorded, 0 misses, 1 unplayed interaction, 0 replays with drift"]
    )
    suite.makepyfile(test_chat="""
        def test_one(promptecho_client, ask): ask(promptecho_client, "changed")
        """)
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["promptecho: 0 cassettes replayed, 0 recorded, 0 re-recorded, 1 miss, 1 unplayed interaction, 0 replays with drift"]
    )


def test_no_summary_line_when_no_test_used_promptecho(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_other="def test_x(): pass")
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("promptecho:*")


def test_mode_all_on_the_command_line_rerecords(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    test_file = suite.makepyfile(test_chat="""
        import os
        def test_hello(promptecho_client, ask):
            assert ask(promptecho_client, os.environ["TEXT"]).startswith("You said")
        """)
    cassette = default_cassette_path(test_file, "test_hello")
    monkeypatch.setenv("TEXT", "first")
    suite.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TEXT", "second")
    suite.runpytest().assert_outcomes(failed=1)  # once: the cassette exists
    result = suite.runpytest("--promptecho-mode=all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["promptecho: 0 cassettes replayed, 0 recorded, 1 re-recorded, 0 misses, 0 unplayed interactions, 0 replays with drift"]
    )
    assert len(texts_in(cassette)) == 1
    assert "second" in texts_in(cassette)[0]


def test_mode_option_accepts_only_the_four_modes(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--promptecho-mode=onse")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--promptecho-mode: invalid choice: 'onse'*"])


def test_the_marker_is_registered_with_its_signature(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.promptecho(*, cassette=None, mode=..., match_on=..., transport=..., "
         "allow_repeats=..., replay_timing=..., redact_headers=..., redact_query=..., "
         "before_record=..., fsync=..., on_miss=..., redact=..., allow_secrets=..., max_age=..., "
         "on_expiry=...): options of "
         "this test's cassette; the closest marker wins, option by option."]
    )


PRECEDENCE = """
import pytest

pytestmark = pytest.mark.promptecho(mode="new_episodes", allow_repeats=True)

def show(name, handle):
    t = handle.transport()
    print(f"MODE {name} {handle.mode} {t.mode} repeats={t.recorder.options.allow_repeats}")

def test_module(promptecho_cassette):
    show("module", promptecho_cassette)

@pytest.mark.promptecho(mode="all")
class TestClass:
    def test_class(self, promptecho_cassette):
        show("class", promptecho_cassette)

    @pytest.mark.promptecho(mode="once")
    def test_function(self, promptecho_cassette):
        show("function", promptecho_cassette)

    @pytest.mark.promptecho(allow_repeats=False)
    def test_function_sets_only_repeats(self, promptecho_cassette):
        show("repeats", promptecho_cassette)
"""


@pytest.mark.parametrize(
    ("args", "ci", "expected"),
    [
        ((), None, ["module new_episodes", "class all", "function once", "repeats all"]),
        (("--promptecho-mode=none",), None,
         ["module none", "class none", "function none", "repeats none"]),
        ((), "1", ["module none", "class none", "function none", "repeats none"]),
        (("--promptecho-mode=all",), "1", ["module all", "class all", "function all", "repeats all"]),
    ],
    ids=["markers-closest-wins", "cli-over-markers", "ci-over-markers", "cli-over-ci"],
)
def test_marker_precedence(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args, ci, expected
) -> None:
    suite.makepyfile(test_chat=PRECEDENCE)
    if ci:
        monkeypatch.setenv("CI", ci)
    result = suite.runpytest("-s", *args)
    result.assert_outcomes(passed=4)
    repeats = ["True", "True", "True", "False"]
    result.stdout.fnmatch_lines(
        [f"*MODE {e} {e.split()[1]} repeats={r}" for e, r in zip(expected, repeats, strict=True)]
    )


def test_ci_over_ini_and_ini_over_default(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makeini(INI + "promptecho_mode = new_episodes\n")
    suite.makepyfile(test_chat="def test_x(promptecho_cassette): print('MODE', promptecho_cassette.mode)")
    suite.runpytest("-s").stdout.fnmatch_lines(["*MODE new_episodes"])
    monkeypatch.setenv("CI", "yes")
    suite.runpytest("-s").stdout.fnmatch_lines(["*MODE none"])


def test_bad_ini_values_are_usage_errors(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "promptecho_mode = onse\n")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*promptecho_mode: 'onse' is not a valid mode. Valid modes are: *"])


def test_marker_cassette_and_named_cassettes_choose_the_files(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="""
        import pytest

        @pytest.mark.promptecho(cassette="shared")
        def test_shared(promptecho_cassette, ask):
            ask(promptecho_cassette.client(), "shared")
            ask(promptecho_cassette.client(cassette="second"), "second")

        @pytest.mark.promptecho(cassette="recorded/by-path.json")
        def test_path(promptecho_client, ask):
            ask(promptecho_client, "by path")

        def test_named(promptecho_cassette, ask):
            ask(promptecho_cassette.client(cassette="openai"), "named")
            ask(promptecho_cassette.client(cassette="a/b.json"), "path")
        """)
    suite.runpytest().assert_outcomes(passed=3)
    found = sorted(p.relative_to(suite.path).as_posix() for p in suite.path.rglob("*.json"))
    assert found == [
        "a/b.json",
        "cassettes/test_chat/shared.json",
        "cassettes/test_chat/shared/second.json",
        "cassettes/test_chat/test_named/openai.json",
        "recorded/by-path.json",
    ]


def test_the_cassette_dir_ini_key_moves_the_cassettes(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "promptecho_cassette_dir = recorded\n")
    suite.makepyfile(test_chat="def test_x(promptecho_client, ask): ask(promptecho_client, 'x')")
    suite.runpytest().assert_outcomes(passed=1)
    assert (suite.path / "recorded" / "test_chat" / "test_x.json").exists()


def test_unknown_marker_options_fail_the_test_setup(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="""
        import pytest
        @pytest.mark.promptecho(mdoe="all")
        def test_x(promptecho_cassette): pass
        """)
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*TypeError: @pytest.mark.promptecho got unexpected option(s): mdoe"])


def test_every_client_and_transport_is_closed_at_teardown(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="""
        handed_out = []

        def test_hand_out(promptecho_cassette, promptecho_client, ask):
            ask(promptecho_client, "hi")
            handed_out.extend([promptecho_client, promptecho_cassette.client(cassette="b"),
                               promptecho_cassette.transport(cassette="c")])

        def test_all_were_closed():
            client, other, transport = handed_out
            assert client.is_closed and other.is_closed
            assert transport._closed
        """)
    suite.runpytest().assert_outcomes(passed=2)
    assert (suite.path / "cassettes" / "test_chat" / "test_hand_out.json").exists()


def test_the_client_fixture_and_the_handle_share_one_cassette_in_either_order(
    suite: pytest.Pytester,
) -> None:
    # promptecho_client does not go through the promptecho_cassette fixture; whichever of
    # the two sets up first builds the test's handle and closes all it handed out.
    suite.makepyfile(test_chat="""
        import gc, weakref

        handed_out, refs = [], []

        def test_client_first(promptecho_client, promptecho_cassette, ask):
            assert promptecho_client._transport.path == promptecho_cassette.path
            ask(promptecho_client, "one")
            handed_out.extend([promptecho_client, promptecho_cassette.client(cassette="b")])
            refs.append(weakref.ref(promptecho_client._transport))

        def test_cassette_first(promptecho_cassette, promptecho_client, ask):
            assert promptecho_client._transport.path == promptecho_cassette.path
            ask(promptecho_client, "two")
            handed_out.append(promptecho_client)

        def test_client_only(promptecho_client, ask):
            ask(promptecho_client, "three")
            handed_out.append(promptecho_client)

        def test_all_closed_and_released():
            assert [c.is_closed for c in handed_out] == [True] * 4
            handed_out.clear()
            gc.collect()
            assert [r() for r in refs] == [None]
        """)
    result = suite.runpytest()
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["promptecho: 0 cassettes replayed, 3 recorded, 0 re-recorded, 0 misses, *"]
    )
    folder = suite.path / "cassettes" / "test_chat"
    (recorded,) = texts_in(folder / "test_client_first.json")  # "b" was handed out, unused
    assert '"one"' in recorded
    assert (folder / "test_cassette_first.json").exists()
    assert (folder / "test_client_only.json").exists()


def test_a_finished_test_keeps_no_cassette_in_memory(suite: pytest.Pytester) -> None:
    # Test items live for the whole session; a handle left on one kept every cassette it
    # loaded alive, and each garbage collection walked them all.
    suite.makepyfile(test_chat="""
        import gc, weakref

        refs = []

        def test_hand_out(promptecho_cassette, promptecho_client, ask):
            ask(promptecho_client, "hi")
            echo = promptecho_client._transport
            refs.extend([weakref.ref(promptecho_cassette), weakref.ref(echo),
                         weakref.ref(echo.recorder)])

        def test_nothing_of_it_is_left():
            gc.collect()
            assert len(refs) == 3
            assert [ref() for ref in refs] == [None, None, None]
        """)
    suite.runpytest().assert_outcomes(passed=2)


def test_flavors_come_from_the_argument_or_the_ini(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "promptecho_flavor = httpx2\n")
    suite.makepyfile(test_chat="""
        import httpx, httpx2
        import promptecho, promptecho.httpx2

        def test_flavors(promptecho_cassette, promptecho_client):
            assert isinstance(promptecho_client, httpx2.Client)
            assert isinstance(promptecho_cassette.client(flavor="httpx"), httpx.Client)
            assert isinstance(promptecho_cassette.transport(), promptecho.httpx2.EchoTransport)
            assert isinstance(promptecho_cassette.async_transport(flavor="httpx"),
                              promptecho.AsyncEchoTransport)
            assert isinstance(promptecho_cassette.async_client(), httpx2.AsyncClient)
        """)
    suite.runpytest().assert_outcomes(passed=1)


def test_the_httpx2_flavor_without_httpx2_names_the_extra(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="""
        import sys
        import pytest

        def test_missing(promptecho_cassette, monkeypatch):
            monkeypatch.setitem(sys.modules, "httpx2", None)
            monkeypatch.delitem(sys.modules, "promptecho.httpx2")
            with pytest.raises(ImportError, match=r'pip install "promptecho\\[httpx2\\]"'):
                promptecho_cassette.client(flavor="httpx2")
        """)
    suite.runpytest().assert_outcomes(passed=1)


def test_on_miss_none_gives_the_plain_cassette_miss(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_chat="""
        import pytest
        from promptecho import CassetteMiss

        def test_expects_a_miss(promptecho_cassette, ask):
            client = promptecho_cassette.client(on_miss=None)
            with pytest.raises(CassetteMiss):
                ask(client, "hi")
        """)
    monkeypatch.setenv("CI", "1")
    suite.runpytest().assert_outcomes(passed=1)


# -- strict ------------------------------------------------------------------------------------

STALE = """
import os

def test_chat(promptecho_client, ask):
    for text in os.environ["TEXTS"].split(","):
        ask(promptecho_client, text)
"""


def test_strict_fails_a_test_that_left_recordings_unplayed(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_chat=STALE)
    monkeypatch.setenv("TEXTS", "Hello,What is the weather in Paris?")
    suite.runpytest().assert_outcomes(passed=1)

    monkeypatch.setenv("TEXTS", "Hello")
    suite.runpytest().assert_outcomes(passed=1)
    result = suite.runpytest("--promptecho-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*/cassettes/test_chat/test_chat.json holds 1 interaction this test did not play:",
            "  #1 POST http://127.0.0.1:*/v1/chat/completions",
            "    differs from the closest played request at:",
            '      messages[[]0].content[[]0].text: recorded "What is the weather in Paris?" / incoming "Hello"',
            "Remove them with --promptecho-mode=all (re-records the cassette).",
        ],
        consecutive=True,
    )

    monkeypatch.setenv("TEXTS", "Hello,What is the weather in Paris?")
    suite.runpytest("--promptecho-strict").assert_outcomes(passed=1)


# -- async -------------------------------------------------------------------------------------


def test_async_fixtures_record_and_replay_in_async_tests(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_chat="""
        async def answer(client, upstream, text):
            body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}]}
            response = await client.post(upstream.url + "/v1/chat/completions", json=body)
            return response.json()["choices"][0]["message"]["content"]

        async def test_fixture(promptecho_async_client, upstream):
            assert await answer(promptecho_async_client, upstream, "hi") == "You said: hi"

        async def test_handle(promptecho_cassette, upstream):
            # Made in the test and left open: closed on the test's loop at teardown.
            a = promptecho_cassette.async_client(cassette="a")
            b = promptecho_cassette.async_client(cassette="b", flavor="httpx2")
            assert await answer(a, upstream, "a") == "You said: a"
            assert await answer(b, upstream, "b") == "You said: b"
        """)
    suite.runpytest().assert_outcomes(passed=2)
    assert len(list((suite.path / "cassettes").rglob("*.json"))) == 3
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["promptecho: 3 cassettes replayed, 0 recorded, *"])


# -- SDKs: a miss fails at once, with the diff, no retries -------------------------------------

SDKS = """
import os
import time
from pathlib import Path

import anthropic
import httpx2
import openai

MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test-model",
    "content": [{"type": "text", "text": "Hi!"}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2},
}


def timed(name, call):
    started = time.perf_counter()
    try:
        return call()
    finally:
        Path(f"{name}.seconds").write_text(str(time.perf_counter() - started))


def test_anthropic(promptecho_cassette):
    upstream = httpx2.MockTransport(lambda request: httpx2.Response(200, json=MESSAGE))
    http = promptecho_cassette.client(flavor="httpx2", transport=upstream)
    client = anthropic.Anthropic(api_key="x", base_url="https://api.anthropic.com", http_client=http)
    message = timed("anthropic", lambda: client.messages.create(
        model="claude-test-model", max_tokens=64,
        messages=[{"role": "user", "content": os.environ["PROMPT"]}],
    ))
    assert message.content[0].text == "Hi!"


def test_openai(promptecho_cassette, upstream):
    http = promptecho_cassette.client(flavor="httpx2")
    client = openai.OpenAI(api_key="x", base_url=upstream.url + "/v1", http_client=http)
    completion = timed("openai", lambda: client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": os.environ["PROMPT"]}],
    ))
    assert completion.choices[0].message.content.startswith("You said")
"""


def test_sdk_misses_fail_the_test_at_once_with_the_diff(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(test_sdks=SDKS)
    monkeypatch.setenv("PROMPT", "Hello")
    suite.runpytest().assert_outcomes(passed=2)

    monkeypatch.setenv("PROMPT", "Hello!")
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest()
    result.assert_outcomes(failed=2)
    for sdk, url in [("anthropic", "https://api.anthropic.com/v1/messages"),
                     ("openai", "http://127.0.0.1:*/v1/chat/completions")]:
        result.stdout.fnmatch_lines(
            [
                f"CassetteMiss: no recorded request in */cassettes/test_sdks/test_{sdk}.json "
                f"matches POST {url} (mode 'none')",
                "Closest recorded request (#0) differs at:",
                '  messages[[]0].content[[]0].text: recorded "Hello" / incoming "Hello!"',
            ],
            consecutive=True,
        )
        # Well under the first back-off sleep (0.5 s or more) of either SDK's retries.
        assert float((suite.path / f"{sdk}.seconds").read_text()) < 0.4
    # One miss per test: the SDKs made no second attempt.
    result.stdout.fnmatch_lines(["promptecho: 0 cassettes replayed, *, 2 misses, *"])
    result.stdout.no_fnmatch_line("*APIConnectionError*")
    result.stdout.no_fnmatch_line("During handling of the above exception*")


# -- pytest-xdist and plugins off --------------------------------------------------------------


def test_two_xdist_workers_recording_into_one_cassette_lose_nothing(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="""
        import pytest

        @pytest.mark.promptecho(cassette="shared", mode="new_episodes")
        @pytest.mark.parametrize("n", range(12))
        def test_shared(promptecho_client, ask, n):
            assert ask(promptecho_client, f"shared {n}") == f"You said: shared {n}"

        @pytest.mark.parametrize("n", range(4))
        def test_own(promptecho_client, ask, n):
            ask(promptecho_client, f"own {n}")
        """)
    result = suite.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=16)
    # Each test on the shared cassette counts the others' recordings as unplayed.
    result.stdout.fnmatch_lines(["promptecho: 0 cassettes replayed, *, 0 misses, * unplayed interactions, 0 replays with drift"])
    shared = suite.path / "cassettes" / "test_chat" / "shared.json"
    recorded = texts_in(shared)
    assert len(recorded) == 12
    assert all(any(f'"shared {n}"' in text for text in recorded) for n in range(12))
    assert not list(suite.path.rglob("*.journal"))
    assert len(list((suite.path / "cassettes" / "test_chat").glob("test_own*.json"))) == 4


def test_works_without_the_cache_provider(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_chat="def test_x(promptecho_client, ask): ask(promptecho_client, 'x')")
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not (suite.path / ".pytest_cache").exists()
