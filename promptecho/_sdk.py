"""A ready SDK client in one call: `build_sdk` and `promptecho.sdk`.

How an SDK takes its HTTP client is read from the SDK's constructor, not from a table of
versions: the name of the parameter (``http_client``, ``httpx_client``, ``client`` and
``async_client``, ``http_options``, or ``**kwargs`` that become the client's options), and the
flavour (httpx or httpx2) from the type that parameter is annotated with. An SDK that moves
from httpx to httpx2 therefore keeps working, and one that takes no client gets a
`TypeError` saying how to inject a client by hand.

The only table here is of environment variable names (read from each SDK's source), used
to decide whether a replay needs a placeholder key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import sys
import typing
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._options import split_options
from ._types import Mode

__all__ = ["PLACEHOLDER_KEY", "build_sdk", "sdk", "will_replay"]

if TYPE_CHECKING:  # _scope builds the handles that call build_sdk: no import cycle at run time
    from ._scope import Flavor

HttpClientFactory: TypeAlias = "Callable[[Flavor, bool], Any]"
"""``http_client(flavor, is_async)``: a client of that flavour on a promptecho transport."""

PLACEHOLDER_KEY = "promptecho-replay-placeholder-key"
"""The key a replaying SDK gets when none is given or set: the cassette answers, not the API."""

# Where each SDK looks for its key when none is passed, as read in its source (longest
# module prefix wins). An empty tuple: the SDK signs requests another way (AWS, Google
# auth), so no placeholder is passed. A module not listed gets no placeholder either.
_KEY_ENV: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),  # anthropic/_client.py
    "anthropic.lib.bedrock": (),
    "anthropic.lib.vertex": (),
    "openai": ("OPENAI_API_KEY",),  # openai/_client.py
    "openai.lib.azure": ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN"),  # openai/lib/azure.py
    "groq": ("GROQ_API_KEY",),  # groq/_client.py
    "cohere": ("CO_API_KEY", "COHERE_API_KEY"),  # cohere/client.py
    "google.genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),  # google/genai/_api_client.py
}

_RETRY_OPTIONS = ("max_retries",)

_BY_HAND = (
    "Build its client by hand around a promptecho client: "
    "http_client=promptecho.client(cassette) (httpx) or promptecho.httpx2.client(cassette) "
    "(httpx2), or the async_client twins, passed the way the SDK documents."
)


@dataclasses.dataclass(frozen=True)
class _Injection:
    """Where the SDK takes its client(s): ``(parameter, is_async)`` pairs, and the flavour.

    ``kind`` says how the client is handed over: as the parameter's value (``"client"``),
    inside the SDK's ``http_options`` (``"http_options"``), or as the ``transport=`` option
    of the httpx client the SDK builds from its ``**kwargs`` (``"transport"``).
    """

    kind: Literal["client", "http_options", "transport"]
    slots: tuple[tuple[str, bool], ...]
    flavor: Flavor


def build_sdk(
    sdk_class: Callable[..., Any],
    sdk_kwargs: dict[str, Any],
    *,
    http_client: HttpClientFactory,
    will_replay: bool,
) -> Any:
    """``sdk_class(**sdk_kwargs)`` with promptecho clients injected the way that SDK takes them.

    ``http_client(flavor, is_async)`` returns a client whose transport is a promptecho
    transport; the caller closes it. When ``will_replay``, an SDK with no key given or set in
    its environment gets `PLACEHOLDER_KEY`, and retries are turned off (unless given) so that
    a `promptecho.CassetteMiss` reaches the caller at once, as the cause of the SDK's error.
    """
    injection = _injection(sdk_class)
    kwargs = dict(sdk_kwargs)
    taken = [name for name, _ in injection.slots if kwargs.get(name) is not None]
    if taken:
        raise TypeError(
            f"{_name(sdk_class)}: {taken[0]}= is what promptecho sets; "
            "pass the promptecho options instead, or build the SDK client by hand."
        )
    parameters = _parameters(sdk_class)
    if will_replay:
        _add_placeholder_key(sdk_class, parameters, kwargs)
        for option in _RETRY_OPTIONS:
            if option in parameters and option not in kwargs:
                kwargs[option] = 0
    match injection.kind:
        case "client":
            for name, is_async in injection.slots:
                kwargs[name] = http_client(injection.flavor, is_async)
        case "http_options":
            clients = {name: http_client(injection.flavor, a) for name, a in injection.slots}
            kwargs["http_options"] = _with_options(kwargs.get("http_options"), clients)
        case "transport":
            ((name, is_async),) = injection.slots
            kwargs[name] = _transport_of(http_client(injection.flavor, is_async))
    return sdk_class(**kwargs)


def will_replay(cassette: str | os.PathLike[str], mode: Mode) -> bool:
    """Whether a transport in ``mode`` on ``cassette`` answers from the file (so needs no key)."""
    return mode == "none" or (mode == "once" and Path(cassette).exists())


def sdk(sdk_class: Callable[..., Any], cassette: str | os.PathLike[str], /, **options: Any) -> Any:
    """A ready SDK client whose HTTP traffic records into and replays from ``cassette``.

    promptecho's own options (``mode``, ``match_on``, ``transport``, ...) go to the transport;
    every other keyword goes to the SDK. The SDK gets the client flavour it needs (httpx or
    httpx2), injected the way it takes one, and a placeholder key when the cassette will
    replay and no key is given or set. Closing the SDK client writes the cassette, for the
    SDKs that close a client they were given (anthropic, openai, groq, cohere, ollama);
    google-genai and mistralai leave it open: their sync client is closed when the SDK client
    is garbage-collected (or at exit), their async client is not (a finalizer cannot await),
    and every recorded interaction is in the cassette's journal meanwhile, which the next
    load folds in.

    Examples
    --------
    >>> import openai, promptecho
    >>> client = promptecho.sdk(openai.OpenAI, "cassettes/chat.json")  # doctest: +SKIP
    """
    echo, sdk_kwargs = split_options(options)
    mode: Mode = echo.get("mode", "once")
    made: list[Any] = []

    def http_client(flavor: Flavor, is_async: bool) -> Any:
        from ._scope import flavour  # at call time: _scope will import this module

        module = flavour(flavor)[0]
        options = options_for(echo, is_async)
        client = (module.async_client if is_async else module.client)(cassette, **options)
        made.append(client)
        return client

    built = build_sdk(
        sdk_class, sdk_kwargs, http_client=http_client, will_replay=will_replay(cassette, mode)
    )
    # A safety net for the SDKs that never close a client they were given: the sync clients
    # are closed (writing the cassette) when the SDK client is collected, or at exit. Closing
    # twice is harmless. Async clients need an event loop, which a finalizer does not have.
    with contextlib.suppress(TypeError):  # an SDK object that takes no weak reference
        weakref.finalize(built, _close_sync, [c for c in made if hasattr(c, "close")])
    return built


def options_for(options: dict[str, Any], is_async: bool) -> dict[str, Any]:
    """A client's promptecho options: an SDK that takes a sync and an async client (mistralai,
    google-genai) gets both, and a real ``transport=`` can serve only the one of its kind."""
    kept = dict(options)
    if not hasattr(kept.get("transport"), "handle_async_request" if is_async else "handle_request"):
        kept.pop("transport", None)
    return kept


def _close_sync(clients: list[Any]) -> None:
    for client in clients:
        client.close()


def _injection(sdk_class: Callable[..., Any]) -> _Injection:
    parameters = _parameters(sdk_class)
    hints = _hints(sdk_class)
    for name in ("http_client", "httpx_client"):
        if name in parameters:
            flavor, is_async = _client_type(sdk_class, hints.get(name, parameters[name]))
            return _Injection("client", ((name, is_async),), flavor)
    if "client" in parameters and "async_client" in parameters:
        flavor, _ = _client_type(sdk_class, hints.get("client", parameters["client"]))
        return _Injection("client", (("client", False), ("async_client", True)), flavor)
    if "http_options" in parameters:
        options = _http_options_class(hints.get("http_options"))
        if options is not None:
            fields = _field_types(options)
            slots = tuple((n, n.endswith("async_client")) for n in fields if n.startswith("httpx"))
            if slots:
                flavor, _ = _client_type(options, fields[slots[0][0]])
                return _Injection("http_options", slots, flavor)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        # ollama: the constructor's **kwargs become the options of the httpx client it builds
        # from the module it imports, so the client is handed over as that client's transport.
        imported = _imported_flavour(sys.modules.get(getattr(sdk_class, "__module__", "")))
        if imported is not None:
            return _Injection("transport", (("transport", _is_async_sdk(sdk_class)),), imported)
    raise TypeError(
        f"promptecho does not know how {_name(sdk_class)} takes an HTTP client: its constructor "
        f"has no http_client, httpx_client, client/async_client or http_options parameter. "
        f"{_BY_HAND}"
    )


def _parameters(sdk_class: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(sdk_class).parameters)
    except (TypeError, ValueError):
        return {}


def _hints(target: Any) -> dict[str, Any]:
    """The constructor's annotations, each resolved where it can be (else left as written)."""
    scope = _globals_of(target)
    init = getattr(target, "__init__", None) if isinstance(target, type) else target
    hints = {}
    for name, annotation in getattr(init, "__annotations__", {}).items():
        if isinstance(annotation, str):
            # what typing.get_type_hints does, one parameter at a time: an SDK's annotation
            # that does not resolve (a name imported only for type checkers) spoils no other
            with contextlib.suppress(Exception):
                annotation = eval(annotation, scope)
        hints[name] = annotation
    return hints


