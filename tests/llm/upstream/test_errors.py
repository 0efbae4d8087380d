"""Classification of upstream failures into our exceptions, with the texts real servers send."""

import json

import pytest

from llm.exceptions import (
    ContextOverflowError,
    ModelNotFoundError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from llm.upstream.errors import error_from_payload, error_from_response, parse_retry_after
from tests.support.fake_openai import (
    LLAMA_CPP_CONTEXT_OVERFLOW,
    LM_STUDIO_CONTEXT_OVERFLOW,
    LM_STUDIO_NO_MODELS_LOADED,
    OPENAI_CONTEXT_OVERFLOW,
)

JSON = {"content-type": "application/json"}


def classify(status, body, headers=JSON):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status=status, body=raw, headers=headers, provider="p", model="m")


@pytest.mark.parametrize(
    "body",
    [
        {"error": LM_STUDIO_CONTEXT_OVERFLOW},
        {"error": LLAMA_CPP_CONTEXT_OVERFLOW},
        {"error": OPENAI_CONTEXT_OVERFLOW},
        {
            "error": {
                "message": "The number of tokens to keep from the initial prompt is greater than the context length"
            }
        },
    ],
    ids=["lm_studio", "llama_cpp", "openai", "lm_studio_n_keep"],
)
def test_context_overflow_texts_become_context_overflow(body):
    exc = classify(400, body)
    assert isinstance(exc, ContextOverflowError)
    assert (exc.code, exc.http_status) == ("LLM_CONTEXT_OVERFLOW", 400)


def test_no_models_loaded_is_unavailable_not_a_bad_request():
    exc = classify(400, {"error": {"message": LM_STUDIO_NO_MODELS_LOADED}})
    assert isinstance(exc, ProviderUnavailableError)
    assert exc.details["reason"] == "no_model_loaded"
    assert "No models loaded" in exc.message


def test_404_is_model_not_found_with_upstream_words():
    exc = classify(404, {"error": {"message": "The model `x` does not exist", "code": "model_not_found"}})
    assert isinstance(exc, ModelNotFoundError)
    assert exc.http_status == 404 and "does not exist" in exc.message


def test_model_not_found_text_on_400_is_model_not_found():
    assert isinstance(classify(400, {"error": 'model "llama9" not found, try pulling it first'}), ModelNotFoundError)


def test_429_is_rate_limited_with_retry_after():
    exc = classify(429, {"error": {"message": "slow down"}}, {**JSON, "retry-after": "12"})
    assert isinstance(exc, ProviderRateLimitedError)
    assert exc.retry_after == 12.0
    assert exc.response_headers == {"Retry-After": "12"}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable_and_keeps_the_status(status):
    exc = classify(status, {"error": {"message": "boom"}})
    assert isinstance(exc, ProviderUnavailableError)
    assert exc.details["upstream_status"] == status


def test_408_is_a_timeout():
    assert isinstance(classify(408, {"error": "timeout"}), ProviderTimeoutError)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 422])
def test_other_4xx_are_bad_gateway(status):
    exc = classify(status, {"error": {"message": "nope"}})
    assert type(exc) is ProviderResponseError
    assert exc.code == "LLM_BAD_GATEWAY"


def test_html_error_page_is_reduced_to_its_title():
    page = b"<html><head><title>502 Bad Gateway</title></head><body><script>secret()</script></body></html>"
    exc = classify(502, page, {"content-type": "text/html"})
    assert isinstance(exc, ProviderUnavailableError)
    assert "502 Bad Gateway" in exc.message and "<" not in exc.message and "script" not in exc.message


def test_plain_text_and_fastapi_detail_bodies_give_their_text():
    assert "plain words" in classify(500, b"plain words", {"content-type": "text/plain"}).message
    assert "bad field" in classify(400, {"detail": "bad field"}).message


def test_long_messages_are_truncated():
    assert len(classify(400, {"error": {"message": "x" * 5000}}).message) < 400


def test_in_band_error_keeps_partial_text_and_is_marked_in_band():
    exc = error_from_payload({"message": "crashed", "code": 500}, provider="p", partial_text="Hello")
    assert type(exc) is ProviderResponseError
    assert exc.partial_text == "Hello" and exc.details["in_band"] is True


def test_in_band_context_overflow_is_classified():
    exc = error_from_payload(LM_STUDIO_CONTEXT_OVERFLOW, provider="p")
    assert isinstance(exc, ContextOverflowError)


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "-4"}) is None


def test_retry_after_http_date():
    import email.utils
    import time

    value = parse_retry_after({"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)})
    assert 25 <= value <= 31
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
