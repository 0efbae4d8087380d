"""The registry and provider configuration: rows seeded by migrate, singletons per name, unknown and
disabled providers, edits applied on the next request, and the env fallback without a table."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import OperationalError, connection

from llm import registry
from llm.exceptions import ProviderDisabledError, UnknownProviderError
from llm.models import ProviderConfig
from llm.services import provider_config_sync_from_settings
from llm.types import ChatMessage, ChatRequest
from tests.support.fake_openai import expected_text
from tests.support.llm import fake_provider_row_values

pytestmark = pytest.mark.django_db

REQUEST = ChatRequest(messages=(ChatMessage("user", "Hi"),))


def test_migrate_seeds_one_row_per_env_defined_provider():
    rows = {row.name: row for row in ProviderConfig.objects.all()}
    assert set(django_settings.LLM_PROVIDERS) <= set(rows)
    for name, values in django_settings.LLM_PROVIDERS.items():
        row = rows[name]
        assert (row.kind, row.base_url, row.default_model) == (
            values["kind"],
            values["base_url"],
            values["default_model"],
        )
        assert (row.enabled, row.max_retries, row.retry_base_delay) == (
            values["enabled"],
            values["max_retries"],
            values["retry_base_delay"],
        )
        assert (row.timeout, row.first_token_timeout, row.api_key_env) == (
            values["timeout"],
            values["first_token_timeout"],
            values["api_key_env"],
        )


def test_openrouter_is_seeded_disabled_and_lm_studio_enabled():
    assert ProviderConfig.objects.get(name="openrouter").enabled is False
    assert ProviderConfig.objects.get(name="lm_studio").enabled is True


def test_resync_keeps_admin_edits_until_the_environment_changes(settings):
    ProviderConfig.objects.filter(name="lm_studio").update(default_model="edited-in-admin")
    provider_config_sync_from_settings()  # e.g. `make run` migrating again: same environment
    assert ProviderConfig.objects.get(name="lm_studio").default_model == "edited-in-admin"

    providers = {name: dict(values) for name, values in settings.LLM_PROVIDERS.items()}
    providers["lm_studio"]["default_model"] = "changed-in-env"
    settings.LLM_PROVIDERS = providers
    provider_config_sync_from_settings()
    assert ProviderConfig.objects.get(name="lm_studio").default_model == "changed-in-env"


def test_an_environment_change_rewrites_only_its_own_field(settings):
    """`make run` switches LM_STUDIO_DEFAULT_MODEL between the bundled model and LM Studio's: an admin's
    edit of another field survives; a field whose variable changed takes the new value."""
    ProviderConfig.objects.filter(name="lm_studio").update(timeout=123.0, default_model="edited-in-admin")

    providers = {name: dict(values) for name, values in settings.LLM_PROVIDERS.items()}
    providers["lm_studio"]["default_model"] = "smollm2-135m-instruct"
    settings.LLM_PROVIDERS = providers
    provider_config_sync_from_settings()
    row = ProviderConfig.objects.get(name="lm_studio")
    assert (row.default_model, row.timeout) == ("smollm2-135m-instruct", 123.0)

    providers["lm_studio"]["default_model"] = "llama-3-8b-instruct"
    providers["lm_studio"]["max_retries"] = 1
    settings.LLM_PROVIDERS = {name: dict(values) for name, values in providers.items()}
    provider_config_sync_from_settings()
    row = ProviderConfig.objects.get(name="lm_studio")
    assert (row.default_model, row.max_retries, row.timeout) == ("llama-3-8b-instruct", 1, 123.0)


def test_default_provider_and_its_name(settings):
    assert registry.default_provider_name() == settings.LLM_PROVIDER == "lm_studio"
    provider = registry.get_provider()
    assert provider.name == "lm_studio" and provider.kind == "lm_studio"


def test_unknown_provider_raises_with_its_code():
    with pytest.raises(UnknownProviderError) as info:
        registry.get_provider("nope")
    assert (info.value.code, info.value.http_status) == ("LLM_UNKNOWN_PROVIDER", 400)
    assert "lm_studio" in info.value.details["known"]


def test_disabled_provider_raises_and_is_still_listed():
    with pytest.raises(ProviderDisabledError) as info:
        registry.get_provider("openrouter")
    assert info.value.code == "LLM_PROVIDER_DISABLED"
    names = [p.name for p in async_to_sync(registry.alist_providers)()]
    assert names == sorted(names) and {"lm_studio", "openrouter"} <= set(names)


def test_enabled_key_needing_provider_without_key_raises_clearly(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    ProviderConfig.objects.filter(name="openrouter").update(enabled=True)
    registry.invalidate()
    with pytest.raises(ProviderDisabledError) as info:
        registry.get_provider("openrouter")
    assert "OPENROUTER_API_KEY" in info.value.message


def test_one_instance_per_name_is_reused():
    assert registry.get_provider() is registry.get_provider("lm_studio")
    assert async_to_sync(registry.aget_provider)() is registry.get_provider()


def test_edit_takes_effect_on_the_next_request_with_a_new_instance(fake_openai):
    before = registry.get_provider()
    row = ProviderConfig.objects.get(name="lm_studio")
    for field, value in fake_provider_row_values(fake_openai.base_url).items():
        setattr(row, field, value)
    row.save()  # as the admin does: post_save drops the cached configuration
    after = registry.get_provider()
    assert after is not before and after.base_url == fake_openai.base_url
    assert async_to_sync(after.complete)(REQUEST).text == expected_text(8)
    assert fake_openai.attempts() == 1


def test_other_processes_see_an_edit_after_the_cache_lifetime(settings, fake_openai):
    # An edit made elsewhere sends no signal here; the short cache lifetime bounds how stale we are.
    settings.LLM_CONFIG_CACHE_SECONDS = 3600
    registry.get_provider()
    ProviderConfig.objects.filter(name="lm_studio").update(default_model="from-another-process")
    assert registry.get_provider().default_model != "from-another-process"
    settings.LLM_CONFIG_CACHE_SECONDS = 0
    assert registry.get_provider().default_model == "from-another-process"


def test_deleting_a_row_of_an_env_defined_provider_falls_back_to_the_environment():
    ProviderConfig.objects.filter(name="lm_studio").update(default_model="edited")
    registry.invalidate()
    assert registry.get_provider().default_model == "edited"
    ProviderConfig.objects.get(name="lm_studio").delete()
    assert registry.get_provider().default_model == django_settings.LLM_PROVIDERS["lm_studio"]["default_model"]


def test_provider_added_as_a_row_is_available(fake_openai):
    ProviderConfig.objects.create(name="ollama", **fake_provider_row_values(fake_openai.base_url))
    provider = registry.get_provider("ollama")
    assert provider.kind == "openai_compatible"
    assert async_to_sync(provider.complete)(REQUEST).text == expected_text(8)


@pytest.mark.django_db(transaction=True)
def test_without_a_table_the_env_defined_providers_are_used():
    ProviderConfig.objects.create(name="ollama", base_url="http://localhost:11434/v1", default_model="llama3.2")
    assert registry.get_provider("ollama")
    with connection.schema_editor() as editor:  # as before the first migrate, or after `migrate llm zero`
        editor.delete_model(ProviderConfig)
    try:
        registry.invalidate()
        assert registry.get_provider().base_url == django_settings.LLM_PROVIDERS["lm_studio"]["base_url"]
        with pytest.raises(UnknownProviderError):
            registry.get_provider("ollama")
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(ProviderConfig)


def broken_database(monkeypatch):
    def unreadable():
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(ProviderConfig.objects, "all", unreadable)


@pytest.fixture
def admin_configuration(fake_openai):
    """What an admin configured: lm_studio moved to the fake server, OpenRouter's row disabled, one added."""
    ProviderConfig.objects.filter(name="lm_studio").update(
        **fake_provider_row_values(fake_openai.base_url, kind="lm_studio")
    )
    ProviderConfig.objects.create(name="ollama", **fake_provider_row_values(fake_openai.base_url))
    registry.invalidate()
    return {name: registry.get_provider(name) for name in ("lm_studio", "ollama")}


