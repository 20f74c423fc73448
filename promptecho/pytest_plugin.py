"""The pytest plugin: one cassette scope per test, handed out as clients and transports.

It owns the fixtures (`promptecho_cassette`, `promptecho_client`, `promptecho_async_client`),
the ``promptecho`` marker, the ``--promptecho-*`` options and ``promptecho_*`` ini keys, the
end-of-session summary line, and the only read of the ``CI`` environment variable. It is
the only promptecho module that imports pytest. Every decision (what a mode means, what
matched, what was not played, what drifted) is the core's: the plugin hands out
`promptecho.CassetteHandle` scopes and reports what they saw.

Inside pytest a `CassetteMiss` fails the test at once: the transports handed out here are
given an ``on_miss`` hook that raises pytest's ``Failed`` (a ``BaseException``), which an SDK's
``except Exception`` retry loop cannot catch, so no retry or back-off sleep is spent on it.
A miss that user code swallows all the same (``asyncio.gather(return_exceptions=True)``)
still fails the test when it ends.
"""

from __future__ import annotations

import inspect
import os
import traceback
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeAlias

import pytest

from ._errors import CassetteMiss, DriftWarning, invalid_mode
from ._naming import default_cassette_path, resolve_cassette
from ._options import OPTION_NAMES, Options, split_options
from ._recorder import Recorder
from ._scope import FLAVORS, CassetteHandle, Flavor
from ._types import MODES, Mode

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - depends on the environment
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = [
    "CassetteHandle",
    "default_cassette_path",
    "promptecho_async_client",
    "promptecho_cassette",
    "promptecho_client",
    "resolve_mode",
]

DriftPolicy: TypeAlias = Literal["ignore", "warn", "fail"]
DRIFT_POLICIES: tuple[DriftPolicy, ...] = ("ignore", "warn", "fail")
VerifyLevel: TypeAlias = Literal["structure", "text", "never"]
VERIFY_LEVELS: tuple[VerifyLevel, ...] = ("structure", "text", "never")
# Which verdicts fail a test at each --promptecho-verify-fail-on level.
_FAILING: dict[str, frozenset[str]] = {
    "structure": frozenset({"structure changed", "not recorded"}),
    "text": frozenset({"structure changed", "not recorded", "text changed"}),
    "never": frozenset(),
}
_TRUE = frozenset({"1", "true", "yes", "on"})


# -- the mode ---------------------------------------------------------------------------


def resolve_mode(*, option: str | None, marker: str | None, ci: bool, ini: str | None) -> Mode:
    """The mode a transport gets, from every place that can set it.

    >>> resolve_mode(option=None, marker="all", ci=True, ini="once")
    'none'
    >>> resolve_mode(option="all", marker=None, ci=True, ini=None)
    'all'
    """
    # Highest first: the command line (--promptecho-mode, an explicit choice for this run),
    # CI set to a true value (then "none": no marker or ini may make CI call out; a
    # forgotten recording fails the build instead), the closest marker (or mode= given to
    # the handle), the ini key promptecho_mode, and last the default "once".
    for mode in (option, "none" if ci else None, marker, ini or None, "once"):
        if mode is not None:
            if mode not in MODES:
                raise invalid_mode(mode)
            return mode
    raise AssertionError("unreachable")  # pragma: no cover


# -- the session: settings and the summary --------------------------------------------


