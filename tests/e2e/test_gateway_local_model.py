"""End to end: the gateway against the real local model (SmolLM2 on llama-cpp-python's server):
completions, streams, the openai SDK, models, status, health and stream bounds."""

from __future__ import annotations

import openai
import pytest

from llm.registry import aget_provider
from llm.streaming import bound
from llm.types import ChatMessage, ChatRequest
from tests.support.sse_client import post_chat

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
LONG_ANSWER = [{"role": "user", "content": "Count from 1 to 100, separated by commas."}]


def test_completion_through_the_gateway(client, local_provider):
    response = client.post(
        "/api/v1/llm/chat/completions",
        {"messages": QUESTION, "max_tokens": 32, "temperature": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == local_provider.alias
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 32
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streamed_completion_through_the_gateway(live_local_gateway, local_provider):
    result = post_chat(
        live_local_gateway.url,
        {"messages": QUESTION, "max_tokens": 32, "temperature": 0, "stream": True},
        timeout=120,
    )
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.events[-1] == "[DONE]"
    chunks = result.events[:-1]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) > 1  # streamed token by token, not as one block
    assert result.text.strip()
    finish_reasons = [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert finish_reasons in (["stop"], ["length"])


def test_openai_sdk_against_the_gateway(live_local_gateway, local_provider):
    client = openai.OpenAI(
        base_url=f"{live_local_gateway.url}/api/v1/llm", api_key="unused", max_retries=0, timeout=120
    )

    assert local_provider.alias in [model.id for model in client.models.list()]

    completion = client.chat.completions.create(
        model=local_provider.alias, messages=QUESTION, max_tokens=32, temperature=0
    )
    assert completion.choices[0].message.content.strip()
    assert 0 < completion.usage.completion_tokens <= 32

    stream = client.chat.completions.create(
        model=local_provider.alias, messages=QUESTION, max_tokens=32, temperature=0, stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_models_lists_the_real_model(client, local_provider):
    response = client.get("/api/v1/llm/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == [local_provider.alias]


def test_status_shows_the_real_model_available(client, local_provider):
    response = client.get("/api/v1/llm/status")
    assert response.status_code == 200
    lm_studio = next(p for p in response.json()["providers"] if p["name"] == "lm_studio")
    assert lm_studio["available"] is True
    assert lm_studio["default"] is True
    assert lm_studio["base_url"] == local_provider.base_url
    assert lm_studio["default_model"] == local_provider.alias
    assert local_provider.alias in lm_studio["models"]


def test_health_reports_the_llm_available(client, local_provider):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["components"]["llm"]["available"] is True
    assert body["components"]["llm"]["provider"] == "lm_studio"
    assert body["components"]["llm"]["model"] == local_provider.alias


def test_gateway_stream_stops_at_the_configured_bound(live_local_gateway, local_provider, settings):
    settings.LLM_STREAM_MAX_TOKENS = 5
    result = post_chat(
        live_local_gateway.url,
        {"messages": LONG_ANSWER, "max_tokens": 200, "temperature": 0, "stream": True},
        timeout=120,
    )
    assert result.status == 200
    assert result.events[-1] == "[DONE]"
    chunks = result.events[:-1]
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) == 5
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]] == [
        "length"
    ]


async def test_bound_stops_a_real_model_stream_at_its_bound(local_provider):
    provider = await aget_provider(None)
    request = ChatRequest(messages=(ChatMessage("user", LONG_ANSWER[0]["content"]),), max_tokens=200, temperature=0)

    chunks = [chunk async for chunk in bound(provider.stream(request), max_tokens=3)]

    assert sum(1 for chunk in chunks if chunk.delta) == 3
    assert chunks[-1].finish_reason == "length"
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == ["length"]
