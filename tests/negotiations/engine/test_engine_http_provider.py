"""The engine through the real provider layer (registry, OpenAI-compatible client, HTTP) against the fake
OpenAI-compatible server: words stream in over HTTP, and upstream faults fall back to the phrase bank."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from negotiations.agents.phrases import PHRASES, phrase_matches
from negotiations.engine.engine import NegotiationEngine
from tests.negotiations.engine.test_engine_guardrails import assert_invariants
from tests.support.llm_fixtures import fake_upstream  # noqa: F401 - fixture: the default provider on the fake server
from tests.support.negotiations import guardrails, make_negotiation, messages, reload

pytestmark = pytest.mark.django_db(transaction=True)
FAKE_SENTENCE = "Hello wörld 世界 🙂 from the fake server"  # its default 8 tokens


@pytest.fixture
def llm_server(fake_upstream):
    """The default provider (`lm_studio`) served by the fake OpenAI-compatible server."""
    return fake_upstream


@pytest.mark.parametrize("mode", ["narrate", "llm"])
async def test_a_negotiation_runs_on_the_default_provider_over_http(llm_server, mode):
    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": mode}, seller={"mode": mode}, max_rounds=4)
    await NegotiationEngine().run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.status == "agreed"
    assert_invariants(negotiation, events)
    assert llm_server.attempts(path="/v1/chat/completions") >= len(messages(events))
    # The fake's sentence names no price: every offer's drafts are refused, and a phrase names the price.
    offers = [m for m in messages(events) if m.data["action"] == "offer"]
    assert offers and all(m.data["text"] != FAKE_SENTENCE for m in offers)
    assert all(g.data["rejected_text"] == FAKE_SENTENCE for g in guardrails(events, "missing_own_price"))
    assert all(
        any(phrase_matches(p, m.data["text"]) for p in PHRASES[("seller", "open")] + PHRASES[(m.actor, "offer")])
        for m in offers
    )
    if mode == "llm":  # the fake writes no proposal: every move falls back to the strategy
        assert len(guardrails(events, "invalid_proposal")) == len(messages(events))


@pytest.mark.parametrize("behaviour", ["error-mid-stream:3", "drop-after:2", "status:503", "stall-after-first"])
async def test_upstream_faults_fall_back_to_the_phrase_bank(llm_server, behaviour):
    # The fake server picks its behaviour from the requested model name.
    negotiation, _ = await sync_to_async(make_negotiation)(
        buyer={"mode": "rule"}, seller={"mode": "narrate", "model": behaviour}, max_rounds=2
    )
    await NegotiationEngine(llm_timeout=3).run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.is_finished and negotiation.status != "failed"
    seller_messages = [m for m in messages(events) if m.actor == "seller"]
    failures = guardrails(events, "llm_unavailable")
    assert len(failures) == len(seller_messages) and all(f.actor == "seller" for f in failures)
    phrases = [p for (role, _kind), options in PHRASES.items() if role == "seller" for p in options]
    assert all(any(phrase_matches(p, m.data["text"]) for p in phrases) for m in seller_messages)