def _globals_of(target: Any) -> dict[str, Any]:
    """Where the constructor's annotations were written: its function's module globals."""
    init = getattr(target, "__init__", None) if isinstance(target, type) else target
    scope = getattr(init, "__globals__", None)
    return scope if isinstance(scope, dict) else {}


def _client_type(owner: Any, annotation: Any) -> tuple[Flavor, bool]:
    """The flavour and sync-ness of a client parameter, from the types its annotation names."""
    if isinstance(annotation, inspect.Parameter):
        annotation = annotation.annotation
    flavours: list[Flavor] = []
    is_async = False
    for cls in _named_types(annotation):
        is_async = is_async or cls.__name__.startswith("Async")
        top = getattr(cls, "__module__", "").partition(".")[0]
        if top in ("httpx", "httpx2"):
            flavours.append(top)  # type: ignore[arg-type]
        else:  # a protocol of the SDK's own (mistralai's HttpClient): the module it imports
            found = _imported_flavour(sys.modules.get(getattr(cls, "__module__", "")))
            if found is not None:
                flavours.append(found)
    if isinstance(annotation, str):  # unresolved: the names as written, where they were written
        scope = _globals_of(owner)
        for word in annotation.replace("[", " ").replace("]", " ").replace("|", " ").split():
            head = scope.get(word.partition(".")[0])
            if isinstance(head, ModuleType) and head.__name__ in ("httpx", "httpx2"):
                flavours.append(head.__name__)  # type: ignore[arg-type]
                is_async = is_async or ".Async" in word
    if not flavours:
        raise TypeError(
            f"promptecho cannot tell which HTTP library {_name(owner)} wants from the type "
            f"{annotation!r}. {_BY_HAND}"
        )
    # An SDK that accepts both (google-genai) gets httpx2, the one the newest SDKs moved to.
    return ("httpx2" if "httpx2" in flavours else "httpx"), is_async