@dataclass
class _Stats:
    replayed: int = 0
    recorded: int = 0
    rerecorded: int = 0
    misses: int = 0
    unplayed: int = 0
    drifted: int = 0
    calls: int = 0  # replays
    live: int = 0  # calls that went upstream (recorded, or verified)
    tokens: dict[str, list[int]] = field(default_factory=dict)  # model -> [input, output] saved
    plays: dict[str, list[Any]] = field(default_factory=dict)  # cassette -> [size, played]
    used: bool = False

    def add(self, recorder: Recorder) -> None:
        self.used = True
        self.misses += len(recorder.misses)
        self.unplayed += len(recorder.unplayed())
        self.drifted += len(recorder.drift)
        self.live += recorder.recorded + len(recorder.verifications)
        if recorder.existed and recorder.policy.replays:  # the play log: what replay used
            entry = self.plays.setdefault(str(recorder.path), [recorder.size, []])
            entry[1] = sorted({*entry[1], *recorder.played()})
        for model, plays, usage in recorder.replayed():
            self.calls += plays
            if usage is not None:
                saved = self.tokens.setdefault(model or "", [0, 0])
                saved[0] += plays * usage.input_tokens
                saved[1] += plays * usage.output_tokens
        if recorder.existed and recorder.recorded:
            self.rerecorded += 1
        elif recorder.recorded:
            self.recorded += 1
        elif recorder.played():
            self.replayed += 1

    def merge(self, other: Mapping[str, Any]) -> None:
        names = (
            "replayed",
            "recorded",
            "rerecorded",
            "misses",
            "unplayed",
            "drifted",
            "calls",
            "live",
        )
        for name in names:
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))
        for model, (spent_in, spent_out) in dict(other.get("tokens", {})).items():
            saved = self.tokens.setdefault(model, [0, 0])
            saved[0] += spent_in
            saved[1] += spent_out
        for path, (size, played) in dict(other.get("plays", {})).items():
            entry = self.plays.setdefault(path, [size, []])
            entry[1] = sorted({*entry[1], *played})
        self.used = self.used or bool(other.get("used"))

    def savings(self, prices: Mapping[str, tuple[float, float]]) -> str:
        """What replaying spared: calls, tokens and, given per-model prices, money."""
        spent_in = sum(t[0] for t in self.tokens.values())
        spent_out = sum(t[1] for t in self.tokens.values())
        cassettes = self.replayed + self.rerecorded
        line = (
            f"promptecho: {self.calls:,} {'call' if self.calls == 1 else 'calls'} replayed from "
            f"{_plural(cassettes, 'cassette')}, {_tokens(spent_in)} input + {_tokens(spent_out)} "
            f"output tokens not spent"
        )
        priced = [(prices[model], saved) for model, saved in self.tokens.items() if model in prices]
        if priced:
            money = sum(p[0] * s[0] / 1e6 + p[1] * s[1] / 1e6 for p, s in priced)
            shown = f"{money:,.2f}" if money >= 0.01 else f"{money:.4f}"
            line += f" (${shown} at the configured prices)"
        return f"{line}, {_plural(self.live, 'live call')}"

    def line(self) -> str:
        return (
            f"promptecho: {_plural(self.replayed, 'cassette')} replayed, {self.recorded} recorded, "
            f"{self.rerecorded} re-recorded, {_plural(self.misses, 'miss', 'misses')}, "
            f"{_plural(self.unplayed, 'unplayed interaction')}, "
            f"{_plural(self.drifted, 'replay')} with drift"
        )


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.2f}M"
    if count >= 10_000:
        return f"{count / 1e3:.1f}k"
    return f"{count:,}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


