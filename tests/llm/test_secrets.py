"""An API key set in the environment is used upstream, yet appears in no log record, no admin page and
no database row (every table's every column scanned); credentials in a base URL appear in no error
message, status answer, log line or repr."""

import io
import logging
import socket

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.urls import reverse

from health.probes import llm_probe_cache_clear
from llm import registry
from llm.config import public_url
from llm.exceptions import LLMError
from llm.models import ProviderConfig
from llm.types import ChatMessage, ChatRequest
from marketplace.logging import redact
from tests.support.llm import fake_provider_row_values

pytestmark = pytest.mark.django_db

SECRET = "sk-or-v1-0123456789abcdefSECRETfedcba9876543210"


@pytest.fixture
def openrouter_with_key(monkeypatch, fake_openai):
    """OpenRouter enabled via its configuration row, its key in the environment, the fake requiring it."""
    monkeypatch.setenv("OPENROUTER_API_KEY", SECRET)
    fake_openai.required_key = SECRET
    row = ProviderConfig.objects.get(name="openrouter")
    for field, value in fake_provider_row_values(fake_openai.base_url, kind="openrouter", max_retries=2).items():
        if field != "api_key_env":
            setattr(row, field, value)
    row.save()
    assert row.api_key_env == "OPENROUTER_API_KEY"
    return row


def exercise(provider_name: str) -> list[LLMError]:
    """Successes, retries, failures and probes: every path that might log or store something."""
    provider = registry.get_provider(provider_name)
    failures = []

    async def run():
        await provider.complete(ChatRequest(messages=(ChatMessage("user", "Hi"),)))
        async for _ in provider.stream(ChatRequest(messages=(ChatMessage("user", "Hi"),), model="fail:1:503")):
            pass
        for model in ("status:401", "drop-after:1", "error-mid-stream:1", "status:503"):
            try:
                async for _ in provider.stream(ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model)):
                    pass
            except LLMError as exc:
                failures.append(exc)
        await provider.health()
        await provider.list_models()

    async_to_sync(run)()
    return failures


