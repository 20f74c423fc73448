"""The public names: sorted, complete, and importable."""

from __future__ import annotations

import promptecho
import promptecho.httpx2


def test_all_is_sorted_and_complete() -> None:
    # (pytest rewrites asserts in the plugin package and leaves "@py_builtins" names behind.)
    public = {
        name
        for name in vars(promptecho)
        if not name.startswith(("_", "@")) and name not in {"httpx2", "pytest_plugin", "testing"}
    } | {"WebSocketEcho", "sdk"}  # imported on first use (module __getattr__)
    assert promptecho.__all__ == sorted(promptecho.__all__, key=lambda n: (not n.isupper(), n))
    assert set(promptecho.__all__) == public


def test_the_names_the_contract_fixes_exist() -> None:
    for name in (
        "EchoTransport",
        "AsyncEchoTransport",
        "Cassette",
        "CassetteError",
        "CassetteMiss",
        "DEFAULT_MATCH_ON",
        "canonicalize",
        "register_normalizer",
        "client",
        "async_client",
    ):
        assert name in promptecho.__all__
    for name in ("EchoTransport", "AsyncEchoTransport", "client", "async_client"):
        assert name in promptecho.httpx2.__all__


def test_default_match_on_is_exactly_the_documented_list_and_extends_with_a_list() -> None:
    assert list(promptecho.DEFAULT_MATCH_ON) == [
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "reasoning",
        "thinking",
        "output_format",
        "state",
    ]
    extended = promptecho.DEFAULT_MATCH_ON + ["temperature"]
    assert list(extended)[-1] == "temperature"
    assert "temperature" not in promptecho.DEFAULT_MATCH_ON


def test_the_flavours_share_one_constructor() -> None:
    import inspect

    sync = inspect.signature(promptecho.EchoTransport)
    assert sync == inspect.signature(promptecho.AsyncEchoTransport)
    assert sync == inspect.signature(promptecho.httpx2.EchoTransport)
    assert list(sync.parameters)[:4] == ["cassette", "mode", "match_on", "transport"]


def test_the_constructor_options_and_option_names_list_the_same_keywords_and_defaults() -> None:
    """The transport's signature is written out for `help()` and IDEs, beside `Options.__init__`,
    which validates them, and `OPTION_NAMES`, from which the plugin and `use_cassette` derive theirs:
    the three must not drift apart."""
    import inspect

    from promptecho._options import OPTION_NAMES, Options

    def keywords(function: object) -> list[tuple[str, object]]:
        return [
            (p.name, p.default)
            for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

    transport = keywords(promptecho.EchoTransport)
    assert transport == keywords(Options)
    assert [name for name, _ in transport] == list(OPTION_NAMES)


def test_the_version_is_the_one_the_package_metadata_gives() -> None:
    from importlib.metadata import version

    assert promptecho.__version__ == version("promptecho")
