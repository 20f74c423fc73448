"""Embeddings: OpenAI-style ``/embeddings``, Ollama ``/api/embed``, Cohere ``/v2/embed``
and Gemini ``:embedContent`` / ``:batchEmbedContents``.

``input`` is always a list (one string is a list of one); ``encoding_format`` is
``"float"`` when absent, as the APIs default to it. The OpenAI SDK sends ``"base64"``
when the caller gives none, and the answer differs in shape, so the two stay distinct.
"""

from __future__ import annotations

from promptecho._types import JSON

from . import _build as build
from . import _common as common
from .gemini import model_from_url, snake

__all__ = ["parse", "parse_gemini"]

_KNOWN = frozenset(
    {
        "model",
        "input",
        "prompt",
        "texts",
        "inputs",
        "dimensions",
        "output_dimension",
        "encoding_format",
    }
)


def parse(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """OpenAI-style (also Mistral, Ollama, Cohere v2) embeddings bodies."""
    for key in ("input", "texts", "inputs", "prompt"):
        if key in body:
            value = body[key]
            break
    else:
        raise common.Malformed("an embeddings body has input, texts or prompt")
    dimensions = body.get("dimensions", body.get("output_dimension"))
    return build.make_embedding(
        model=body.get("model"),
        input=value if type(value) is list else [value],
        dimensions=dimensions if type(dimensions) is int else None,
        encoding_format=body.get("encoding_format") or "float",
        params=common.fold_params(body, _KNOWN),
    )


def parse_gemini(body: dict[str, JSON], url: str = "") -> dict[str, JSON]:
    """Gemini ``embedContent`` (one ``content``) or ``batchEmbedContents`` (``requests``)."""
    requests = body.get("requests")
    single = requests is None
    inputs: list[JSON] = []
    params: dict[str, JSON] = {}
    for request in [body] if single else common.as_list(requests, "requests"):
        request = common.as_dict(request, "requests[]")
        content = common.as_dict(request.get("content"), "content")
        for part in common.as_list(content.get("parts") or [], "content.parts"):
            part = common.as_dict(part, "content.parts[]")
            inputs.append(common.as_str(part["text"], "parts[].text") if "text" in part else part)
        for key, value in request.items():
            name = snake(key)
            if name not in ("content", "model") and value is not None:
                params[name] = value
    dimensions = params.pop("output_dimensionality", None)
    return build.make_embedding(
        model=model_from_url(url),
        input=inputs,
        dimensions=dimensions if type(dimensions) is int else None,
        params=params,
    )
