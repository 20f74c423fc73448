"""The answer as an SDK user sees it, for the bodies that are not a plain success."""

from __future__ import annotations

import pytest

from promptecho._answer import answer_of
from promptecho._cassette import Failure, Json, RecordedResponse, Text
from promptecho._cli import main
from promptecho._compare import compare
from tests.cli_data import WIRE, interaction, write


@pytest.mark.parametrize(
    ("family", "error_file", "message"),
    [
        ("openai-chat", "error-429.response.json", "Rate limit reached for gpt-4.1-mini"),
        ("anthropic", "error-529.response.json", "Overloaded"),
        ("gemini", "error-400.response.json", "API key not valid."),
    ],
    ids=["openai", "anthropic", "gemini"],
)
def test_a_provider_error_body_gives_its_message(
    family: str, error_file: str, message: str
) -> None:
    body = (WIRE / family / error_file).read_bytes()
    scenario = "generate" if family == "gemini" else "text"
    failed = interaction(family, scenario, response=body)
    answer = answer_of(failed.request.api, failed.response)
    assert answer.error is not None
    assert answer.error.startswith(message)
    assert answer.text == ""
    ok = interaction(family, scenario)
    assert compare(ok.request.api, ok.response, failed.response).kind == "structure changed"


def test_a_transport_failure_is_shown_and_is_structure(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = interaction("openai-chat", "text")
    broken = interaction("openai-chat", "text")
    broken.response = None
    broken.error = Failure(type="ConnectTimeout", message="timed out")
    assert main(["show", str(write(tmp_path / "c.json", broken))]) == 0
    out = capsys.readouterr().out
    assert " -> no response\n" in out
    assert "   error       ConnectTimeout: timed out\n" in out
    verdict = compare("openai-chat", ok.response, None, new_error="ConnectTimeout")
    assert verdict.kind == "structure changed"
    assert "status: 200 -> null" in verdict.changes


def test_ollama_generate_and_plain_text_bodies() -> None:
    generate = RecordedResponse(
        status=200,
        body=Json(
            value={
                "model": "llama3.2",
                "response": "Bonjour",
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 5,
                "eval_count": 2,
            }
        ),
    )
    answer = answer_of("ollama-generate", generate)
    assert (answer.text, answer.finish_reason, answer.input_tokens, answer.output_tokens) == (
        "Bonjour",
        "stop",
        5,
        2,
    )
    page = answer_of("json", RecordedResponse(status=502, body=Text(text="Bad gateway")))
    assert (page.status, page.kind, page.text) == (502, "text", "Bad gateway")


def test_a_structured_answer_compares_by_its_keys() -> None:
    def chat(content: str) -> RecordedResponse:
        message = {"role": "assistant", "content": content}
        return RecordedResponse(
            status=200,
            body=Json(value={"choices": [{"message": message, "finish_reason": "stop"}]}),
        )

    same_keys = compare(
        "openai-chat", chat('{"city": "Paris", "temp": 14}'), chat('{"city": "Lyon", "temp": 9}')
    )
    assert same_keys.kind == "text changed"
    new_key = compare("openai-chat", chat('{"city": "Paris"}'), chat('{"town": "Paris"}'))
    assert new_key.kind == "structure changed"
    assert new_key.changes == ('structured: {"city":"string"} -> {"town":"string"}',)
