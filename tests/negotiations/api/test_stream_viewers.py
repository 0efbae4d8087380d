"""A whole negotiation driven over HTTP (scripted fake LLM) and watched at once by the buyer, the seller,
an observer and staff: each sees exactly the events its visibility allows, live and on replay, in seq
order with no gap or duplicate, live deltas only where it may see them, and the same events as the
JSON history; then the end frame, and the server closes."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.negotiation_api import (
    PROPOSER,
    ROLES,
    api_client,
    deltas,
    logged,
    staff_headers,
    viewer_headers,
    visible_log,
    watch,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The buyer proposes with its LLM (its drafts are private to its side); the seller narrates (public drafts).
SIDES = {
    "buyer": {"limit_price": "450.00", "mode": "llm", "model": PROPOSER},
    "seller": {"limit_price": "350.00", "mode": "narrate"},
}
ALLOWED_VISIBILITIES = {
    "buyer": {"public", "buyer"},
    "seller": {"public", "seller"},
    "observer": {"public"},
    "staff": {"public", "buyer", "seller", "staff"},
}


def event_frames(frames) -> list[tuple[int, str, dict]]:
    return [(int(f.id), f.event, f.json()) for f in logged(frames)]


async def test_buyer_seller_observer_and_staff_each_see_exactly_their_events_live_and_on_replay(server):
    async with api_client(server) as api:
        created = await api.negotiation(**SIDES, max_rounds=4)
        negotiation_id, tokens = created["id"], created["tokens"]
        staff = await staff_headers()
        headers = {role: viewer_headers(role, tokens, staff) for role in ROLES}
        # The seller watches with ?token= (as EventSource does); the others with headers.
        params = {role: {} for role in ROLES}
        params["seller"], headers["seller"] = {"token": tokens["seller"]}, {}

        async def live(role: str, opened: asyncio.Event, go: asyncio.Event) -> list:
            async with watch(api.client, negotiation_id, headers[role], params[role]) as reader:
                opened.set()
                await go.wait()
                return await reader.read_to_end()

        opened = {role: asyncio.Event() for role in ROLES}
        go = asyncio.Event()
        watchers = [asyncio.create_task(live(role, opened[role], go)) for role in ROLES]
        await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened.values())), 10)
        await api.start(negotiation_id, tokens["buyer"])  # every viewer is subscribed before the first event
        go.set()
        streams = dict(zip(ROLES, await asyncio.wait_for(asyncio.gather(*watchers), 30)))

        final = (await api.client.get(f"/api/v1/negotiations/{negotiation_id}", headers=staff)).json()
        assert final["status"] in {"agreed", "no_deal"}

        for role, frames in streams.items():
            expected = await visible_log(negotiation_id, role)
            got = event_frames(frames)
            seqs = [seq for seq, _, _ in got]
            assert seqs == sorted(set(seqs)), f"{role}: seq order, no duplicates"
            assert [e["seq"] for e in expected] == seqs, f"{role}: exactly the visible events, no gaps"
            assert [(e["seq"], e["type"], e) for e in expected] == got, f"{role}: frames carry the logged events"
            assert {e["visibility"] for e in expected} <= ALLOWED_VISIBILITIES[role]
            assert (
                await api.history(negotiation_id, headers[role] or {"Authorization": f"Bearer {tokens[role]}"})
                == expected
            )
            # Live drafts: no id, only where the viewer may see them.
            assert all(f.id is None for f in frames if f.event == "delta")
            assert {d["visibility"] for d in deltas(frames)} <= ALLOWED_VISIBILITIES[role]
            assert frames[-1].event == "end" and frames[-1].id is None
            assert frames[-1].json() == {"status": final["status"], "last_seq": expected[-1]["seq"]}
            assert frames[-2].event == "outcome"

        # The seller's narration streamed to everyone; the buyer's private drafts to the buyer and staff only.
        for role in ROLES:
            assert any(d["actor"] == "seller" and d["visibility"] == "public" for d in deltas(streams[role]))
        for role in ("buyer", "staff"):
            assert any(d["visibility"] == "buyer" and "<action>" in d["text"] for d in deltas(streams[role]))
        for role in ("seller", "observer"):
            assert not any(d["actor"] == "buyer" and d["visibility"] != "public" for d in deltas(streams[role]))
        # Staff sees strictly more than each side, and each side something the other does not.
        assert len(logged(streams["staff"])) > len(logged(streams["buyer"])) > len(logged(streams["observer"]))
        assert {f.event for f in logged(streams["observer"])} <= {"status", "message", "outcome"}

        # Replay of the finished negotiation: the same events, no deltas, then the end.
        for role in ROLES:
            async with watch(api.client, negotiation_id, headers[role], params[role]) as reader:
                replayed = await reader.read_to_end()
            assert event_frames(replayed) == event_frames(streams[role])
            assert not deltas(replayed)
            assert replayed[-1].event == "end" and replayed[-1].json() == streams[role][-1].json()
            assert [f.event for f in replayed[:1]] == [None]  # the retry hint comes first