def test_key_is_sent_upstream_but_never_logged(openrouter_with_key, fake_openai, caplog):
    raw = io.StringIO()
    raw_handler = logging.StreamHandler(raw)  # no redaction filter: proves nothing was logged at all
    raw_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(raw_handler)
    noisy = [logging.getLogger(name) for name in ("httpx", "httpcore", "llm", "asyncio")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            failures = exercise("openrouter")
    finally:
        root.removeHandler(raw_handler)
        for logger, level in zip(noisy, levels):
            logger.setLevel(level)

    assert any(r.headers.get("authorization") == f"Bearer {SECRET}" for r in fake_openai.records)
    assert len(failures) == 4
    assert caplog.records, "the exercise should have logged retries and failures"
    assert "retrying" in raw.getvalue()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (caplog.handler.format(record) or "")
    assert SECRET not in raw.getvalue()
    for exc in failures:  # what would reach an API client
        assert SECRET not in exc.message and SECRET not in str(exc.details)


def test_key_appears_on_no_admin_page(openrouter_with_key, admin_client):
    pages = [
        admin_client.get(reverse("admin:llm_providerconfig_changelist")),
        admin_client.get(reverse("admin:llm_providerconfig_change", args=[openrouter_with_key.pk])),
        admin_client.get(reverse("admin:llm_providerconfig_add")),
        admin_client.get(reverse("admin:llm_providerconfig_history", args=[openrouter_with_key.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
    assert "yes" in pages[1].content.decode()  # the admin does say that the key is set


def test_key_is_stored_in_no_database_row(openrouter_with_key, admin_client):
    exercise("openrouter")
    # An admin save too (it writes a LogEntry with a change message).
    response = admin_client.post(
        reverse("admin:llm_providerconfig_change", args=[openrouter_with_key.pk]),
        {
            **{
                k: str(v)
                for k, v in fake_provider_row_values("http://127.0.0.1:9/v1", kind="openrouter").items()
                if k not in ("enabled",)
            },
            "name": "openrouter",
            "api_key_env": "OPENROUTER_API_KEY",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    scanned = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                scanned += 1
                assert SECRET not in repr(row), table
    assert scanned > 0
    assert ProviderConfig.objects.get(name="openrouter").api_key_env == "OPENROUTER_API_KEY"


@pytest.mark.parametrize(
    "url,public",
    [
        ("http://user:pass@host:1234/v1?key=abc#x", "http://host:1234/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("http://[::1", ""),
    ],
)
def test_public_url_drops_credentials(url, public):
    assert public_url(url) == public


def test_log_lines_never_show_the_user_info_of_a_url():
    assert (
        redact("GET http://admin:s3cret@llm.local:1234/v1/models") == "GET http://[REDACTED]@llm.local:1234/v1/models"
    )


@pytest.fixture
def provider_url_with_credentials(transactional_db):
    """The default provider at a URL with credentials, where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://llmuser:Pa55-{port}-word@127.0.0.1:{port}/v1"
    # As an env-defined URL may be; the admin form refuses credentials in a row's URL.
    ProviderConfig.objects.filter(name=settings.LLM_PROVIDER).update(
        **fake_provider_row_values(url, kind="lm_studio", max_retries=0)
    )
    registry.invalidate()
    llm_probe_cache_clear()
    yield url, f"Pa55-{port}-word"
    registry.invalidate()
    llm_probe_cache_clear()


def test_credentials_in_a_base_url_reach_no_message_status_log_or_repr(provider_url_with_credentials, client, caplog):
    url, password = provider_url_with_credentials
    provider = registry.get_provider()
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(LLMError) as info:
            async_to_sync(provider.complete)(ChatRequest(messages=(ChatMessage("user", "Hi"),)))
        status = client.get("/api/v1/llm/status").json()
        health = client.get("/api/v1/health").json()
    assert info.value.code == "LLM_UNAVAILABLE"
    assert public_url(url) in info.value.message  # the message still says where it tried
    shown = [
        info.value.message,
        str(info.value.details),
        repr(provider),
        repr(provider.config),
        str(status),
        str(health),
    ] + [caplog.handler.format(record) for record in caplog.records]
    for text in shown:
        assert password not in text and "llmuser" not in text
    entry = next(p for p in status["providers"] if p["name"] == settings.LLM_PROVIDER)
    assert entry["base_url"] == public_url(url) and not entry["available"] and entry["error"]


def test_a_key_in_a_variable_of_any_name_is_masked_once_its_provider_is_configured(monkeypatch, fake_openai):
    """The admin accepts any variable name for a key (VLLM_AUTH does not look secret by its name)."""
    from marketplace.logging import RedactSecretsFilter

    key = "vllm-auth-value-0123456789abcdef"
    monkeypatch.setenv("VLLM_AUTH", key)
    ProviderConfig.objects.create(
        name="vllm", **fake_provider_row_values(fake_openai.base_url, api_key_env="VLLM_AUTH")
    )
    registry.get_provider("vllm")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "upstream said: invalid key %s", (key,), None)
    RedactSecretsFilter().filter(record)
    assert key not in record.getMessage() and "[REDACTED]" in record.getMessage()


def test_error_responses_quoting_an_upstream_never_carry_a_key(monkeypatch):
    """details.excerpt quotes what the upstream sent, which may echo the key it was given."""
    from llm.exceptions import ProviderResponseError
    from marketplace.api_errors import error_response, sse_error_event

    monkeypatch.setenv("OPENROUTER_API_KEY", SECRET)
    exc = ProviderResponseError(
        f"Provider 'openrouter' said: bad key {SECRET}",
        provider="openrouter",
        details={"reason": "malformed_json", "excerpt": f"<p>key {SECRET} refused</p>"},
    )
    body = error_response(exc).content.decode()
    event = sse_error_event(exc).decode()
    for text in (body, event):
        assert SECRET not in text and "[REDACTED]" in text and "malformed_json" in text