def test_a_database_error_keeps_the_configuration_read_last(admin_configuration, monkeypatch, caplog, settings):
    settings.LLM_CONFIG_CACHE_SECONDS = 0  # every lookup re-reads
    broken_database(monkeypatch)
    for _ in range(3):
        assert registry.get_provider("ollama") is admin_configuration["ollama"]
        assert registry.get_provider() is admin_configuration["lm_studio"]  # not the environment's
        assert async_to_sync(registry.aget_provider)("ollama") is admin_configuration["ollama"]
    warnings = [r for r in caplog.records if r.name == "llm.registry"]
    assert len(warnings) == 1 and "keeping the configuration read last" in warnings[0].getMessage()


def test_the_configuration_kept_through_an_error_is_not_fresh(admin_configuration, monkeypatch, settings):
    settings.LLM_CONFIG_CACHE_SECONDS = 3600
    registry.invalidate()
    with monkeypatch.context() as patch:
        broken_database(patch)
        assert registry.get_provider("ollama").default_model == "fake-model"
    ProviderConfig.objects.filter(name="ollama").update(default_model="after-the-error")  # no signal
    assert registry.get_provider("ollama").default_model == "after-the-error"  # read again at once


def test_a_process_that_never_read_the_rows_uses_the_environment_meanwhile(admin_configuration, monkeypatch, settings):
    settings.LLM_CONFIG_CACHE_SECONDS = 3600
    monkeypatch.setattr(registry, "_providers", {})
    monkeypatch.setattr(registry, "_has_read", False)
    registry.invalidate()
    with monkeypatch.context() as patch:
        broken_database(patch)
        assert registry.get_provider().base_url == django_settings.LLM_PROVIDERS["lm_studio"]["base_url"]
        with pytest.raises(UnknownProviderError):
            registry.get_provider("ollama")
    assert registry.get_provider("ollama").base_url == admin_configuration["ollama"].base_url


