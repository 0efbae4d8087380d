"""WHAT: the provider registry: `aget_provider(name)` / `get_provider(name)` return the one live provider
instance for a name (None: settings.LLM_PROVIDER); `alist_providers()` lists all, disabled ones included.
WHY: a provider owns pooled HTTP connections, so it must be a long-lived singleton per name, yet an
     admin's edit of its `ProviderConfig` row must take effect on the next request.
HOW: the configurations (llm/selectors.py) are cached in-process; `invalidate()`, called by the signals of
     `ProviderConfig`, drops the cache at once, other processes re-read after LLM_CONFIG_CACHE_SECONDS. On
     reload an unchanged provider keeps its instance (and connections); unreadable rows keep the last read
     in use. Use `aget_provider` in async code: the sync twin reads the database, for sync code only.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError

from llm import selectors
from llm.config import ProviderSettings
from llm.exceptions import UnknownProviderError
from llm.protocol import Provider
from llm.providers import PROVIDER_CLASSES, OpenAICompatibleProvider
from marketplace.logging import remember_key_variables

__all__ = [
    "aget_provider",
    "alist_providers",
    "build_provider",
    "default_provider_name",
    "get_provider",
    "invalidate",
]

DEFAULT_CACHE_SECONDS = 2.0
FAILURE_LOG_SECONDS = 60.0  # at most one warning per this many seconds while the rows stay unreadable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_providers: dict[str, OpenAICompatibleProvider] = {}
_loaded_at: float | None = None  # None: nothing loaded, or invalidated
_generation = 0  # bumped by invalidate(), so a load that raced with an edit is not kept as fresh
_has_read = False  # whether _providers holds a configuration actually read (kept through database errors)
_async_read_of: int | None = None  # the generation an async read of the rows is in flight for
_failures_unlogged = 0
_failure_logged_at: float | None = None


def default_provider_name() -> str:
    return settings.LLM_PROVIDER


def build_provider(config: ProviderSettings) -> Provider:
    """A new provider instance of the class for `config.kind` (unknown kinds: plain OpenAI-compatible)."""
    return _build(config)


def _build(config: ProviderSettings) -> OpenAICompatibleProvider:
    # Inside the registry the concrete class is known: it compares configurations and checks usability.
    return PROVIDER_CLASSES.get(config.kind, OpenAICompatibleProvider)(config)


def invalidate() -> None:
    """Forget the cached configurations; the next lookup re-reads them."""
    global _loaded_at, _generation
    with _lock:
        _loaded_at = None
        _generation += 1


def _cache_seconds() -> float:
    return float(getattr(settings, "LLM_CONFIG_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def _is_fresh() -> bool:
    return _loaded_at is not None and time.monotonic() - _loaded_at < _cache_seconds()


def _install(configs: dict[str, ProviderSettings], generation: int | None) -> None:
    """Use `configs`; fresh for the cache lifetime when read as of `generation` (None: never fresh)."""
    global _providers, _loaded_at, _has_read
    with _lock:
        current = _providers
        providers = {}
        for name, config in configs.items():
            existing = current.get(name)
            providers[name] = existing if existing is not None and existing.config == config else _build(config)
        _providers = providers
        # A key's variable may have any name (VLLM_AUTH): tell the log filter which ones hold keys.
        remember_key_variables({config.api_key_env for config in configs.values()})
        if generation is not None:
            _has_read = True
            if generation == _generation:
                _loaded_at = time.monotonic()


def _unreadable(exc: DatabaseError) -> None:
    """The rows could not be read: keep the last configuration read, else use the environment's."""
    global _failures_unlogged, _failure_logged_at
    keep = _has_read
    if not keep:
        _install(selectors.env_provider_settings(), None)
    with _lock:
        _failures_unlogged += 1
        now = time.monotonic()
        if _failure_logged_at is not None and now - _failure_logged_at < FAILURE_LOG_SECONDS:
            return
        failures, _failures_unlogged, _failure_logged_at = _failures_unlogged, 0, now
    logger.warning(
        "LLM provider rows unreadable (%s; %d time(s) since the last report); %s",
        type(exc).__name__,
        failures,
        "keeping the configuration read last" if keep else "using the env-defined providers until they can be read",
    )


def _ensure_loaded() -> None:
    if _is_fresh():
        return
    generation = _generation
    try:
        configs = selectors.provider_settings_all()
    except DatabaseError as exc:
        _unreadable(exc)
        return
    _install(configs, generation)


async def _aensure_loaded() -> None:
    global _async_read_of
    if _is_fresh():
        return
    generation = _generation
    if _has_read and _async_read_of == generation:
        # Another request is already reading this generation: until it is done, the configuration read
        # last serves (it is at most a cache lifetime old). Without this, every request that arrived
        # during the read started a read of its own, tens per second at 100 concurrent streams.
        return
    _async_read_of = generation
    try:
        configs = await selectors.aprovider_settings_all()
    except DatabaseError as exc:
        _unreadable(exc)
        return
    finally:
        if _async_read_of == generation:
            _async_read_of = None
    _install(configs, generation)


def _pick(name: str | None) -> OpenAICompatibleProvider:
    wanted = name or default_provider_name()
    provider = _providers.get(wanted)
    if provider is None:
        raise UnknownProviderError(
            f"Unknown LLM provider '{wanted}'.", details={"provider": wanted, "known": sorted(_providers)}
        )
    provider.ensure_usable()  # ProviderDisabledError when disabled, or when it needs a key it lacks
    return provider


async def aget_provider(name: str | None = None) -> Provider:
    """The provider called `name` (None: the default). Raises UnknownProviderError / ProviderDisabledError."""
    await _aensure_loaded()
    return _pick(name)


def get_provider(name: str | None = None) -> Provider:
    """Sync twin of `aget_provider`, for management commands and other sync code."""
    _ensure_loaded()
    return _pick(name)


async def alist_providers() -> list[Provider]:
    """Every configured provider, disabled ones included, by name."""
    await _aensure_loaded()
    return [_providers[name] for name in sorted(_providers)]
