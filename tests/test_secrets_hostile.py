"""Secrets under attack (issue 15): echoed credentials, key shapes, secret headers and query
parameters, URL userinfo, JSON escapes, split and binary bodies, configured values.

The end-to-end cases go through a real socket to `FakeUpstream`: the server echoes what it was
sent (a 401 JSON, an SSE error event, a response header, a redirect ``Location``), and the
recording must be refused with nothing written and no secret in the message. Every fake key is
built at run time, so this file holds none.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import promptecho
from promptecho import Cassette, CassetteError, CassetteMiss
from promptecho._cassette import (
    Binary,
    Event,
    Interaction,
    Json,
    Ndjson,
    RecordedRequest,
    RecordedResponse,
    Sse,
    Text,
)
from promptecho._redact import (
    DEFAULT_REDACTION,
    credential_parts,
    redact_request_headers,
    redact_response_headers,
    redact_url,
)
from promptecho._secrets import find_secret
from promptecho._store import journal_path
from promptecho.testing import FakeUpstream, Reply, Seen, json_reply, sse_reply

from .conftest import Flavour

ALNUM = "Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1bD3fH5jL7nP9rT1vX3zB5dF7hJ9lN1pR3tV5xZ7"
HEX = "3f9a0c1e7b5d2468ace0135792468bdf" * 2


def _alnum(n: int) -> str:
    return (ALNUM * 2)[:n]


# Each provider's key in the shape its docs and the common secret scanners give.
NEW_SHAPES = {
    "huggingface": "hf_" + "".join(c for c in ALNUM if c.isalpha())[:34],
    "groq": "gsk_" + _alnum(52),
    "xai": "xai-" + _alnum(80),
    "google-oauth": "ya29." + "a0AfH6SM" + _alnum(60),
    "openrouter": "sk-or-v1-" + HEX,
    "deepseek": "sk-" + HEX[:32],
    "perplexity": "pplx-" + _alnum(48),
    "replicate": "r8_" + _alnum(37),
    "fireworks": "fw_" + _alnum(24),
}
AWS_ID = "AKIA" + "IOSFODNN7EXAMPL2"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKE9"  # 40 characters

# A credential no shape knows: only the "removed value" check can catch it echoed.
PLAIN = "plain0looking0credential"
USER, PASSWORD = "account-alice", "hunter2hunter2"
SCHEMES = {
    "bearer": (f"Bearer {PLAIN}", PLAIN),
    "token": (f"Token {PLAIN}", PLAIN),
    "basic-password": (
        "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        PASSWORD,
    ),
    "basic-user": ("Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), USER),
}


def _echo(where: str, value: str) -> Reply:
    match where:
        case "401-json":
            return json_reply({"error": {"message": f"invalid key {value}"}}, status=401)
        case "sse-error":
            return sse_reply(
                [
                    b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n',
                    b'event: error\ndata: {"error":"bad key %s"}\n\n' % value.encode(),
                ]
            )
        case "response-header":
            return Reply(
                200, headers=[("content-type", "text/plain"), ("x-echo", value)], chunks=[b"ok"]
            )
        case "redirect-location":
            return Reply(302, headers=[("location", f"https://login.example/?next={value}")])
    raise AssertionError(where)


def _refused(
    flavour: Flavour, path: Path, server: FakeUpstream, send: Callable[[Any], object], secret: str
) -> CassetteError:
    with flavour.client(path, base_url=server.url) as client, pytest.raises(CassetteError) as err:
        send(client)
    assert secret not in str(err.value)
    assert not journal_path(path).exists()
    assert not path.exists()
    return err.value


# -- echoed bare credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["401-json", "sse-error", "response-header", "redirect-location"])
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_a_server_echoing_the_bare_credential_is_refused(
    flavour: Flavour, cassette_path: Path, scheme: str, where: str
) -> None:
    header, echoed = SCHEMES[scheme]

    def handler(seen: Seen) -> Reply:
        assert seen.header("authorization") == header
        return _echo(where, echoed)

    with FakeUpstream(handler) as server:
        error = _refused(
            flavour,
            cassette_path,
            server,
            lambda c: c.post("/v1/chat", json={"q": 1}, headers={"authorization": header}).read(),
            echoed,
        )
    assert "redacted header or query parameter" in str(error)


def test_the_bare_parts_of_an_authorization_value_are_remembered() -> None:
    removed: list[str] = []
    sigv4 = (
        f"AWS4-HMAC-SHA256 Credential={AWS_ID}/20260101/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + HEX
    )
    pairs = [("authorization", SCHEMES["basic-user"][0]), ("proxy-authorization", sigv4)]
    redact_request_headers(pairs, DEFAULT_REDACTION, removed)
    for part in (USER, PASSWORD, f"{USER}:{PASSWORD}", AWS_ID, HEX):
        assert part in removed


# -- key shapes ------------------------------------------------------------------------------------


def _interaction(body: Any, *, url: str = "https://api.example/v1/x") -> Interaction:
    request = RecordedRequest(method="POST", url=url, api="json", body={"q": "hi"})
    return Interaction(request=request, response=RecordedResponse(status=200, body=body))


@pytest.mark.parametrize("kind", sorted(NEW_SHAPES))
def test_each_provider_key_shape_is_refused(kind: str) -> None:
    hit = find_secret(_interaction(Json(value={"note": f"use {NEW_SHAPES[kind]} here"})))
    assert hit is not None
    assert (hit.path, hit.kind) == ("$.response.body.value.note", kind)


@pytest.mark.parametrize("kind", ["groq", "openrouter", "deepseek", "huggingface"])
def test_a_provider_key_in_a_live_answer_is_refused(
    flavour: Flavour, cassette_path: Path, kind: str
) -> None:
    key = NEW_SHAPES[kind]
    with FakeUpstream(lambda seen: json_reply({"data": {"key": key}})) as server:
        error = _refused(flavour, cassette_path, server, lambda c: c.post("/v1/keys", json={}), key)
    assert f"({kind}) found at $.response.body.value.data.key" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        f"aws_secret_access_key = {AWS_SECRET}",
        f'{{"SecretAccessKey": "{AWS_SECRET}"}}',
        f"[default]\naws_access_key_id=<id>\naws_secret_access_key={AWS_SECRET}",
    ],
    ids=["ini-label", "json-label", "credentials-file"],
)
def test_an_aws_secret_access_key_beside_its_label_is_refused(text: str) -> None:
    hit = find_secret(_interaction(Text(text=text)))
    assert hit is not None
    assert (hit.path, hit.kind) == ("$.response.body.text", "aws-secret")


def test_a_40_character_value_with_no_aws_label_or_id_nearby_is_not_refused() -> None:
    assert find_secret(_interaction(Text(text=f"etag {AWS_SECRET}"))) is None


def test_an_aws_secret_next_to_its_key_id_is_named() -> None:
    far = "x" * 2000
    hit = find_secret(_interaction(Json(value={"a": f"{far} {AWS_SECRET}", "b": AWS_ID})))
    assert hit is not None
    assert hit.kind == "aws"
    hit = find_secret(
        _interaction(Json(value={"a": f"{AWS_SECRET} {far}"}), url=f"https://h/?k={AWS_ID}")
    )
    assert hit is not None
    assert hit.kind == "aws"


@pytest.mark.parametrize(
    "text",
    [
        "hf_" + "x" * 34,
        "gsk_" + "a" * 52,
        "sk-" + "0" * 32,
        "sk-or-v1-" + "f" * 64,
        "fw_" + "placeholderplaceholder12",
        "xai-" + "YOUR_API_KEY",
        "the commit 3f9a0c1e7b5d2468ace0135792468bdf3f9a0c1e is on main",
        "ya29.placeholder",
        "sha1 " + HEX[:40],
    ],
    ids=[
        "hf-x",
        "gsk-a",
        "sk-zeros",
        "or-f",
        "fw-lower",
        "xai-placeholder",
        "sha",
        "ya29",
        "hex40",
    ],
)
def test_placeholders_in_the_new_shapes_are_not_refused(text: str) -> None:
    assert find_secret(_interaction(Json(value={"t": text}))) is None


# -- headers and query parameters -------------------------------------------------------------------

SECRET_REQUEST_HEADERS = {
    "x-amz-security-token": "FwoGZXIvYXdzEBYaDAmpleSessionToken0123",
    "ocp-apim-subscription-key": "0123456789abcdef0123456789abcdef",
    "x-portkey-api-key": "portkey-value-0123456",
    "helicone-auth": "Bearer helicone-value-0123",
    "x-auth-token": "auth-token-value-0123",
    "x-client-secret": "client-secret-value-0123",
    "x-db-password": "db-password-value-0123",
    "x-service-credential": "credential-value-0123",
}
# Request headers the providers' SDKs send (HEADERS.md) and response headers they answer with:
# names that say "token" or "key" but hold counts, versions or ids.
KEPT_HEADERS = [
    "anthropic-version",
    "anthropic-beta",
    "x-goog-api-client",
    "x-fern-sdk-version",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-input-tokens-limit",
    "anthropic-ratelimit-output-tokens-reset",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-limit-tokens-minute",
    "x-ratelimit-reset-tokens",
    "openai-processing-ms",
]


def test_headers_whose_name_says_secret_are_redacted_end_to_end(
    flavour: Flavour, cassette_path: Path
) -> None:
    def handler(seen: Seen) -> Reply:
        return json_reply({"ok": True})

    headers = {**SECRET_REQUEST_HEADERS, **dict.fromkeys(KEPT_HEADERS, "kept-1")}
    with FakeUpstream(handler) as server:
        with flavour.client(cassette_path, base_url=server.url) as client:
            client.post("/v1/x", json={"q": 1}, headers=headers)
    text = cassette_path.read_text()
    for value in SECRET_REQUEST_HEADERS.values():
        assert value not in text
        assert value.split()[-1] not in text
    stored = Cassette.load(cassette_path).interactions[0].request.headers
    assert {n: stored[n] for n in SECRET_REQUEST_HEADERS} == dict.fromkeys(
        SECRET_REQUEST_HEADERS, "<redacted>"
    )
    assert {n: stored[n] for n in KEPT_HEADERS} == dict.fromkeys(KEPT_HEADERS, "kept-1")


SIGNED = {
    "X-Amz-Signature": HEX,
    "X-Amz-Credential": f"{AWS_ID}/20260101/us-east-1/s3/aws4_request",
    "X-Amz-Security-Token": "FwoGZXIvYXdzEBYaDAmpleSessionToken0123",
    "sig": "kR3lSAS0signature0value%3D",
    "X-Goog-Signature": HEX[::-1],
    "X-Goog-Credential": "svc%40project.iam.gserviceaccount.com%2F20260101",
}


def test_signed_url_parameters_are_redacted_and_still_match(
    flavour: Flavour, cassette_path: Path
) -> None:
    with FakeUpstream(lambda seen: json_reply({"ok": True})) as server:
        query = "&".join(f"{k}={v}" for k, v in SIGNED.items())
        with flavour.client(cassette_path, base_url=server.url) as client:
            client.get(f"/file?X-Amz-Expires=60&{query}")
    text = cassette_path.read_text()
    for value in SIGNED.values():
        assert value not in text
    url = Cassette.load(cassette_path).interactions[0].request.url
    assert url.endswith(
        "/file?X-Amz-Expires=60&X-Amz-Signature=<redacted>&X-Amz-Credential=<redacted>"
        "&X-Amz-Security-Token=<redacted>&sig=<redacted>&X-Goog-Signature=<redacted>"
        "&X-Goog-Credential=<redacted>"
    )
    other = "&".join(f"{k}=other{n}" for n, k in enumerate(SIGNED))
    with flavour.client(cassette_path, base_url=server.url, mode="none") as client:
        assert client.get(f"/file?X-Amz-Expires=60&{other}").json() == {"ok": True}


# -- URLs --------------------------------------------------------------------------------------------


def test_url_userinfo_is_redacted_and_never_printed(flavour: Flavour, cassette_path: Path) -> None:
    with FakeUpstream(lambda seen: json_reply({"ok": True})) as server:
        base = server.url.replace("://", f"://{USER}:{PASSWORD}@")
        with flavour.client(cassette_path) as client:
            client.get(f"{base}/v1/models")
        text = cassette_path.read_text()
        assert PASSWORD not in text
        assert USER not in text
        url = Cassette.load(cassette_path).interactions[0].request.url
        assert url.startswith("http://<redacted>@127.0.0.1:")
        other = server.url.replace("://", f"://{USER}:another-password@")
        with flavour.client(cassette_path, mode="none") as client:
            assert client.get(f"{other}/v1/models").json() == {"ok": True}  # still matches
            with pytest.raises(CassetteMiss) as miss:
                client.get(f"{base}/v1/other")
    assert PASSWORD not in str(miss.value)
    assert USER not in str(miss.value)
    assert "<redacted>@127.0.0.1" in str(miss.value)


def test_the_secret_scan_error_never_prints_the_url_userinfo_or_a_key_in_the_url(
    flavour: Flavour, cassette_path: Path
) -> None:
    key = NEW_SHAPES["groq"]
    with FakeUpstream(lambda seen: json_reply({"echo": seen.path})) as server:
        base = server.url.replace("://", f"://{USER}:{PASSWORD}@")
        with flavour.client(cassette_path) as client, pytest.raises(CassetteError) as err:
            client.get(f"{base}/v1/keys/{key}/usage")
    message = str(err.value)
    for secret in (key, USER, PASSWORD):
        assert secret not in message
    assert "(groq) found at $.request.url" in message


def test_the_upgrade_refusal_prints_the_redacted_url(flavour: Flavour, cassette_path: Path) -> None:
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:9/ws?token={PLAIN}"
    with flavour.client(cassette_path) as client, pytest.raises(CassetteError) as err:
        client.get(url, headers={"connection": "Upgrade", "upgrade": "websocket"})
    for secret in (USER, PASSWORD, PLAIN):
        assert secret not in str(err.value)
    assert "GET http://<redacted>@127.0.0.1:9/ws?token=<redacted>" in str(err.value)


def test_a_redirect_location_is_redacted_like_a_request_url(
    flavour: Flavour, cassette_path: Path
) -> None:
    location = f"https://{USER}:{PASSWORD}@cdn.example/f?X-Amz-Signature={HEX}&n=1"

    def handler(seen: Seen) -> Reply:
        return Reply(302, headers=[("location", location), ("content-location", location)])

    with FakeUpstream(handler) as server:
        with flavour.client(cassette_path, base_url=server.url) as client:
            assert client.get("/download").headers["location"] == location
    response = Cassette.load(cassette_path).interactions[0].response
    assert response is not None
    redacted = "https://<redacted>@cdn.example/f?X-Amz-Signature=<redacted>&n=1"
    assert response.headers["location"] == response.headers["content-location"] == redacted


# -- escapes, split streams, binary bodies ------------------------------------------------------------

OPENAI_KEY = "sk-proj-" + _alnum(40)


@pytest.mark.parametrize(
    "before",
    ["\n", "\t", "\r", "\x1b", "\x00", "%0A", "\\n"],
    ids=["newline", "tab", "cr", "escape", "nul", "percent", "literal-backslash-n"],
)
def test_a_key_after_an_escaped_character_is_found(
    flavour: Flavour, cassette_path: Path, before: str
) -> None:
    with FakeUpstream(lambda seen: json_reply({"note": f"key:{before}{OPENAI_KEY}"})) as server:
        error = _refused(
            flavour, cassette_path, server, lambda c: c.post("/v1/x", json={}), OPENAI_KEY
        )
    assert "(openai) found at $.response.body.value.note" in str(error)


def _split(key: str) -> list[bytes]:
    half = 12  # neither part is a key on its own
    return [
        b'data: {"choices":[{"delta":{"content":"my key is %s"}}]}\n\n' % key[:half].encode(),
        b'data: {"choices":[{"delta":{"content":"%s, keep it"}}]}\n\n' % key[half:].encode(),
        b"data: [DONE]\n\n",
    ]


@pytest.mark.parametrize("secret", ["shape", "removed-value"])
def test_a_key_split_across_two_stream_events_is_refused(
    flavour: Flavour, cassette_path: Path, secret: str
) -> None:
    key = OPENAI_KEY if secret == "shape" else PLAIN
    with FakeUpstream(lambda seen: sse_reply(_split(key))) as server:
        error = _refused(
            flavour,
            cassette_path,
            server,
            lambda c: c.post(
                "/v1/chat/completions",
                json={"stream": True},
                headers={"authorization": f"Bearer {PLAIN}"},
            ).read(),
            key,
        )
    assert "$.response.body.events[*].data.choices[0].delta.content" in str(error)


def test_a_key_split_across_ndjson_lines_is_found() -> None:
    events = [
        Event(data={"message": {"content": part}})
        for part in ("k " + OPENAI_KEY[:9], OPENAI_KEY[9:])
    ]
    hit = find_secret(_interaction(Ndjson(events=events)))
    assert hit is not None
    assert hit.kind == "openai"


@pytest.mark.parametrize("secret", ["shape", "removed-value"])
def test_a_key_inside_a_binary_body_is_refused(
    flavour: Flavour, cassette_path: Path, secret: str
) -> None:
    key = NEW_SHAPES["xai"] if secret == "shape" else PLAIN
    blob = b"\x89PNG\r\n\x1a\n\x00\x00" + key.encode() + b"\xff\x00"
    reply = Reply(200, headers=[("content-type", "application/octet-stream")], chunks=[blob])
    with FakeUpstream(lambda seen: reply) as server:
        error = _refused(
            flavour,
            cassette_path,
            server,
            lambda c: c.get("/file", headers={"x-api-key": PLAIN}),
            key,
        )
    assert "$.response.body.data" in str(error)


def test_the_scan_still_locates_a_key_in_a_binary_body_in_memory() -> None:
    hit = find_secret(_interaction(Binary(data=b"\x00" + OPENAI_KEY.encode())))
    assert hit is not None
    assert hit.kind == "openai"


# -- configured values ------------------------------------------------------------------------------

CONFIGURED = "configured0value0of0mine"


@pytest.mark.parametrize(
    "name", ["MY_SERVICE_API_KEY", "MY_KEY", "MY_TOKEN", "MY_SECRET", "MY_ACCESS_KEY"]
)
def test_a_configured_value_is_never_written_whatever_its_shape(
    flavour: Flavour, cassette_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, CONFIGURED)
    with FakeUpstream(lambda seen: json_reply({"you_sent": seen.header("x-custom")})) as server:
        _refused(
            flavour,
            cassette_path,
            server,
            lambda c: c.post("/v1/x", json={}, headers={"x-custom": CONFIGURED}),
            CONFIGURED,
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [("MY_SETTING", CONFIGURED), ("MY_KEY", "short-value"), ("MY_KEYS", CONFIGURED)],
    ids=["other-suffix", "under-12-characters", "suffix-inside-the-name"],
)
def test_other_environment_values_do_not_count(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert find_secret(_interaction(Json(value={"t": value}))) is None


# -- the pure pieces ---------------------------------------------------------------------------------


# Every request header name the SDKs sent when the wire samples were captured (HEADERS.md).
SDK_REQUEST_HEADERS = [
    "accept", "accept-encoding", "anthropic-version", "authorization", "connection",
    "content-length", "content-type", "host", "user-agent", "x-api-key", "x-fern-language",
    "x-fern-platform", "x-fern-runtime", "x-fern-sdk-name", "x-fern-sdk-version",
    "x-goog-api-client", "x-goog-api-key", "x-stainless-arch", "x-stainless-async",
    "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
    "x-stainless-read-timeout", "x-stainless-retry-count", "x-stainless-runtime",
    "x-stainless-runtime-version", "x-stainless-timeout",
]  # fmt: skip


def test_of_the_headers_the_sdks_send_only_the_auth_ones_are_redacted() -> None:
    stored = redact_request_headers([(n, "v-1") for n in SDK_REQUEST_HEADERS], DEFAULT_REDACTION)
    assert sorted(n for n, v in stored.items() if v == "<redacted>") == [
        "authorization",
        "x-api-key",
        "x-goog-api-key",
    ]


def test_a_removed_value_under_8_characters_is_not_looked_for() -> None:
    interaction = _interaction(Json(value={"t": "abc1234 and abcd12345"}))
    assert find_secret(interaction, ["abc1234"]) is None
    hit = find_secret(interaction, ["abcd12345"])
    assert hit is not None
    assert hit.path == "$.response.body.value.t"


def test_redact_url_takes_out_userinfo_and_remembers_it() -> None:
    removed: list[str] = []
    url = f"https://{USER}:{PASSWORD}@host.example:8443/p?a=1"
    assert (
        redact_url(url, DEFAULT_REDACTION, removed) == "https://<redacted>@host.example:8443/p?a=1"
    )
    assert USER in removed
    assert PASSWORD in removed


def test_a_stream_body_in_one_event_is_located_in_that_event() -> None:
    events = [Event(data={"t": "hello"}), Event(data={"t": f"k {OPENAI_KEY}"})]
    hit = find_secret(_interaction(Sse(events=events)))
    assert hit is not None
    assert (hit.path, hit.kind) == ("$.response.body.events[1].data.t", "openai")


def test_a_run_that_only_replays_never_imports_the_scan(cassette_path: Path) -> None:
    with FakeUpstream(lambda seen: json_reply({"ok": True})) as server:
        with promptecho.client(cassette_path, base_url=server.url) as client:
            client.get("/v1/models", headers={"authorization": f"Bearer {PLAIN}"})
        url = server.url
    script = (
        "import sys, promptecho\n"
        f"with promptecho.client({str(cassette_path)!r}, base_url={url!r}, mode='none') as c:\n"
        "    assert c.get('/v1/models').json() == {'ok': True}\n"
        "print('promptecho._secrets' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("Bearer", ["Bearer"]),
        ("Token  spaced-token ", ["Token  spaced-token ", "spaced-token"]),
        ("Basic !!not-base64!!", ["Basic !!not-base64!!", "!!not-base64!!"]),
        (
            "Basic " + base64.b64encode(b"only-a-user").decode(),
            ["Basic " + base64.b64encode(b"only-a-user").decode(), "b25seS1hLXVzZXI=", "only-a-user"],
        ),
        ('Digest username="bob", nonce="n0nce"', ['Digest username="bob", nonce="n0nce"',
                                                  'username="bob", nonce="n0nce"', "bob", "n0nce"]),
        ("not/a-scheme value", ["not/a-scheme value"]),
    ],
    ids=["scheme-alone", "spaces", "bad-base64", "basic-no-colon", "digest", "not-a-scheme"],
)  # fmt: skip
def test_credential_parts_splits_what_a_server_could_echo(value: str, parts: list[str]) -> None:
    assert credential_parts(value) == parts


def test_a_relative_location_keeps_its_path_and_loses_its_token() -> None:
    stored = redact_response_headers([("Location", "/next?token=abc&page=2")], DEFAULT_REDACTION)
    assert stored == {"location": "/next?token=<redacted>&page=2"}


def test_a_key_joined_only_by_field_name_is_named_as_joined_events() -> None:
    events = [Event(data={"a": {"t": OPENAI_KEY[:12]}}), Event(data={"b": {"t": OPENAI_KEY[12:]}})]
    hit = find_secret(_interaction(Sse(events=events)))
    assert hit is not None
    assert (hit.path, hit.kind) == (
        "$.response.body.events[*].data (joined across events)",
        "openai",
    )


def test_an_aws_secret_after_many_labels_is_found_once() -> None:
    hit = find_secret(_interaction(Text(text="SecretAccessKey " * 500 + AWS_SECRET)))
    assert hit is not None
    assert hit.kind == "aws-secret"
