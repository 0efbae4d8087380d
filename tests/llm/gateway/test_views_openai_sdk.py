"""The official openai SDK, pointed at a live gateway's /api/v1/llm, works end to end against the fake
upstream: models, completion, streamed completion, and an exception on a mid-stream error."""

import openai
import pytest

from tests.support.fake_openai import expected_text


@pytest.fixture
def client(live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway.url}/api/v1/llm", api_key="unused", max_retries=0, timeout=10)


def test_sdk_gets_a_completion(client, fake_upstream):
    completion = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content == expected_text(8)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 8
    assert fake_upstream.last.path == "/v1/chat/completions" and fake_upstream.last.stream is False


def test_sdk_gets_a_streamed_completion_with_usage(client, fake_upstream):
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_text(8)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8


def test_sdk_uses_the_providers_default_model_when_none_is_given(client, fake_upstream):
    completion = client.chat.completions.create(model="", messages=[{"role": "user", "content": "Hi"}])
    assert completion.model == "fake-model"
    assert fake_upstream.last.model == "fake-model"


def test_sdk_raises_on_a_mid_stream_error(client, fake_upstream):
    stream = client.chat.completions.create(
        model="error-mid-stream:3", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as excinfo:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == expected_text(3)
    assert excinfo.value.body["code"] == "LLM_BAD_GATEWAY"


def test_sdk_raises_a_status_error_before_the_first_byte(client, fake_upstream):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(
            model="model-not-found", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    assert excinfo.value.body["code"] == "LLM_MODEL_NOT_FOUND"


def test_sdk_lists_models(client, fake_upstream):
    assert [m.id for m in client.models.list()] == ["fake-model", "llama-3-8b-instruct"]


def test_sdk_does_not_repeat_the_gateways_retries(live_gateway, fake_upstream):
    # The gateway retries a 503 itself (once, in these tests); the SDK would retry the final 503 twice
    # more, each a full gateway retry cycle, without the gateway's x-should-retry: false.
    retrying = openai.OpenAI(base_url=f"{live_gateway.url}/api/v1/llm", api_key="unused", max_retries=2, timeout=10)
    with pytest.raises(openai.InternalServerError) as excinfo:
        retrying.chat.completions.create(model="status:503", messages=[{"role": "user", "content": "Hi"}])
    assert excinfo.value.status_code == 503
    assert fake_upstream.attempts("status:503") == 2  # the gateway's first attempt and its one retry (not 6)
    assert excinfo.value.response.headers["x-should-retry"] == "false"
