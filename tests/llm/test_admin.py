"""The ProviderConfig admin: list with "key set?", adding an OpenAI-compatible provider that then serves,
edits applied on the next request, and validation that keeps keys out of the database."""

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from llm import registry
from llm.models import ProviderConfig
from llm.types import ChatMessage, ChatRequest
from tests.support.fake_openai import expected_text

pytestmark = pytest.mark.django_db

REQUEST = ChatRequest(messages=(ChatMessage("user", "Hi"),))


def form_data(**overrides):
    data = {
        "name": "ollama",
        "kind": "openai_compatible",
        "base_url": "http://localhost:11434/v1",
        "default_model": "llama3.2",
        "enabled": "on",
        "api_key_env": "",
        "timeout": "30",
        "connect_timeout": "5",
        "first_token_timeout": "30",
        "idle_timeout": "30",
        "max_retries": "3",
        "retry_base_delay": "2",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_changelist_shows_providers_and_whether_their_key_is_set(admin_client, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    page = admin_client.get(reverse("admin:llm_providerconfig_changelist")).content.decode()
    assert "lm_studio" in page and "openrouter" in page and "Key set?" in page
    assert page.count('<td class="field-key_status">no</td>') == 1  # openrouter, without its key
    assert page.count('<td class="field-key_status">not needed</td>') == 1  # lm_studio: LM Studio needs none

    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-admin-list-test-123456")
    row = ProviderConfig.objects.get(name="openrouter")
    page = admin_client.get(reverse("admin:llm_providerconfig_change", args=[row.pk])).content.decode()
    assert "yes" in page and "OPENROUTER_API_KEY" in page


def test_add_form_defaults_to_openai_compatible(admin_client):
    page = admin_client.get(reverse("admin:llm_providerconfig_add")).content.decode()
    assert '<option value="openai_compatible" selected>' in page


def test_admin_adds_an_openai_compatible_provider_that_serves_at_once(admin_client, fake_openai):
    response = admin_client.post(
        reverse("admin:llm_providerconfig_add"), form_data(base_url=fake_openai.base_url, default_model="fake-model")
    )
    assert response.status_code == 302
    provider = registry.get_provider("ollama")
    assert provider.base_url == fake_openai.base_url
    assert async_to_sync(provider.complete)(REQUEST).text == expected_text(8)
    assert fake_openai.last.body["model"] == "fake-model"


def test_admin_edit_takes_effect_on_the_next_request(admin_client, fake_openai):
    provider_before = registry.get_provider("lm_studio")
    row = ProviderConfig.objects.get(name="lm_studio")
    response = admin_client.post(
        reverse("admin:llm_providerconfig_change", args=[row.pk]),
        form_data(
            name="lm_studio",
            kind="lm_studio",
            base_url=fake_openai.base_url,
            default_model="normal",
            retry_base_delay="0.01",
        ),
    )
    assert response.status_code == 302
    provider = registry.get_provider()
    assert provider is not provider_before
    assert async_to_sync(provider.complete)(REQUEST).text == expected_text(8)
    assert fake_openai.last.body["model"] == "normal"


@pytest.mark.parametrize(
    "field,value",
    [
        ("base_url", "http://user:sk-secret-in-url@localhost:11434/v1"),
        ("base_url", "http://localhost:11434/v1?api_key=sk-secret"),
        ("base_url", "ftp://localhost/v1"),
        ("api_key_env", "sk-or-v1-this-looks-like-a-key"),
        ("max_retries", "11"),
        ("connect_timeout", "0"),
    ],
)
def test_admin_refuses_invalid_values(admin_client, field, value):
    response = admin_client.post(reverse("admin:llm_providerconfig_add"), form_data(**{field: value}))
    assert response.status_code == 200  # the form again, with errors
    assert "errorlist" in response.content.decode()
    assert not ProviderConfig.objects.filter(name="ollama").exists()


@pytest.mark.parametrize(
    "base_url", ["http://ollama:11434/v1", "http://my-gpu-box:8000/v1", "http://192.168.1.20:1234/v1"]
)
def test_admin_accepts_service_and_lan_host_names(admin_client, base_url):
    response = admin_client.post(reverse("admin:llm_providerconfig_add"), form_data(base_url=base_url))
    assert response.status_code == 302
    assert ProviderConfig.objects.get(name="ollama").base_url == base_url
