"""The provider client's connection pool (llm/upstream/pool.py, docs/adr/0001) against real sockets: idle connections are kept
up to the keep-alive limit counted over idle connections only (stock httpcore 1.0.9 counts all of them),
the connection limit holds, expired idle connections are never handed out, and every
request start and end costs one bookkeeping pass."""

import asyncio

import httpcore
import httpx
import pytest

from llm.upstream.client import OpenAICompatibleClient
from llm.upstream.pool import ConnectionPool, http_transport
from tests.support.llm import fake_provider_settings


def client(**limits) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=http_transport(limits=httpx.Limits(**limits)), timeout=5)


async def completion(http: httpx.AsyncClient, base_url: str, behaviour: str = "normal") -> None:
    response = await http.post(
        f"{base_url}/chat/completions",
        headers={"X-Fake-Behaviour": behaviour},
        json={"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert response.status_code == 200


def connections_used(fake_openai, behaviour="normal"):
    return {r.connection_id for r in fake_openai.records if r.behaviour == behaviour}


async def test_idle_connection_is_kept_while_others_are_busy(fake_openai):
    # One connection busy with a slow answer, one idle: within a keep-alive limit of 1 idle connection.
    # (httpcore 1.0.9 counts the busy one too and closes the idle one every time.)
    async with client(max_connections=4, max_keepalive_connections=1) as http:
        slow = asyncio.create_task(completion(http, fake_openai.base_url, "slow:100"))
        assert await fake_openai.await_requests(1)
        for _ in range(5):
            await completion(http, fake_openai.base_url)
        await slow
    assert len(connections_used(fake_openai)) == 1


async def test_idle_connections_beyond_the_keepalive_limit_are_closed(fake_openai):
    async with client(max_connections=8, max_keepalive_connections=2) as http:
        await asyncio.gather(*(completion(http, fake_openai.base_url, "slow:20") for _ in range(4)))
        pool = http._transport._pool
        await completion(http, fake_openai.base_url)  # a pass of the bookkeeping after all four went idle
        assert len(pool.connections) == 2
        await asyncio.gather(*(completion(http, fake_openai.base_url, "slow:20") for _ in range(2)))
    first_burst, rest = fake_openai.records[:4], fake_openai.records[4:]
    assert {r.connection_id for r in rest} <= {r.connection_id for r in first_burst}


async def test_at_most_max_connections_are_open_and_queued_requests_still_finish(fake_openai):
    async with client(max_connections=2, max_keepalive_connections=2) as http:
        await asyncio.gather(*(completion(http, fake_openai.base_url, "slow:30") for _ in range(5)))
    assert len(fake_openai.records) == 5
    assert len({r.connection_id for r in fake_openai.records}) == 2


async def test_an_idle_connection_past_its_keepalive_expiry_is_replaced(fake_openai):
    async with client(max_connections=4, max_keepalive_connections=4, keepalive_expiry=0.05) as http:
        await completion(http, fake_openai.base_url)
        await asyncio.sleep(0.15)
        await completion(http, fake_openai.base_url)
    assert len(connections_used(fake_openai)) == 2


async def test_each_request_costs_one_bookkeeping_pass_at_its_start_and_one_at_its_end(fake_openai, monkeypatch):
    passes = []
    real = ConnectionPool._assign_requests_to_connections

    def counting(self):
        passes.append(len(self._connections))
        return real(self)

    monkeypatch.setattr(ConnectionPool, "_assign_requests_to_connections", counting)
    async with client(max_connections=64, max_keepalive_connections=64) as http:
        await asyncio.gather(*(completion(http, fake_openai.base_url, "slow:10") for _ in range(20)))
        passes.clear()
        await asyncio.gather(*(completion(http, fake_openai.base_url, "slow:10") for _ in range(20)))
    assert len(passes) == 40  # no request was handed a connection another one had already been promised
    assert len(connections_used(fake_openai, "slow:10")) == 20


@pytest.mark.parametrize("linear_pool", [True, False])
async def test_the_provider_client_uses_this_pool_unless_switched_off(fake_openai, linear_pool):
    provider_client = OpenAICompatibleClient(fake_provider_settings(fake_openai.base_url), linear_pool=linear_pool)
    http = await provider_client.http()
    assert isinstance(http._transport._pool, ConnectionPool) is linear_pool
    assert isinstance(http._transport._pool, httpcore.AsyncConnectionPool)
    await provider_client.aclose()


def test_the_setting_switches_it_off(settings, fake_openai):
    from llm.registry import build_provider

    settings.LLM_LINEAR_POOL = False
    assert build_provider(fake_provider_settings(fake_openai.base_url)).client.clients._linear_pool is False


def test_the_transport_refuses_an_httpx_that_builds_its_pool_differently(monkeypatch):
    class OtherPool(httpx.AsyncHTTPTransport):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._pool = object()

    monkeypatch.setattr(httpx, "AsyncHTTPTransport", OtherPool)
    with pytest.raises(TypeError):
        http_transport(limits=httpx.Limits())