@pytest.mark.django_db(transaction=True)
async def test_async_lookup_reads_rows_and_serves(fake_default_provider):
    provider = await registry.aget_provider()
    assert provider.base_url == fake_default_provider.base_url
    assert (await provider.complete(REQUEST)).text == expected_text(8)


@pytest.mark.django_db(transaction=True)
async def test_concurrent_async_lookups_share_one_read_of_the_rows(fake_default_provider, monkeypatch, settings):
    import asyncio

    from llm import selectors

    await registry.aget_provider()  # a configuration has been read
    real, reads, release = selectors.aprovider_settings_all, [], asyncio.Event()

    async def slow_read():
        reads.append(registry._generation)
        await release.wait()
        return await real()

    monkeypatch.setattr(selectors, "aprovider_settings_all", slow_read)
    settings.LLM_CONFIG_CACHE_SECONDS = 0  # expired for every lookup
    first = asyncio.create_task(registry.aget_provider())
    second = None
    try:
        await asyncio.sleep(0.01)
        # Served meanwhile by the configuration read last (a deadline: without sharing they would wait).
        others = await asyncio.wait_for(asyncio.gather(*(registry.aget_provider() for _ in range(20))), 5)
        assert len(reads) == 1
        assert all(p is others[0] for p in others)
        registry.invalidate()  # an edit while the read runs: the next lookup must not rely on that read
        second = asyncio.create_task(registry.aget_provider())
        await asyncio.sleep(0.01)
        assert len(reads) == 2
    finally:
        release.set()
        await asyncio.gather(first, *([second] if second else []), return_exceptions=True)