@dataclass
class _Settings:
    option_mode: str | None
    strict: bool
    ci: bool
    ini_mode: str | None
    flavor: Flavor
    cassette_dir: Path | None
    drift: DriftPolicy
    expiry: dict[str, Any] = field(default_factory=dict)  # max_age / on_expiry from the ini
    verify_report: Path | None = None
    verify_fail_on: VerifyLevel = "structure"
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    stats: _Stats = field(default_factory=_Stats)
    verified: list[dict[str, Any]] = field(default_factory=list)  # the verify report's rows

    def settle(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options a test's transport gets: the ini's expiry unless a marker or the
        call says otherwise, the mode by `resolve_mode`, and no re-recording under CI."""
        settled = {**self.expiry, **options}
        settled["mode"] = resolve_mode(
            option=self.option_mode, marker=options.get("mode"), ci=self.ci, ini=self.ini_mode
        )
        if self.ci and settled.get("on_expiry") == "rerecord":
            settled["on_expiry"] = "fail"  # CI never calls out: an expired cassette fails
        return settled

    @property
    def mode_is_ci(self) -> bool:
        """Whether CI, and not the command line, decides the mode (then it is ``none``)."""
        return self.ci and self.option_mode is None


_SETTINGS = pytest.StashKey[_Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptecho", "record and replay LLM API calls")
    group.addoption(
        "--promptecho-mode",
        choices=MODES,
        default=None,
        help="record mode for every cassette; overrides CI, markers and the ini file.",
    )
    group.addoption(
        "--promptecho-strict",
        action="store_true",
        default=False,
        help="fail a test whose cassette holds interactions it did not play.",
    )
    group.addoption(
        "--promptecho-drift",
        choices=DRIFT_POLICIES,
        default=None,
        help="what a replayed request that differs from its recording outside the match key "
        "does: ignore, warn (default) or fail the test.",
    )
    group.addoption(
        "--promptecho-verify-report",
        default=None,
        metavar="PATH",
        help="with --promptecho-mode=verify: write the report to PATH (JSON) and PATH's .md twin.",
    )
    group.addoption(
        "--promptecho-verify-fail-on",
        choices=VERIFY_LEVELS,
        default="structure",
        help="with --promptecho-mode=verify: which changes fail a test (default: structure).",
    )
    parser.addini(
        "promptecho_prices",
        "per-model prices in USD per million tokens, one per line: MODEL INPUT OUTPUT",
        type="linelist",
    )
    parser.addini(
        "promptecho_cassette_dir", "folder of cassettes (default: cassettes/ beside each test file)"
    )
    parser.addini("promptecho_mode", "default record mode: once, none, new_episodes or all")
    parser.addini("promptecho_flavor", "default HTTP library of the fixtures: httpx or httpx2")
    parser.addini("promptecho_drift", "drift in a replayed request: ignore, warn or fail")
    parser.addini("promptecho_max_age", "age after which a cassette expires: 12h, 30d, 4w...")
    parser.addini("promptecho_on_expiry", "what an expired cassette does: warn, fail or rerecord")


def pytest_configure(config: pytest.Config) -> None:
    options = ", ".join(f"{name}=..." for name in OPTION_NAMES)
    config.addinivalue_line(
        "markers",
        f"promptecho(*, cassette=None, {options}): options of this test's cassette; "
        "the closest marker wins, option by option.",
    )
    ini_mode = str(config.getini("promptecho_mode") or "") or None
    if ini_mode is not None and ini_mode not in MODES:
        raise pytest.UsageError(f"promptecho_mode: {invalid_mode(ini_mode)}")
    flavor = str(config.getini("promptecho_flavor") or "httpx")
    if flavor not in FLAVORS:
        raise pytest.UsageError(f"promptecho_flavor: {flavor!r} is not 'httpx' or 'httpx2'.")
    drift = config.getoption("promptecho_drift") or str(config.getini("promptecho_drift") or "warn")
    if drift not in DRIFT_POLICIES:
        raise pytest.UsageError(f"promptecho_drift: {drift!r} is not 'ignore', 'warn' or 'fail'.")
    expiry: dict[str, Any] = {}
    for key in ("max_age", "on_expiry"):
        value = str(config.getini(f"promptecho_{key}") or "").strip()
        if value:
            expiry[key] = value
    try:
        Options(**expiry)
    except ValueError as err:
        raise pytest.UsageError(f"promptecho_max_age / promptecho_on_expiry: {err}") from None
    folder = str(config.getini("promptecho_cassette_dir") or "")
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    config.stash[_SETTINGS] = _Settings(
        option_mode=config.getoption("promptecho_mode"),
        strict=bool(config.getoption("promptecho_strict")),
        # The only place promptecho reads CI.
        ci=os.environ.get("CI", "").strip().lower() in _TRUE,
        ini_mode=ini_mode,
        flavor=flavor,
        cassette_dir=base / folder if folder else None,
        drift=drift,
        expiry=expiry,
        verify_report=_report_path(config),
        verify_fail_on=config.getoption("promptecho_verify_fail_on"),
        prices=_prices(config.getini("promptecho_prices")),
    )


def _report_path(config: pytest.Config) -> Path | None:
    given = config.getoption("promptecho_verify_report")
    return None if given is None else Path(given).resolve()


def _prices(lines: list[str]) -> dict[str, tuple[float, float]]:
    prices: dict[str, tuple[float, float]] = {}
    for line in lines:
        parts = line.split()
        try:
            model, spent_in, spent_out = parts
            prices[model] = (float(spent_in), float(spent_out))
        except ValueError:
            raise pytest.UsageError(
                f"promptecho_prices: {line!r} is not 'MODEL INPUT OUTPUT' (USD per million "
                "tokens, e.g. 'gpt-4.1-mini 0.40 1.60')"
            ) from None
    return prices


def pytest_sessionfinish(session: pytest.Session) -> None:
    settings = session.config.stash.get(_SETTINGS, None)
    workeroutput = getattr(session.config, "workeroutput", None)  # a pytest-xdist worker
    if settings is None:
        return
    if workeroutput is not None:
        workeroutput["promptecho"] = dict(vars(settings.stats))
        workeroutput["promptecho_verified"] = settings.verified
    else:
        if settings.verify_report is not None and settings.verified:
            _write_verify_report(settings.verify_report, settings.verified)
        if settings.stats.plays:
            _write_playlog(session.config.rootpath, settings.stats.plays)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    settings = node.config.stash[_SETTINGS]
    if output.get("promptecho"):
        settings.stats.merge(output["promptecho"])
    settings.verified.extend(output.get("promptecho_verified", []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is not None and settings.stats.used:
        terminalreporter.write_line(settings.stats.line())
        terminalreporter.write_line(settings.stats.savings(settings.prices))
    if settings is not None and settings.verify_report is not None and settings.verified:
        terminalreporter.write_line(
            f"promptecho: verify report written to {settings.verify_report} and "
            f"{settings.verify_report.with_suffix('.md')}"
        )


def _write_playlog(root: Path, plays: Mapping[str, list[Any]]) -> None:
    """`.promptecho/playlog.json` under the rootdir: what ``promptecho check`` reads to find
    cassettes no test used and recordings never played."""
    from ._playlog import write_playlog

    named: dict[str, tuple[int, list[int]]] = {}
    for path, (size, played) in plays.items():
        try:
            name = Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # a cassette outside the rootdir keeps its absolute path
            name = Path(path).resolve().as_posix()
        named[name] = (size, played)
    write_playlog(root, named)


def _write_verify_report(path: Path, rows: list[dict[str, Any]]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"verified": rows}, indent=2) + "\n")
    lines = [
        "| test | cassette | request | verdict | changed |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        verdict = row["verdict"]
        if verdict == "text changed":
            verdict += f" ({row['ratio']:.2f})"
        changed = "<br>".join(c.replace("|", "\\|") for c in row["changes"])
        lines.append(
            f"| {row['test']} | {row['cassette']} | {row['request']} | {verdict} | {changed} |"
        )
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


# -- one test's scope -------------------------------------------------------------------


class _TestState:
    """What the plugin needs to know of one test besides its handle: the failures it raised."""

    __slots__ = ("failures", "handle", "item", "settings")

    def __init__(self, item: pytest.Item, settings: _Settings) -> None:
        self.item = item
        self.settings = settings
        self.failures: list[tuple[CassetteMiss, BaseException]] = []
        self.handle = self._open()

    def _open(self) -> CassetteHandle:
        __tracebackhide__ = True
        item, settings = self.item, self.settings
        marker = _marker_options(item)
        test_file = item.path
        class_name = item.cls.__name__ if getattr(item, "cls", None) is not None else None  # type: ignore[attr-defined]
        path = default_cassette_path(
            test_file, item.name, class_name, cassette_dir=settings.cassette_dir
        )
        cassette = marker.pop("cassette", None)
        if cassette is not None:  # a bare name is a file beside the test's own cassettes
            path = resolve_cassette(cassette, folder=test_file.parent, beside=path.parent)
        _, rest = split_options(marker)
        if rest:
            raise TypeError(
                f"@pytest.mark.promptecho got unexpected option(s): {', '.join(sorted(rest))}"
            )
        marker.setdefault("on_miss", self.fail_now)  # on_miss=None gives the plain CassetteMiss
        return CassetteHandle(
            path,
            options=marker,
            folder=test_file.parent,
            flavor=settings.flavor,
            settle=settings.settle,
        )

    def fail_now(self, miss: CassetteMiss) -> NoReturn:
        __tracebackhide__ = True
        # Failed derives from BaseException: an SDK's `except Exception` lets it through.
        # `from None`: the miss it replaces has the same text, shown once is enough.
        failure = pytest.fail.Exception(self.describe(miss), pytrace=False)
        self.failures.append((miss, failure))
        raise failure from None

    def describe(self, miss: CassetteMiss) -> str:
        text = str(miss)
        if self.settings.mode_is_ci and miss.mode == "none":
            text = text.replace(
                miss.hint,
                "The mode is 'none' because CI is set (CI never calls out, whatever markers "
                "and ini say). To re-record this test, run it locally without CI:\n"
                f"  pytest '{self.item.nodeid}' --promptecho-mode=new_episodes",
            )
        return f"CassetteMiss: {text}{self._called_from()}"

    def _called_from(self) -> str:
        """The test's own line that made the request (an SDK's frames may hide it)."""
        test_file = str(self.item.path)
        for frame in reversed(traceback.extract_stack()):
            if frame.filename == test_file:
                return (
                    f"\nRequested at {frame.filename}:{frame.lineno}, in {frame.name}: {frame.line}"
                )
        return ""


def _marker_options(item: pytest.Item) -> dict[str, Any]:
    """The merged kwargs of every ``promptecho`` marker: the closest one wins, key by key."""
    merged: dict[str, Any] = {}
    for marker in reversed(list(item.iter_markers("promptecho"))):  # farthest first
        if marker.args:
            raise TypeError("@pytest.mark.promptecho takes keyword arguments only")
        merged |= marker.kwargs
    return merged


_STATE = pytest.StashKey[_TestState]()


@pytest.fixture
def promptecho_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteHandle]:
    """This test's cassette scope (a `promptecho.CassetteHandle`), closed at teardown."""
    __tracebackhide__ = True
    item = request.node
    assert isinstance(item, pytest.Item)
    settings = request.config.stash[_SETTINGS]
    state = _TestState(item, settings)
    item.stash[_STATE] = state
    try:
        yield state.handle
    finally:
        try:
            state.handle.close()
        finally:
            for recorder in state.handle.recorders:
                settings.stats.add(recorder)
            # A test item lives for the whole session: were it to keep its handle, every
            # cassette ever loaded would stay in memory, and each garbage collection and the
            # interpreter's exit would walk them all (measured: ~1 ms per test at 300 tests).
            del item.stash[_STATE]


