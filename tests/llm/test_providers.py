"""Provider classes: enabled/key policy, OpenRouter's headers and key, LM Studio's model list, and health
probes that never raise. Against the fake server; no database needed."""

import pytest

from llm.exceptions import ModelNotFoundError, ProviderDisabledError
from llm.providers import LMStudioProvider, OpenAICompatibleProvider, OpenRouterProvider
from llm.types import ChatMessage, ChatRequest
from tests.support.fake_openai import expected_text

KEY_ENV = "TEST_PROVIDERS_OPENROUTER_KEY"
KEY = "sk-or-v1-providers-test-0123456789"


def request(model=None) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model)


def test_kinds_map_to_classes_with_capability_flags(make_fake_provider):
    assert type(make_fake_provider(kind="lm_studio")) is LMStudioProvider
    assert type(make_fake_provider(kind="openrouter")) is OpenRouterProvider
    assert type(make_fake_provider(kind="openai_compatible")) is OpenAICompatibleProvider
    assert (OpenRouterProvider.needs_key, LMStudioProvider.needs_key) == (True, False)
    assert all(cls.can_stream for cls in (OpenRouterProvider, LMStudioProvider, OpenAICompatibleProvider))


async def test_disabled_provider_refuses_every_call_without_contacting_the_server(make_fake_provider, fake_openai):
    provider = make_fake_provider(enabled=False)
    for call in (lambda: provider.complete(request()), lambda: provider.list_models()):
        with pytest.raises(ProviderDisabledError) as info:
            await call()
        assert (info.value.code, info.value.http_status) == ("LLM_PROVIDER_DISABLED", 400)
    with pytest.raises(ProviderDisabledError):
        provider.stream(request())
    health = await provider.health()
    assert (health.available, health.error) == (False, "LLM provider 'fake' is disabled.")
    assert fake_openai.attempts() == 0


async def test_openrouter_without_its_key_says_which_variable_to_set(make_fake_provider, monkeypatch, fake_openai):
    monkeypatch.delenv(KEY_ENV, raising=False)
    provider = make_fake_provider(kind="openrouter", api_key_env=KEY_ENV)
    with pytest.raises(ProviderDisabledError) as info:
        await provider.complete(request())
    assert KEY_ENV in info.value.message
    assert info.value.details == {"provider": "fake", "reason": "missing_api_key", "api_key_env": KEY_ENV}
    assert (await provider.health()).available is False
    assert fake_openai.attempts() == 0


async def test_openrouter_sends_bearer_key_and_attribution_headers(
    settings, make_fake_provider, monkeypatch, fake_openai
):
    settings.OPENROUTER_APP_URL = "https://market.example"
    settings.OPENROUTER_APP_TITLE = "Market Test"
    monkeypatch.setenv(KEY_ENV, KEY)
    fake_openai.required_key = KEY
    provider = make_fake_provider(kind="openrouter", api_key_env=KEY_ENV)
    chunks = [c async for c in provider.stream(request("comments"))]
    assert "".join(c.delta for c in chunks) == expected_text(8)
    headers = fake_openai.last.headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert (headers["http-referer"], headers["x-title"]) == ("https://market.example", "Market Test")


async def test_openrouter_health_probes_the_key_endpoint(make_fake_provider, monkeypatch, fake_openai):
    monkeypatch.setenv(KEY_ENV, KEY)
    fake_openai.required_key = KEY
    provider = make_fake_provider(kind="openrouter", api_key_env=KEY_ENV)
    assert (await provider.health()).available is True
    assert fake_openai.last.path == "/v1/key"
    fake_openai.required_key = "sk-some-other-key-999"  # the key was revoked
    health = await provider.health()
    assert health.available is False and "401" in health.error


async def test_lm_studio_lists_models_with_their_loaded_state(make_fake_provider, fake_openai):
    fake_openai.models = ["qwen", "llama"]
    fake_openai.loaded_models = ["llama"]
    provider = make_fake_provider(kind="lm_studio")
    models = await provider.list_models()
    assert [(m.id, m.loaded) for m in models] == [("qwen", False), ("llama", True)]
    health = await provider.health()
    assert health.available and health.models == ("llama",)


async def test_lm_studio_falls_back_to_the_openai_model_list(make_fake_provider, fake_openai):
    fake_openai.native_api = False
    models = await make_fake_provider(kind="lm_studio").list_models()
    assert [(m.id, m.loaded) for m in models] == [("fake-model", None), ("llama-3-8b-instruct", None)]


async def test_generic_provider_lists_models_from_v1_models(fake_openai_provider, fake_openai):
    models = await fake_openai_provider.list_models()
    assert [m.id for m in models] == ["fake-model", "llama-3-8b-instruct"]
    assert fake_openai.last.path == "/v1/models"


@pytest.mark.parametrize("behaviour", ["status:503", "no-headers", "html:502", "malformed"])
async def test_health_never_raises_and_does_not_retry(settings, make_fake_provider, fake_openai, behaviour):
    settings.HEALTH_LLM_PROBE_TIMEOUT = 0.3
    fake_openai.behaviour_override = behaviour
    health = await make_fake_provider().health()
    assert health.available is False and health.error
    assert health.latency_ms is not None
    assert fake_openai.attempts(path="/v1/models") == 1


async def test_health_reports_a_server_that_is_not_running():
    import socket

    from llm.registry import build_provider
    from tests.support.llm import fake_provider_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    health = await build_provider(fake_provider_settings(f"http://127.0.0.1:{port}/v1", kind="lm_studio")).health()
    assert health.available is False and "Is the server running?" in health.error


async def test_request_without_model_and_without_default_is_refused(make_fake_provider):
    with pytest.raises(ModelNotFoundError):
        await make_fake_provider(default_model="").complete(request())
