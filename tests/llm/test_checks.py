"""System checks for the LLM configuration: each misconfiguration yields its llm.E00x id, and `migrate` with
a bad environment value stops at the checks (never a traceback halfway through writing provider rows)."""

import sqlite3

import pytest
from django.core import checks

from llm.checks import check_default_provider, check_llm_knobs, check_provider_rows, check_provider_settings
from tests.support.manage import run_manage

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
    assert ids(check_default_provider(databases=["default"])) == ["llm.E001"]


def test_default_provider_added_in_the_admin_is_accepted(settings):
    from llm.models import ProviderConfig

    ProviderConfig.objects.create(name="ollama", base_url="http://localhost:11434/v1", default_model="llama3.2")
    settings.LLM_PROVIDER = "ollama"
    assert check_default_provider(databases=["default"]) == []


def test_checks_read_provider_rows_only_when_databases_are_named(settings, django_assert_num_queries):
    settings.LLM_PROVIDER = "maybe_added_in_the_admin"
    with django_assert_num_queries(0):  # `runserver`, `check`: no database access from the llm checks
        assert check_default_provider() == [] and check_provider_rows() == []
        assert not [m for m in checks.run_checks() if m.id and m.id.startswith("llm.")]
    assert {"database"} <= set(check_default_provider.tags) and {"database"} <= set(check_provider_rows.tags)


def test_enabled_row_of_a_key_needing_kind_without_its_key_is_E005(monkeypatch):
    from llm.models import ProviderConfig

    monkeypatch.delenv("OPENROUTER_TEAM_KEY", raising=False)
    ProviderConfig.objects.create(
        name="openrouter-team",
        kind="openrouter",
        base_url="https://openrouter.ai/api/v1",
        default_model="openai/gpt-4o-mini",
        api_key_env="OPENROUTER_TEAM_KEY",
    )
    messages = check_provider_rows(databases=["default"])
    assert ids(messages) == ["llm.E005"] and "OPENROUTER_TEAM_KEY" in messages[0].hint
    monkeypatch.setenv("OPENROUTER_TEAM_KEY", "sk-or-v1-team-key-0123456789")
    assert check_provider_rows(databases=["default"]) == []


def test_rows_with_refused_values_are_reported(monkeypatch):
    from llm.models import ProviderConfig

    ProviderConfig.objects.filter(name="lm_studio").update(base_url="localhost:1234/v1", max_retries=99)
    assert sorted(ids(check_provider_rows(databases=["default"]))) == ["llm.E003", "llm.E008"]


def test_rows_equal_to_the_environment_are_left_to_the_environment_check(settings, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with_provider(settings, "openrouter", enabled=True)
    from llm.services import provider_config_sync_from_settings

    provider_config_sync_from_settings()
    assert ids(check_provider_settings()) == ["llm.E005"]
    assert check_provider_rows(databases=["default"]) == []  # one message for one problem


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"kind": "lmstudio"}, "llm.E002"),
        ({"max_retries": -1}, "llm.E003"),
        ({"max_retries": 50}, "llm.E003"),
        ({"retry_base_delay": -2}, "llm.E003"),
        ({"idle_timeout": 0}, "llm.E004"),
    ],
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


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"base_url": "localhost:1234/v1"}, "llm.E008"),
        ({"base_url": "http://user:pw@localhost:1234/v1"}, "llm.E008"),
        ({"base_url": "http://localhost:1234/v1?key=x"}, "llm.E008"),
        ({"default_model": ""}, "llm.E009"),
        ({"timeout": 0.05}, "llm.E004"),
        ({"api_key_env": "sk-not-a-variable-name"}, "llm.E010"),
    ],
    ids=["no-scheme", "credentials", "query", "no-default-model", "timeout-below-0.1", "key-instead-of-its-name"],
)
def test_values_the_provider_row_would_refuse_are_check_errors(settings, changes, expected):
    with_provider(settings, "lm_studio", **changes)
    messages = check_provider_settings()
    assert ids(messages) == [expected]
    assert "LM_STUDIO_" in messages[0].hint
    assert "pw@" not in messages[0].msg and "sk-not" not in messages[0].msg  # values that may hold secrets


@pytest.mark.parametrize(
    "base_url",
    [
        "http://ollama:11434/v1",
        "http://lmstudio:1234/v1",
        "http://my-gpu-box:8000/v1",
        "http://[::1]:1234/v1",
        "https://llm.internal.example.com/v1",
    ],
)
def test_short_host_names_and_ip_addresses_are_accepted(settings, base_url):
    with_provider(settings, "lm_studio", base_url=base_url)
    assert check_provider_settings() == []


@pytest.mark.parametrize(
    "variable,value",
    [
        ("LM_STUDIO_TIMEOUT", "0.05"),
        ("LM_STUDIO_BASE_URL", "localhost:1234/v1"),
        ("LM_STUDIO_BASE_URL", "http://user:pass@localhost:1234/v1"),
        ("LM_STUDIO_DEFAULT_MODEL", ""),
    ],
    ids=["timeout", "url-without-scheme", "url-with-credentials", "empty-default-model"],
)
def test_migrate_with_a_bad_environment_value_stops_at_the_system_checks(tmp_path, variable, value):
    result = run_manage("migrate", "--noinput", database=tmp_path / "db.sqlite3", **{variable: value})
    assert result.returncode == 1
    assert "SystemCheckError" in result.stderr and "llm.E0" in result.stderr
    assert "Traceback" not in result.stderr
    assert "user:pass" not in result.stderr


def test_migrate_accepts_a_docker_compose_service_name(tmp_path):
    database = tmp_path / "db.sqlite3"
    result = run_manage("migrate", "--noinput", database=database, LM_STUDIO_BASE_URL="http://ollama:11434/v1")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        (base_url,) = connection.execute("SELECT base_url FROM llm_providerconfig WHERE name = 'lm_studio'").fetchone()
    assert base_url == "http://ollama:11434/v1"


def test_the_sync_skips_values_the_row_refuses_instead_of_raising(settings, caplog):
    from llm.models import ProviderConfig
    from llm.services import provider_config_sync_from_settings

    before = ProviderConfig.objects.get(name="lm_studio").base_url
    with_provider(settings, "lm_studio", base_url="localhost:1234/v1")
    assert [row.name for row in provider_config_sync_from_settings()] == []  # as with `migrate --skip-checks`
    assert ProviderConfig.objects.get(name="lm_studio").base_url == before
    assert "manage.py check" in caplog.text
