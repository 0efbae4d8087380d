"""WHAT: the dependency probes behind the health and status endpoints: the database and the LLM providers.
WHY: load balancers and dashboards poll health often; a burst of checks must not turn into a burst of
     upstream calls, a slow LLM server must not make the health check slow, and probe output must never
     carry secrets (keys, passwords in URLs, driver messages that name hosts or users).
HOW: `database_probe()` runs `SELECT 1` and reports class names only. `allm_probe()` wraps
     `Provider.health()` in HEALTH_LLM_PROBE_TIMEOUT and caches its result per provider configuration for
     HEALTH_LLM_CACHE_SECONDS; concurrent callers, on any thread or event loop, share one in-flight probe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from llm.protocol import Provider
from llm.types import ProviderHealth

__all__ = ["DatabaseHealth", "allm_probe", "database_probe", "llm_probe_cache_clear"]


@dataclass(frozen=True)
class DatabaseHealth:
    available: bool
    latency_ms: float
    error: str | None = None


def database_probe(*, using: str = DEFAULT_DB_ALIAS) -> DatabaseHealth:
    """Run `SELECT 1` on the `using` connection; never raises. Sync: call it from a thread."""
    started = time.perf_counter()
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Driver messages can name hosts, users or file paths: report the class only.
        return DatabaseHealth(False, _elapsed_ms(started), f"{type(exc).__name__}: database unavailable")
    return DatabaseHealth(True, _elapsed_ms(started))


_CacheKey = tuple[str, Provider]


def _cache_key(provider: Provider) -> _CacheKey:
    # The instance stands for its configuration: the registry replaces a provider whose configuration
    # changed (an admin edit, in any process) and keeps an unchanged one, so the next call after an edit
    # probes the new one. Keyed by the object itself (not id()), which cannot be reused while cached.
    return provider.name, provider


class _ProbeCache:
    """Per-provider cached results and in-flight probes, shared by every thread and event loop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: dict[_CacheKey, tuple[float, ProviderHealth]] = {}
        self.in_flight: dict[_CacheKey, concurrent.futures.Future[ProviderHealth | None]] = {}

    def store(self, key: _CacheKey, result: ProviderHealth) -> None:
        """Cache `result`, dropping results of the provider's earlier configurations (call with the lock)."""
        for stale in [other for other in self.results if other[0] == key[0] and other != key]:
            del self.results[stale]
        self.results[key] = (time.monotonic(), result)


_cache = _ProbeCache()


def llm_probe_cache_clear() -> None:
    """Forget cached probe results (tests; a changed configuration needs no clearing, see above)."""
    with _cache.lock:
        _cache.results.clear()


async def allm_probe(provider: Provider) -> ProviderHealth:
    """The provider's health, from the cache when fresh, else from one probe shared by all callers."""
    key = _cache_key(provider)
    while True:
        with _cache.lock:
            cached = _cache.results.get(key)
            if cached is not None and time.monotonic() - cached[0] < settings.HEALTH_LLM_CACHE_SECONDS:
                return cached[1]
            shared = _cache.in_flight.get(key)
            if shared is None:
                shared = _cache.in_flight[key] = concurrent.futures.Future()
                # Running: a waiter's cancellation (wrap_future passes it on) can no longer cancel it.
                shared.set_running_or_notify_cancel()
                is_owner = True
            else:
                is_owner = False
        if not is_owner:
            # wrap_future works across loops; None means the owner was cancelled: probe again.
            result = await asyncio.wrap_future(shared)
            if result is not None:
                return result
            continue
        result = None
        try:
            result = await _probe(provider)
            with _cache.lock:
                _cache.store(key, result)
            return result
        finally:
            with _cache.lock:
                _cache.in_flight.pop(key, None)
            shared.set_result(result)


async def _probe(provider: Provider) -> ProviderHealth:
    timeout = settings.HEALTH_LLM_PROBE_TIMEOUT
    started = time.perf_counter()
    try:
        return await asyncio.wait_for(provider.health(), timeout)
    except TimeoutError:
        return ProviderHealth(provider.name, False, _elapsed_ms(started), f"health probe timed out after {timeout:g} s")
    except Exception as exc:
        return ProviderHealth(provider.name, False, _elapsed_ms(started), f"{type(exc).__name__}: probe failed")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
