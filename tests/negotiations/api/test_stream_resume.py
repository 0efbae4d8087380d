"""Resuming the stream: a viewer that leaves after k events and comes back with `Last-Event-ID: <k-th seq>`
(or `?lastEventId=`) gets exactly the rest, so the two pieces put together equal an uninterrupted
viewer's stream — at every k on a finished negotiation, and in the middle of a live one."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fake_provider import Stall
from tests.support.negotiation_api import api_client, bearer, visible_log, watch

pytestmark = pytest.mark.django_db(transaction=True)


def events_of(frames) -> list[tuple[str, str, str]]:
    """What a client keeps: logged events (id, type, data) and the end frame."""
    return [(f.id, f.event, f.data) for f in frames if f.id is not None or f.event == "end"]


async def finished_negotiation(api) -> tuple[int, dict[str, str]]:
    created = await api.negotiation(
        start=True,
        buyer={"limit_price": "450.00", "mode": "narrate"},
        seller={"limit_price": "350.00", "mode": "narrate"},
    )
    negotiation_id, tokens = created["id"], created["tokens"]
    async with watch(api.client, negotiation_id, bearer(tokens["observer"])) as reader:
        await reader.read_to_end()  # ends when the negotiation does
    return negotiation_id, tokens


@pytest.mark.parametrize("role", ["observer", "buyer"])
async def test_leaving_after_any_k_events_and_resuming_with_last_event_id_loses_and_repeats_nothing(server, role):
    async with api_client(server) as api:
        negotiation_id, tokens = await finished_negotiation(api)
        async with watch(api.client, negotiation_id, bearer(tokens[role])) as reader:
            whole = events_of(await reader.read_to_end())
        assert len(whole) - 1 == len(await visible_log(negotiation_id, role)) >= 6
        for k in range(0, len(whole) - 1):
            async with watch(api.client, negotiation_id, bearer(tokens[role])) as reader:
                first = events_of(await reader.events(k)) if k else []
            resume = {"Last-Event-ID": first[-1][0]} if first else {}
            async with watch(api.client, negotiation_id, {**bearer(tokens[role]), **resume}) as reader:
                rest = events_of(await reader.read_to_end())
            assert first + rest == whole, f"resuming after {k} events"


async def test_the_lasteventid_query_parameter_resumes_too_and_the_header_wins_over_it(server):
    async with api_client(server) as api:
        negotiation_id, tokens = await finished_negotiation(api)
        token = tokens["observer"]
        async with watch(api.client, negotiation_id, bearer(token)) as reader:
            whole = events_of(await reader.read_to_end())
        third, fifth = whole[2][0], whole[4][0]
        async with watch(api.client, negotiation_id, params={"token": token, "lastEventId": third}) as reader:
            assert events_of(await reader.read_to_end()) == whole[3:]
        # An EventSource created with ?lastEventId= keeps that URL and sends the header when it reconnects.
        async with watch(
            api.client, negotiation_id, {"Last-Event-ID": fifth}, params={"token": token, "lastEventId": third}
        ) as reader:
            assert events_of(await reader.read_to_end()) == whole[5:]
        # An empty header (a client that saw no id yet) means "from the start".
        async with watch(api.client, negotiation_id, {**bearer(token), "Last-Event-ID": ""}) as reader:
            assert events_of(await reader.read_to_end()) == whole


async def test_a_viewer_that_drops_mid_negotiation_and_reconnects_gets_exactly_the_rest(server, api_llm):
    # Each LLM call takes 100 ms, so the negotiation is still running when the viewer comes back.
    api_llm.respond = lambda request: Stall(0.1, "Let me see what I can do.")
    async with api_client(server) as api:
        created = await api.negotiation(
            buyer={"limit_price": "450.00", "mode": "narrate"},
            seller={"limit_price": "350.00", "mode": "narrate"},
            max_rounds=5,
        )
        negotiation_id, token = created["id"], created["tokens"]["buyer"]

        async def uninterrupted(opened: asyncio.Event) -> list:
            async with watch(api.client, negotiation_id, bearer(token)) as reader:
                opened.set()
                return await reader.read_to_end(timeout=30)

        opened = asyncio.Event()
        steady = asyncio.create_task(uninterrupted(opened))
        await opened.wait()
        async with watch(api.client, negotiation_id, bearer(token)) as reader:
            await api.start(negotiation_id, token)
            first = events_of(await reader.events(3))
        status = (await api.client.get(f"/api/v1/negotiations/{negotiation_id}", headers=bearer(token))).json()[
            "status"
        ]
        assert status == "running", "the viewer left while the negotiation went on"
        async with watch(api.client, negotiation_id, {**bearer(token), "Last-Event-ID": first[-1][0]}) as reader:
            rest = events_of(await reader.read_to_end(timeout=30))
        whole = events_of(await asyncio.wait_for(steady, 30))
        assert first + rest == whole
        assert [int(i) for i, _, _ in whole[:-1]] == [e["seq"] for e in await visible_log(negotiation_id, "buyer")]
