"""promptecho: record and replay LLM API calls in Python tests.

A test makes a real call once; promptecho writes it to a cassette file; every later run
replays it from disk. It is an explicit transport that you pass to your client::

    import httpx, promptecho
    client = httpx.Client(transport=promptecho.EchoTransport("cassettes/chat.json"))

The httpx2 flavour (for the SDKs built on httpx2) is `promptecho.httpx2`.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._canonical import canonicalize, register_normalizer
from ._cassette import Cassette
from ._errors import (
    CassetteError,
    CassetteExpired,
    CassetteExpiredWarning,
    CassetteMiss,
    Difference,
    Drift,
    DriftWarning,
    Verification,
)
from ._httpx import AsyncEchoTransport, EchoTransport, async_client, client
from ._match import DEFAULT_MATCH_ON
from ._scope import CassetteHandle, use_cassette
from ._version import VERSION as __version__  # noqa: F401 - the package version

if _TYPE_CHECKING:
    from ._sdk import sdk
    from ._websocket import WebSocketEcho


def __getattr__(name: str) -> object:
    # Lazily: `import promptecho` must not import the websockets package (an extra).
    if name == "WebSocketEcho":
        from ._websocket import WebSocketEcho

        return WebSocketEcho
    if name == "sdk":  # reads SDK classes with inspect and dataclasses: loaded when used
        from . import _sdk

        return _sdk.sdk
    raise AttributeError(f"module 'promptecho' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MATCH_ON",
    "AsyncEchoTransport",
    "Cassette",
    "CassetteError",
    "CassetteExpired",
    "CassetteExpiredWarning",
    "CassetteHandle",
    "CassetteMiss",
    "Difference",
    "Drift",
    "DriftWarning",
    "EchoTransport",
    "Verification",
    "WebSocketEcho",
    "async_client",
    "canonicalize",
    "client",
    "register_normalizer",
    "sdk",
    "use_cassette",
]
