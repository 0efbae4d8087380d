"""The service endpoints over HTTP: `/`, health (healthy / degraded / unhealthy and their status codes),
liveness (touches nothing), the LLM status page (never a key), and a burst of health checks that
makes at most a handful of upstream probes."""

import asyncio

import httpx
import pytest
from django.db import connection

from health.probes import llm_probe_cache_clear
from tests.support.llm_fixtures import point_default_provider_at

PROBE_PATHS = ("/v1/models", "/api/v0/models")


def probes(fake):
    return sum(fake.attempts(path=p) for p in PROBE_PATHS)


def test_root_says_where_docs_and_health_are(client, settings):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {
        "name": settings.APP_NAME,
        "version": settings.VERSION,
        "docs": "/api/docs/",
        "health": "/api/v1/health",
    }


def test_healthy_when_database_and_llm_answer(live_gateway, fake_upstream, settings):
    response = httpx.get(f"{live_gateway.url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert (body["version"], body["app_name"]) == (settings.VERSION, settings.APP_NAME)
    llm, database = body["components"]["llm"], body["components"]["database"]
    assert llm["available"] is True and llm["provider"] == "lm_studio" and llm["latency_ms"] >= 0
    assert "error" not in llm
    assert database["available"] is True and database["latency_ms"] >= 0 and "error" not in database
    assert probes(fake_upstream) >= 1


def test_degraded_but_200_when_the_llm_is_down(live_gateway, fake_upstream):
    point_default_provider_at("http://127.0.0.1:9/v1")  # nothing listens there
    response = httpx.get(f"{live_gateway.url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["llm"]["available"] is False
    assert body["components"]["llm"]["error"]
    assert body["components"]["database"]["available"] is True


def test_degraded_when_the_llm_probe_times_out(live_gateway, fake_upstream, settings):
    settings.HEALTH_LLM_PROBE_TIMEOUT = 0.2
    fake_upstream.behaviour_override = "no-headers"
    response = httpx.get(f"{live_gateway.url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


@pytest.mark.django_db(transaction=True)
def test_unhealthy_and_503_when_the_database_is_down(client, monkeypatch, tmp_path):
    connection.close()
    # A database that does not exist: a file in a missing directory (SQLite), an unknown name (PostgreSQL).
    missing = str(tmp_path / "no-such-dir" / "db.sqlite3") if connection.vendor == "sqlite" else "no-such-dir"
    monkeypatch.setitem(connection.settings_dict, "NAME", missing)
    llm_probe_cache_clear()
    try:
        response = client.get("/api/v1/health")
    finally:
        connection.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["components"]["database"]["available"] is False
    assert body["components"]["database"]["error"] == "OperationalError: database unavailable"
    assert "no-such-dir" not in response.content.decode()


def test_liveness_touches_no_dependency(client, fake_openai):
    # No django_db mark: pytest-django makes any database access in this test raise.
    fake_openai.reset()
    response = client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert fake_openai.records == []


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", "text/html;q=0.9"])
def test_liveness_answers_json_whatever_the_accept_header(client, accept):
    # a monitor that asks for text/plain must get the answer, not 406
    response = client.get("/api/v1/health/live", headers={"Accept": accept})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "alive"}


def test_a_burst_of_50_health_checks_makes_at_most_a_handful_of_probes(live_gateway, fake_upstream):
    fake_upstream.behaviour_override = "slow:300"  # the probe is in flight while the burst arrives

    async def burst():
        async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=50)) as client:
            return await asyncio.gather(*(client.get(f"{live_gateway.url}/api/v1/health") for _ in range(50)))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.json()["status"] for r in responses} == {"healthy"}
    assert 1 <= probes(fake_upstream) <= 3


def test_llm_status_lists_every_provider_without_keys(live_gateway, fake_upstream, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-very-secret-value")
    response = httpx.get(f"{live_gateway.url}/api/v1/llm/status", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert "very-secret" not in response.text
    assert body["default_provider"] == "lm_studio"
    assert body["database"]["available"] is True
    providers = {p["name"]: p for p in body["providers"]}
    local = providers["lm_studio"]
    assert local["default"] is True and local["enabled"] is True and local["available"] is True
    assert local["base_url"] == fake_upstream.base_url
    assert local["default_model"] == "fake-model"
    assert local["models"] == ["fake-model"]  # LM Studio's native API tells which model is loaded
    assert local["latency_ms"] >= 0 and local["error"] is None and local["key_set"] is False
    remote = providers["openrouter"]
    assert remote["enabled"] is False and remote["available"] is False and remote["key_set"] is True
    assert remote["error"] and remote["models"] is None


def test_llm_status_reports_an_unreachable_provider(live_gateway, fake_upstream):
    point_default_provider_at("http://127.0.0.1:9/v1")
    body = httpx.get(f"{live_gateway.url}/api/v1/llm/status", timeout=10).json()
    local = next(p for p in body["providers"] if p["name"] == "lm_studio")
    assert local["available"] is False and local["error"] and local["models"] is None