def _named_types(annotation: Any) -> Iterator[type]:
    if isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _named_types(arg)


def _imported_flavour(module: ModuleType | None) -> Flavor | None:
    """httpx2 or httpx, whichever of them ``module`` imports (under any name)."""
    names = (
        {v.__name__ for v in vars(module).values() if isinstance(v, ModuleType)}
        if module
        else set()
    )
    if "httpx2" in names:
        return "httpx2"
    return "httpx" if "httpx" in names else None


def _is_async_sdk(sdk_class: Any) -> bool:
    return any(
        inspect.iscoroutinefunction(getattr(sdk_class, name, None))
        for name in dir(sdk_class)
        if not name.startswith("_")
    )


def _http_options_class(annotation: Any) -> type | None:
    for cls in _named_types(annotation):
        if cls.__name__ == "HttpOptions":
            return cls
    return None


def _field_types(options: type) -> dict[str, Any]:
    """The fields of a pydantic options model (google-genai's ``HttpOptions``) and their types."""
    fields = getattr(options, "model_fields", None)
    if isinstance(fields, dict):
        return {name: getattr(field, "annotation", None) for name, field in fields.items()}
    return _hints(options)


def _with_options(given: Any, clients: dict[str, Any]) -> Any:
    """The SDK's http options (a dict, a pydantic model or None) with the clients set."""
    if given is None or isinstance(given, dict):
        return {**(given or {}), **clients}
    return given.model_copy(update=clients)


def _add_placeholder_key(
    sdk_class: Any, parameters: dict[str, inspect.Parameter], kwargs: dict[str, Any]
) -> None:
    if "api_key" not in parameters or kwargs.get("api_key") is not None:
        return
    module = getattr(sdk_class, "__module__", "")
    prefixes = [p for p in _KEY_ENV if module == p or module.startswith(p + ".")]
    if not prefixes:
        return
    names = _KEY_ENV[max(prefixes, key=len)]
    if names and not any(os.environ.get(name) for name in names):
        kwargs["api_key"] = PLACEHOLDER_KEY


def _transport_of(client: Any) -> Any:
    # The one use of a private attribute: httpx and httpx2 clients do not expose the
    # transport they were built with, and ollama takes a transport, not a client.
    return client._transport


def _name(target: Any) -> str:
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"
