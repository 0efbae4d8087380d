"""The health probes: the LLM probe's timeout, cache and shared in-flight probe (across tasks, threads
and event loops); the database probe's failure report."""

import asyncio
import threading
import time

import pytest
from django.db import connection
from django.test import override_settings

from health.probes import allm_probe, database_probe, llm_probe_cache_clear
from llm.types import ProviderHealth


class CountingProvider:
    """A provider double whose health() takes `delay` seconds and counts its calls."""

    def __init__(self, name="p", delay=0.05, available=True, error=None):
        self.name, self.delay, self.available, self.error = name, delay, available, error
        self.calls = 0
        self._lock = threading.Lock()

    async def health(self):
        with self._lock:
            self.calls += 1
        if self.error is not None:
            raise self.error
        await asyncio.sleep(self.delay)
        return ProviderHealth(self.name, self.available, 1.0, None if self.available else "down", ("m",))


@pytest.fixture(autouse=True)
def fresh_cache():
    llm_probe_cache_clear()
    yield
    llm_probe_cache_clear()


async def test_concurrent_callers_share_one_probe():
    provider = CountingProvider(name="shared-tasks")
    results = await asyncio.gather(*(allm_probe(provider) for _ in range(50)))
    assert provider.calls == 1
    assert all(r.available for r in results)


def test_callers_on_other_threads_and_loops_share_one_probe():
    provider = CountingProvider(name="shared-threads", delay=0.2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(asyncio.run(allm_probe(provider)))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 8
    assert provider.calls == 1


async def test_result_is_cached_then_probed_again_after_the_cache_expires():
    provider = CountingProvider(name="cached", delay=0)
    with override_settings(HEALTH_LLM_CACHE_SECONDS=0.2):
        await allm_probe(provider)
        await allm_probe(provider)
        assert provider.calls == 1
        await asyncio.sleep(0.25)
        await allm_probe(provider)
        assert provider.calls == 2


async def test_a_slow_provider_is_reported_unavailable_after_the_probe_timeout():
    provider = CountingProvider(name="slow", delay=30)
    started = time.monotonic()
    with override_settings(HEALTH_LLM_PROBE_TIMEOUT=0.1):
        result = await allm_probe(provider)
    assert time.monotonic() - started < 5
    assert not result.available
    assert "timed out" in result.error


async def test_a_probe_that_raises_is_reported_without_its_message():
    provider = CountingProvider(name="raising", error=RuntimeError("secret-token-abc"))
    result = await allm_probe(provider)
    assert not result.available
    assert "secret-token-abc" not in result.error and "RuntimeError" in result.error


async def test_waiters_probe_again_when_the_owner_is_cancelled():
    provider = CountingProvider(name="cancelled", delay=0.2)
    owner = asyncio.create_task(allm_probe(provider))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(allm_probe(provider))
    await asyncio.sleep(0.01)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    result = await asyncio.wait_for(waiter, 5)
    assert result.available
    assert provider.calls == 2


async def test_a_waiter_that_gives_up_does_not_break_the_probe_for_the_others():
    provider = CountingProvider(name="impatient", delay=0.3)
    owner = asyncio.create_task(allm_probe(provider))
    await asyncio.sleep(0.05)
    patient = asyncio.create_task(allm_probe(provider))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(allm_probe(provider), 0.05)  # e.g. a client that disconnected
    assert (await asyncio.wait_for(owner, 5)).available
    assert (await asyncio.wait_for(patient, 5)).available
    assert provider.calls == 1


@pytest.mark.django_db
def test_a_changed_configuration_is_probed_again_at_once(fake_openai, settings):
    """After an admin edit the health check must not report the old server for HEALTH_LLM_CACHE_SECONDS."""
    from asgiref.sync import async_to_sync

    from llm import registry
    from llm.models import ProviderConfig
    from tests.support.llm import fake_provider_row_values

    settings.HEALTH_LLM_CACHE_SECONDS = 3600
    row = ProviderConfig.objects.get(name="lm_studio")
    row.base_url = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    row.save()
    assert not async_to_sync(allm_probe)(registry.get_provider()).available
    for field, value in fake_provider_row_values(fake_openai.base_url, kind="lm_studio").items():
        setattr(row, field, value)
    row.save()
    assert async_to_sync(allm_probe)(registry.get_provider()).available


@pytest.mark.django_db
def test_database_probe_reports_available():
    result = database_probe()
    assert result.available and result.error is None and result.latency_ms >= 0


@pytest.mark.django_db(transaction=True)  # outside a test transaction, so the connection really reopens
def test_database_probe_reports_a_broken_database_without_its_path(monkeypatch, tmp_path):
    # A file in a missing directory (SQLite), a database that does not exist (PostgreSQL).
    broken = str(tmp_path / "missing-dir" / "db.sqlite3") if connection.vendor == "sqlite" else "missing-dir"
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "NAME", broken)
    try:
        result = database_probe()
    finally:
        connection.close()
    assert not result.available
    assert result.error == "OperationalError: database unavailable"
    assert "missing-dir" not in result.error
