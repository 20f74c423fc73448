"""Text to speech (``/audio/speech``): the text, the voice and how the audio is wanted.

``response_format`` defaults to ``mp3`` and ``speed`` to 1, as the API does.
"""

from __future__ import annotations

from promptecho._types import JSON

from ._build import (
    make_speech,
)
from ._common import as_str, fold_params

__all__ = ["parse"]

_KNOWN = frozenset({"model", "input", "voice", "response_format", "instructions", "speed"})


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """The canonical request of an ``/audio/speech`` body."""
    speed = body.get("speed")
    return make_speech(
        model=body.get("model"),
        input=as_str(body["input"], "input"),
        voice=body.get("voice"),
        response_format=body.get("response_format") or "mp3",
        instructions=body.get("instructions") or None,
        speed=None if speed in (None, 1) else speed,
        params=fold_params(body, _KNOWN),
    )
