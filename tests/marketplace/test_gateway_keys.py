"""Optional API-key authentication of the LLM gateway (LLM_GATEWAY_API_KEYS): off by default; when keys are
set, models, chat completions (JSON and SSE) and status need `Authorization: Bearer <key>` (the OpenAI
SDK's api_key) and answer 401 in the API's envelope otherwise, before any upstream call; health, liveness
and `/` stay public for monitoring, and the health check shows no base URL. Keys are never logged."""

import logging

import httpx
import openai
import pytest

from llm.checks import check_gateway_keys
from tests.support.fake_openai import expected_text

KEYS = ["gw-key-alpha-0123456789", "gw-key-beta-9876543210"]
CHAT = {"messages": [{"role": "user", "content": "Hi"}], "model": "fake-model"}


@pytest.fixture
def gateway_keys(settings):
    settings.LLM_GATEWAY_API_KEYS = list(KEYS)
    return KEYS


def sdk(live_gateway, api_key):
    return openai.OpenAI(base_url=f"{live_gateway.url}/api/v1/llm", api_key=api_key, max_retries=0, timeout=10)


def test_without_keys_the_gateway_is_open(live_gateway, fake_upstream):
    response = httpx.post(f"{live_gateway.url}/api/v1/llm/chat/completions", json=CHAT, timeout=10)
    assert response.status_code == 200
    assert httpx.get(f"{live_gateway.url}/api/v1/llm/status", timeout=10).status_code == 200


def test_the_sdk_with_a_gateway_key_works(live_gateway, fake_upstream, gateway_keys):
    client = sdk(live_gateway, gateway_keys[1])
    completion = client.chat.completions.create(model="fake-model", messages=CHAT["messages"])
    assert completion.choices[0].message.content == expected_text(8)
    stream = client.chat.completions.create(model="fake-model", messages=CHAT["messages"], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == expected_text(8)
    assert [m.id for m in client.models.list()] == ["fake-model", "llama-3-8b-instruct"]


def test_the_sdk_with_a_wrong_key_gets_an_authentication_error(live_gateway, fake_upstream, gateway_keys):
    with pytest.raises(openai.AuthenticationError) as excinfo:
        sdk(live_gateway, "gw-key-alpha-012345678X").chat.completions.create(
            model="fake-model", messages=CHAT["messages"]
        )
    assert excinfo.value.body["code"] == "NOT_AUTHENTICATED"
    assert fake_upstream.attempts() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"Authorization": f"Basic {KEYS[0]}"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "not-bearer", "empty"],
)
@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/api/v1/llm/chat/completions", CHAT),
        ("POST", "/api/v1/llm/chat/completions", {**CHAT, "stream": True}),
        ("GET", "/api/v1/llm/models", None),
        ("GET", "/api/v1/llm/status", None),
    ],
    ids=["chat", "chat-stream", "models", "status"],
)
def test_without_a_valid_key_401_in_the_envelope_and_no_upstream_call(
    live_gateway, fake_upstream, gateway_keys, method, path, body, headers
):
    response = httpx.request(method, f"{live_gateway.url}{path}", json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "NOT_AUTHENTICATED" and KEYS[0] not in error["message"]
    assert fake_upstream.attempts() == 0


@pytest.mark.parametrize("path", ["/api/v1/llm/status", "/api/v1/llm/models"])
def test_with_a_valid_key_the_protected_endpoints_answer(live_gateway, fake_upstream, gateway_keys, path):
    response = httpx.get(f"{live_gateway.url}{path}", headers={"Authorization": f"Bearer {KEYS[0]}"}, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/v1/health", "/api/v1/health/live"])
def test_monitoring_endpoints_stay_public(live_gateway, fake_upstream, gateway_keys, path):
    assert httpx.get(f"{live_gateway.url}{path}", timeout=10).status_code == 200


def test_the_public_health_check_shows_no_base_url(live_gateway, fake_upstream, gateway_keys):
    from tests.support.llm_fixtures import point_default_provider_at

    point_default_provider_at("http://127.0.0.1:9/v1")  # down: the error names the server it tried
    body = httpx.get(f"{live_gateway.url}/api/v1/health", timeout=10).json()
    llm = body["components"]["llm"]
    assert body["status"] == "degraded" and llm["available"] is False
    assert "127.0.0.1:9" not in str(body) and "<url>" in llm["error"]


def test_keys_are_masked_in_logs(settings, gateway_keys, caplog):
    from marketplace.logging import RedactSecretsFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "configured key %s", (KEYS[1],), None)
    RedactSecretsFilter().filter(record)
    assert KEYS[1] not in record.getMessage() and "[REDACTED]" in record.getMessage()


def test_open_gateway_with_a_provider_key_in_production_is_W001(settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setenv("LM_STUDIO_API_KEY", "sk-lm-studio-key-0123456789")
    assert [m.id for m in check_gateway_keys()] == ["llm.W001"]
    settings.LLM_GATEWAY_API_KEYS = ["gw-key-0123456789"]
    assert check_gateway_keys() == []
    settings.LLM_GATEWAY_API_KEYS = []
    settings.DEBUG = True
    assert check_gateway_keys() == []


def test_no_W001_when_no_enabled_provider_has_a_key(settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.delenv("LM_STUDIO_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    assert check_gateway_keys() == []
