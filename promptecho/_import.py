"""``promptecho import``: vcrpy, pytest-recording and cassetter cassettes as promptecho cassettes.

Read formats: vcrpy's YAML and JSON serializers (``body.string`` as text or bytes, as
base64 under ``base64_string``, or a parsed body under ``json`` / ``parsed_json`` /
``parsed`` as common custom serializers store it), and cassetter's YAML and TOML (body
``type`` json / text / binary / none). Each interaction goes the recorder's way: the
request canonicalised by `canonicalize_request`, URL, headers and body paths redacted by
`_redact`, the response's ``content-encoding`` (gzip, deflate, brotli, zstd) undone and its
body built by `build_body` (an SSE body becomes events, bytes that are not text stay
binary), then the recorder's secret scan. What cannot be converted is skipped and said.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ._canonical import canonicalize_request
from ._cassette import (
    FORMAT_VERSION,
    Binary,
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
)
from ._content import IncrementalDecoder, build_body, supports_encoding
from ._redact import (
    DEFAULT_REDACTION,
    redact_request_headers,
    redact_response_headers,
    redact_url,
)
from ._types import Headers

__all__ = ["FileReport", "convert", "import_paths"]

_SUFFIXES = (".yaml", ".yml", ".json", ".toml")


class FileReport(msgspec.Struct, kw_only=True):
    """What ``import`` did with one file."""

    source: str
    out: str | None = None
    format: str | None = None
    interactions: int = 0
    skipped: list[str] = msgspec.field(default_factory=list)
    error: str | None = None

    def __str__(self) -> str:
        if self.error is not None:
            return f"FAIL {self.source}: {self.error}"
        text = (
            f"converted {self.source} ({self.format}) -> {self.out}: "
            f"{self.interactions} interaction{'s' * (self.interactions != 1)}"
        )
        if self.skipped:
            text += f", skipped {len(self.skipped)} ({'; '.join(self.skipped)})"
        return text


class NotConvertible(Exception):
    """A file that is not a cassette import understands (the report's ``error``)."""


def import_paths(paths: Sequence[Path], out: Path | None) -> list[FileReport]:
    """Convert every cassette file in ``paths`` (files, or folders searched recursively).

    ``out`` is the output file for a single input file, else a folder that receives the
    converted files under their relative paths; by default each is written beside its
    source as ``<name>.json`` (``<name>.promptecho.json`` for a JSON source).
    """
    sources: list[tuple[Path, Path]] = []  # (file, the folder it was found under)
    for path in paths:
        if path.is_dir():
            sources += [(f, path) for f in sorted(_files_in(path))]
        else:
            sources.append((path, path.parent))
    reports = []
    single = len(sources) == 1 and out is not None and out.suffix == ".json"
    for source, base in sources:
        report = FileReport(source=str(source))
        try:
            cassette, report.format, report.skipped = convert(source.read_bytes(), source.suffix)
        except (NotConvertible, OSError) as err:
            report.error = str(err)
            reports.append(report)
            continue
        target = _target(source, base, out, single=single)
        cassette.save(target)
        report.out, report.interactions = str(target), len(cassette.interactions)
        reports.append(report)
    return reports


def convert(data: bytes, suffix: str) -> tuple[Cassette, str, list[str]]:
    """A promptecho cassette from a file's bytes: (cassette, source format, skipped reasons)."""
    document = _parse(data, suffix)
    if type(document) is not dict or type(document.get("interactions")) is not list:
        raise NotConvertible("not a vcrpy or cassetter cassette (no list of interactions)")
    skipped: list[str] = []
    for key in ("ws_interactions", "grpc_interactions"):
        if document.get(key):
            kind = "websocket frames" if key.startswith("ws") else "gRPC calls"
            skipped.append(f"{len(document[key])} {kind}: promptecho records HTTP only")
    interactions = []
    source_format = "unknown"
    for n, item in enumerate(document["interactions"]):
        try:
            source_format, interaction = _interaction(item, suffix)
        except NotConvertible as err:
            skipped.append(f"#{n}: {err}")
            continue
        interactions.append(interaction)
    if source_format == "unknown" and document["interactions"]:
        source_format = "vcrpy"
    return Cassette(version=FORMAT_VERSION, interactions=interactions), source_format, skipped


# Implementation details


def _files_in(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(_SUFFIXES) and not name.endswith(".promptecho.json"):
                yield Path(dirpath, name)


def _target(source: Path, base: Path, out: Path | None, *, single: bool) -> Path:
    if single and out is not None:
        return out
    name = source.stem + (".promptecho.json" if source.suffix == ".json" else ".json")
    if out is None:
        return source.with_name(name)
    return out / source.parent.relative_to(base) / name


def _parse(data: bytes, suffix: str) -> Any:
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise NotConvertible(f"not valid TOML ({err})") from None
    if suffix == ".json":
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError as err:
            raise NotConvertible(f"not valid JSON ({err}); a custom serializer?") from None
    try:
        yaml: Any = importlib.import_module("yaml")  # PyYAML: vcrpy and cassetter users have it
    except ModuleNotFoundError:
        raise NotConvertible("reading YAML needs PyYAML: pip install pyyaml") from None
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise NotConvertible(
            f"not YAML this importer reads ({reason}); unsupported serializer"
        ) from None


def _interaction(item: Any, suffix: str) -> tuple[str, Interaction]:
    if type(item) is not dict or type(item.get("request")) is not dict:
        raise NotConvertible("no request")
    request, response = item["request"], item.get("response")
    if type(response) is not dict:
        raise NotConvertible("no response")
    if type(response.get("status")) is dict or (
        "body" in response and type(response["body"]) is dict and "string" in response["body"]
    ):
        source_format = "vcrpy"
        status = _int(_dict(response.get("status")).get("code", response.get("status")))
        request_body = _vcr_body(request.get("body"))
        response_body = _vcr_body(response.get("body"))
    else:
        source_format = "cassetter"
        status = _int(response.get("status"))
        request_body = _cassetter_body(request)
        response_body = _cassetter_body(response)
    method = str(request.get("method", "GET")).upper()
    url = str(request.get("uri") or request.get("url") or "")
    if not url:
        raise NotConvertible("a request without a URI")
    request_headers = _pairs(request.get("headers"))
    response_headers = _pairs(response.get("headers"))
    secrets: list[str] = []
    stored_url = redact_url(url, DEFAULT_REDACTION, secrets)
    canonical = canonicalize_request(url, request_body, _header(request_headers, "content-type"))
    recorded_request = RecordedRequest(
        method=method,
        url=stored_url,
        api=canonical.api,
        stream=canonical.stream,
        headers=redact_request_headers(request_headers, DEFAULT_REDACTION, secrets),
        body=canonical.body,
    )
    stored_headers = redact_response_headers(response_headers, DEFAULT_REDACTION)
    encoding = _header(response_headers, "content-encoding")
    decoded = _decode(response_body, encoding)
    if decoded is None:  # as the recorder does: keep the bytes and the header explaining them
        body: Any = Binary(data=response_body)
        stored_headers["content-encoding"] = encoding or ""
    else:
        body = build_body(
            _header(response_headers, "content-type"), [(0.0, decoded)], stream_started=0.0
        )
    interaction = Interaction(
        request=recorded_request,
        response=RecordedResponse(status=status, headers=stored_headers, body=body),
        recorded_at=_seconds(item.get("recorded_at")),
        recorded_by=f"promptecho import from {source_format}",
    )
    from ._secrets import find_secret

    hit = find_secret(interaction, secrets)
    if hit is not None:
        raise NotConvertible(f"a secret ({hit.kind}) at {hit.path}: redact it in the source first")
    return source_format, interaction


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotConvertible(f"a response status that is not a number: {value!r}") from None


def _pairs(headers: Any) -> Headers:
    pairs: Headers = []
    for name, values in _dict(headers).items():
        for value in values if type(values) is list else [values]:
            pairs.append((str(name), str(value)))
    return pairs


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode("utf-8")
    return msgspec.json.encode(value)  # a parsed body a custom serializer kept


def _vcr_body(body: Any) -> bytes:
    if type(body) is not dict:
        return _bytes(body)
    for key in ("base64_string", "base64"):
        if key in body:
            try:
                return base64.b64decode(str(body[key]), validate=True)
            except binascii.Error:
                raise NotConvertible(f"body.{key} is not base64") from None
    if "string" in body:
        return _bytes(body["string"])
    for key in ("json", "parsed_json", "parsed", "content"):
        if key in body:
            return _bytes(body[key])
    return _bytes(body)


def _cassetter_body(part: dict[str, Any]) -> bytes:
    if "body_type" in part:  # the TOML layout: the JSON body is kept as its text
        kind, content = part.get("body_type"), part.get("body_content")
        if kind == "json" and type(content) is str:
            return content.encode("utf-8")
    else:
        body = _dict(part.get("body"))
        kind, content = body.get("type"), body.get("content")
    if kind in (None, "none"):
        return b""
    if kind == "binary":
        try:
            return base64.b64decode(str(content))
        except binascii.Error:
            raise NotConvertible("a binary body that is not base64") from None
    if kind == "json" and type(content) is not str:
        return msgspec.json.encode(content)
    return _bytes(content)


def _decode(data: bytes, encoding: str | None) -> bytes | None:
    if not encoding or encoding.strip().lower() == "identity" or not data:
        return data
    if not supports_encoding(encoding):
        return None
    decoder = IncrementalDecoder(encoding)
    try:
        return decoder.decode(data) + decoder.flush()
    except ValueError:
        # vcrpy's decode_compressed_response stores the decoded body but keeps the header.
        return data


def _seconds(value: Any) -> str | None:
    if type(value) is not str or not value:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