@pytest.fixture
def promptecho_client(promptecho_cassette: CassetteHandle) -> Any:
    """``promptecho_cassette.client()``: a client on this test's cassette."""
    return promptecho_cassette.client()


@_async_fixture
async def promptecho_async_client(promptecho_cassette: CassetteHandle) -> AsyncIterator[Any]:
    """``promptecho_cassette.async_client()``, closed on the test's event loop."""
    client = promptecho_cassette.async_client()
    try:
        yield client
    finally:
        await promptecho_cassette.aclose()


@_async_fixture
async def _promptecho_async_teardown(promptecho_cassette: CassetteHandle) -> AsyncIterator[None]:
    # Added to async tests that use promptecho_cassette (see pytest_runtest_setup): the async
    # clients they made are closed on the test's event loop, before pytest-asyncio closes it.
    yield
    await promptecho_cassette.aclose()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if (
        isinstance(item, pytest.Function)
        and "promptecho_cassette" in item.fixturenames
        and inspect.iscoroutinefunction(item.obj)
        and item.config.pluginmanager.has_plugin("asyncio")
        and "_promptecho_async_teardown" not in item.fixturenames
    ):
        item.fixturenames.append("_promptecho_async_teardown")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        result = yield
    except BaseException as err:
        state = item.stash.get(_STATE, None)
        if state is None or not state.failures or any(err is f for _, f in state.failures):
            raise
        # The test failed of something else (an SDK's own error, an AttributeError on the
        # value gather() returned): the miss is the cause, show it.
        raise pytest.fail.Exception(_report(state), pytrace=False) from err
    state = item.stash.get(_STATE, None)
    if state is None:
        return result
    if state.failures:  # swallowed by user code, yet the request had no recorded answer
        pytest.fail(_report(state), pytrace=False)
    if state.settings.strict:
        report = state.handle.explain_unplayed()
        if report:
            pytest.fail(
                f"{report}\nRemove them with --promptecho-mode=all (re-records the cassette).",
                pytrace=False,
            )
    verifications = state.handle.verifications
    if verifications:
        settings = state.settings
        settings.verified.extend(
            {
                "test": item.nodeid,
                "cassette": str(v.cassette),
                "index": v.index,
                "request": v.request,
                "verdict": v.verdict,
                "ratio": round(v.ratio, 4),
                "changes": list(v.changes),
            }
            for v in verifications
        )
        failing = [v for v in verifications if v.verdict in _FAILING[settings.verify_fail_on]]
        if failing:
            pytest.fail(
                "verify: the live answers changed:\n" + "\n".join(str(v) for v in failing),
                pytrace=False,
            )
    drift = state.handle.drift
    if drift and state.settings.drift != "ignore":
        text = "\n".join(str(d) for d in drift)
        noun = "replay" if len(drift) == 1 else "replays"
        message = (
            f"{len(drift)} {noun} of this test drifted (outside the match key; the recordings "
            f"still answered):\n{text}"
        )
        if state.settings.drift == "fail":
            pytest.fail(message, pytrace=False)
        warnings.warn(DriftWarning(message), stacklevel=1)
    return result


def _report(state: _TestState) -> str:
    count = len(state.failures)
    head = (
        "a request had no recorded answer (the code under test caught the failure):"
        if count == 1
        else f"{count} requests had no recorded answer (the code under test caught the failures):"
    )
    return "\n\n".join([head, *(str(f) for _, f in state.failures)])
