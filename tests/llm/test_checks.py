"""System checks for the LLM configuration: each misconfiguration yields its llm.E00x id."""
import pytest
from django.core import checks

from llm.checks import check_default_provider, check_llm_knobs, check_provider_settings

pytestmark = pytest.mark.django_db


def ids(messages):
    return [m.id for m in messages]


def with_provider(settings, name, **changes):
    providers = {n: dict(v) for n, v in settings.LLM_PROVIDERS.items()}
    providers[name].update(changes)
    settings.LLM_PROVIDERS = providers


def test_the_default_configuration_passes_every_llm_check(settings):
    settings.SECRET_KEY = "a-real-secret-key-for-this-test-0123456789"  # pytest-django runs with DEBUG off
    errors = [m for m in checks.run_checks() if m.id and m.id.startswith("llm.")]
    assert errors == []


def test_unknown_default_provider_is_E001(settings):
    settings.LLM_PROVIDER = "lm_studoi"
    assert ids(check_default_provider()) == ["llm.E001"]


def test_default_provider_added_in_the_admin_is_accepted(settings):
    from llm.models import ProviderConfig

    ProviderConfig.objects.create(name="ollama", base_url="http://localhost:11434/v1", default_model="llama3.2")
    settings.LLM_PROVIDER = "ollama"
    assert check_default_provider() == []


@pytest.mark.parametrize(
    "changes,expected",
    [({"kind": "lmstudio"}, "llm.E002"), ({"max_retries": -1}, "llm.E003"), ({"max_retries": 50}, "llm.E003"),
     ({"retry_base_delay": -2}, "llm.E003"), ({"idle_timeout": 0}, "llm.E004")],
)
def test_bad_provider_values(settings, changes, expected):
    with_provider(settings, "lm_studio", **changes)
    assert ids(check_provider_settings()) == [expected]


def test_enabled_openrouter_without_key_is_E005(settings, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with_provider(settings, "openrouter", enabled=True)
    assert ids(check_provider_settings()) == ["llm.E005"]
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-check-test-123456")
    assert check_provider_settings() == []


def test_bad_knobs(settings):
    settings.DEBUG = True
    settings.LLM_RETRY_MAX_DELAY = 0
    settings.LLM_STREAM_MAX_TOKENS = -1
    settings.LLM_SSE_MAX_LINE_BYTES = 10
    assert ids(check_llm_knobs()) == ["llm.E003", "llm.E006", "llm.E006"]


def test_development_secret_key_without_debug_is_E007(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "dev-insecure-secret-key-change-me"
    assert ids(check_llm_knobs()) == ["llm.E007"]
