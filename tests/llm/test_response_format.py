"""Constrained output: `response_format` reaches a server whose provider class declares the type, in that
server's dialect, and never a server that does not declare it; through the provider and the gateway."""

import json

import pytest

from llm.providers import LMStudioProvider, OpenAICompatibleProvider, OpenRouterProvider
from llm.types import ChatMessage, ChatRequest

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "thing", "strict": True, "schema": SCHEMA}}
JSON_OBJECT = {"type": "json_object"}


def request(response_format) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), response_format=response_format)


def chat_bodies(fake_openai) -> list[dict]:
    return [r.body for r in fake_openai.records if r.path == "/v1/chat/completions"]


def test_each_class_declares_the_types_it_takes():
    assert LMStudioProvider.response_formats == OpenRouterProvider.response_formats == {"json_object", "json_schema"}
    assert OpenAICompatibleProvider.response_formats == frozenset()


@pytest.mark.parametrize("streamed", [True, False])
@pytest.mark.parametrize("response_format", [JSON_SCHEMA, JSON_OBJECT])
async def test_a_server_that_does_not_declare_support_gets_no_such_field(
    make_fake_provider, fake_openai, streamed, response_format
):
    provider = make_fake_provider(kind="openai_compatible")
    if streamed:
        [c async for c in provider.stream(request(response_format))]
    else:
        await provider.complete(request(response_format))
    [body] = chat_bodies(fake_openai)
    assert "response_format" not in body


@pytest.mark.parametrize("streamed", [True, False])
async def test_openrouter_gets_the_openai_form_as_sent(make_fake_provider, fake_openai, monkeypatch, streamed):
    monkeypatch.setenv("TEST_RF_KEY", "sk-or-test")
    provider = make_fake_provider(kind="openrouter", api_key_env="TEST_RF_KEY")
    for form in (JSON_SCHEMA, JSON_OBJECT):
        if streamed:
            [c async for c in provider.stream(request(form))]
        else:
            await provider.complete(request(form))
    assert [b["response_format"] for b in chat_bodies(fake_openai)] == [JSON_SCHEMA, JSON_OBJECT]


@pytest.mark.parametrize("streamed", [True, False])
async def test_lm_studio_gets_json_schema_only(make_fake_provider, fake_openai, streamed):
    # LM Studio refuses json_object; a json_object request becomes a schema of any object.
    provider = make_fake_provider(kind="lm_studio")
    for form in (JSON_SCHEMA, JSON_OBJECT):
        if streamed:
            [c async for c in provider.stream(request(form))]
        else:
            await provider.complete(request(form))
    assert [b["response_format"] for b in chat_bodies(fake_openai)] == [
        JSON_SCHEMA,
        {"type": "json_schema", "json_schema": {"name": "json_object", "schema": {"type": "object"}}},
    ]
    assert sum(r.path == "/api/v0/models" for r in fake_openai.records) == 1, "the dialect is asked once"


@pytest.mark.parametrize("streamed", [True, False])
async def test_a_llama_cpp_server_behind_the_lm_studio_url_gets_json_object_with_the_schema(
    make_fake_provider, fake_openai, streamed
):
    # The bundled model's llama-cpp-python server has no LM Studio native API and takes only json_object
    # (with a `schema`), as llama.cpp's own server also does.
    fake_openai.native_api = False
    provider = make_fake_provider(kind="lm_studio")
    for form in (JSON_SCHEMA, JSON_OBJECT):
        if streamed:
            [c async for c in provider.stream(request(form))]
        else:
            await provider.complete(request(form))
    assert [b["response_format"] for b in chat_bodies(fake_openai)] == [
        {"type": "json_object", "schema": SCHEMA},
        {"type": "json_object", "schema": {"type": "object"}},
    ]


async def test_closing_a_structured_stream_early_closes_the_upstream(make_fake_provider, fake_openai):
    provider = make_fake_provider(kind="lm_studio")
    structured = ChatRequest(messages=(ChatMessage("user", "Hi"),), model="slow:50", response_format=JSON_SCHEMA)
    stream = provider.stream(structured)
    assert (await anext(stream)).role == "assistant"
    await stream.aclose()
    assert fake_openai.last.body["response_format"] == JSON_SCHEMA
    assert await fake_openai.await_close(fake_openai.last, timeout=1.0)


# --- through the gateway --------------------------------------------------------------------------
@pytest.mark.parametrize("kind, reaches", [("lm_studio", True), ("openai_compatible", False)])
def test_the_gateway_passes_response_format_only_to_a_provider_that_declares_it(
    client, fake_default_provider, kind, reaches
):
    from llm import registry
    from llm.models import ProviderConfig

    ProviderConfig.objects.filter(name=registry_default_name()).update(kind=kind)
    registry.invalidate()
    response = client.post(
        "/api/v1/llm/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "Hi"}], "response_format": JSON_SCHEMA}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    [body] = chat_bodies(fake_default_provider)
    assert ("response_format" in body) is reaches
    if reaches:
        assert body["response_format"] == JSON_SCHEMA


def test_the_gateway_refuses_a_malformed_response_format(client, fake_default_provider):
    response = client.post(
        "/api/v1/llm/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "Hi"}], "response_format": {"type": "xml"}}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert chat_bodies(fake_default_provider) == []


def registry_default_name() -> str:
    from django.conf import settings

    return settings.LLM_PROVIDER
