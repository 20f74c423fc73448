"""Text to speech (``/audio/speech``): the text, the voice and how the audio is wanted.

``response_format`` defaults to ``mp3`` and ``speed`` to 1, as the API does.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common

__all__ = ["parse"]

_KNOWN = frozenset({"model", "input", "voice", "response_format", "instructions", "speed"})


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of an ``/audio/speech`` body."""
    speed = body.get("speed")
    return build.make_speech(
        model=body.get("model"),
        input=common.as_str(body["input"], "input"),
        voice=body.get("voice"),
        response_format=body.get("response_format") or "mp3",
        instructions=body.get("instructions") or None,
        speed=None if speed in (None, 1) else speed,
        params=common.fold_params(body, _KNOWN),
    )
