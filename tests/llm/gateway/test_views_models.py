"""`GET /api/v1/llm/models[?provider=]`: OpenAI's list format, provider selection and its errors."""

import httpx
import pytest

from tests.support.llm_fixtures import point_default_provider_at


def get_models(live_gateway, query=""):
    return httpx.get(f"{live_gateway.url}/api/v1/llm/models{query}", timeout=10)


def test_models_are_listed_in_openai_format(live_gateway, fake_upstream):
    response = get_models(live_gateway)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [("fake-model", "model"), ("llama-3-8b-instruct", "model")]
    assert all(m["owned_by"] for m in body["data"])


def test_provider_can_be_named(live_gateway, fake_upstream):
    assert get_models(live_gateway, "?provider=lm_studio").status_code == 200


@pytest.mark.parametrize(
    "query,code", [("?provider=nope", "LLM_UNKNOWN_PROVIDER"), ("?provider=openrouter", "LLM_PROVIDER_DISABLED")]
)
def test_unknown_or_disabled_provider_is_400(live_gateway, fake_upstream, query, code):
    response = get_models(live_gateway, query)
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert fake_upstream.records == []


def test_unreachable_provider_is_503(live_gateway, fake_upstream):
    point_default_provider_at("http://127.0.0.1:9/v1")
    response = get_models(live_gateway)
    assert (response.status_code, response.json()["error"]["code"]) == (503, "LLM_UNAVAILABLE")
