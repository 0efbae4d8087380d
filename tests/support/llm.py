"""WHAT: helpers that point providers at the fake OpenAI-compatible server.
WHY: provider tests and API tests need a provider with short timeouts and near-zero retry delays, either
     as a free-standing instance or as the configured default provider (a `ProviderConfig` row).
HOW: `fake_provider_settings()` builds the frozen settings; the fixtures in tests/conftest.py use it.
"""

from __future__ import annotations

from typing import Any

from llm.config import ProviderSettings, Timeouts

TEST_TIMEOUTS = Timeouts(total=10.0, connect=2.0, first_token=5.0, idle=5.0)


def fake_provider_settings(base_url: str, **overrides: Any) -> ProviderSettings:
    """Settings for a provider on the fake server: fast retries (0.01 s base), short timeouts."""
    values: dict[str, Any] = {
        "name": "fake",
        "kind": "openai_compatible",
        "base_url": base_url,
        "default_model": "fake-model",
        "enabled": True,
        "timeouts": TEST_TIMEOUTS,
        "max_retries": 3,
        "retry_base_delay": 0.01,
        "api_key_env": "",
    }
    values.update(overrides)
    return ProviderSettings(**values)


def fake_provider_row_values(base_url: str, **overrides: Any) -> dict[str, Any]:
    """`ProviderConfig` field values for a row on the fake server (same defaults as above)."""
    values: dict[str, Any] = {
        "kind": "openai_compatible",
        "base_url": base_url,
        "default_model": "fake-model",
        "enabled": True,
        "timeout": TEST_TIMEOUTS.total,
        "connect_timeout": TEST_TIMEOUTS.connect,
        "first_token_timeout": TEST_TIMEOUTS.first_token,
        "idle_timeout": TEST_TIMEOUTS.idle,
        "max_retries": 3,
        "retry_base_delay": 0.01,
        "api_key_env": "",
    }
    values.update(overrides)
    return values
