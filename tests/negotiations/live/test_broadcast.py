"""The in-process broadcaster: fan-out, bounded queues with a Gap marker, thread-safe publishing."""

import asyncio
import threading

from negotiations.live.broadcast import Broadcaster, Gap, TokenDelta


def delta(text: str, negotiation_id: int = 1) -> TokenDelta:
    return TokenDelta(negotiation_id, "seller", "public", 1, 1, text)


async def test_every_subscriber_of_a_negotiation_gets_each_item_in_order():
    broadcaster = Broadcaster()
    async with broadcaster.subscribe(1) as first, broadcaster.subscribe(1) as second, broadcaster.subscribe(2) as other:
        broadcaster.publish_delta(delta("a"))
        broadcaster.publish_delta(delta("b"))
        assert [(await first.get(1)).text, (await first.get(1)).text] == ["a", "b"]
        assert [(await second.get(1)).text, (await second.get(1)).text] == ["a", "b"]
        assert await other.get(timeout=0.05) is None


async def test_leaving_the_block_unsubscribes():
    broadcaster = Broadcaster()
    async with broadcaster.subscribe(1):
        assert broadcaster.subscriber_count(1) == 1
    assert broadcaster.subscriber_count(1) == 0
    broadcaster.publish_delta(delta("nobody listens"))  # must not fail


async def test_a_full_queue_is_replaced_by_a_gap_so_the_subscriber_rereads_the_log():
    broadcaster = Broadcaster(queue_size=3)
    async with broadcaster.subscribe(1) as subscription:
        for i in range(5):
            broadcaster.publish_delta(delta(str(i)))
        items = [await subscription.get(0.1) for _ in range(4)]
    assert isinstance(items[0], Gap)
    assert [i.text for i in items[1:] if i is not None] == ["3", "4"]
    assert subscription.dropped == 3


async def test_publishing_from_another_thread_reaches_the_subscribers_loop():
    broadcaster = Broadcaster()
    async with broadcaster.subscribe(1) as subscription:
        thread = threading.Thread(target=broadcaster.publish_events, args=(1, ["event-a", "event-b"]))
        thread.start()
        thread.join()
        assert [await subscription.get(1), await subscription.get(1)] == ["event-a", "event-b"]


async def test_get_times_out_so_callers_can_send_heartbeats():
    async with Broadcaster().subscribe(1) as subscription:
        assert await asyncio.wait_for(subscription.get(timeout=0.05), 2) is None


async def test_get_nowait_takes_a_waiting_item_or_returns_none_at_once():
    broadcaster = Broadcaster()
    async with broadcaster.subscribe(1) as subscription:
        assert subscription.get_nowait() is None
        broadcaster.publish_delta(delta("a"))
        broadcaster.publish_delta(delta("b"))
        assert [subscription.get_nowait().text, subscription.get_nowait().text, subscription.get_nowait()] == [
            "a",
            "b",
            None,
        ]


async def test_deltas_of_one_draft_are_merged_over_the_coalescing_window_in_order():
    broadcaster = Broadcaster(delta_coalesce_seconds=0.05)
    async with broadcaster.subscribe(1) as subscription:
        for text in ("How ", "about ", "$400?"):
            broadcaster.publish_delta(delta(text))
        assert subscription.get_nowait().text == "How ", "the first piece goes out at once"
        assert subscription.get_nowait() is None, "the rest is held for the window"
        merged = await subscription.get(timeout=2)
        assert (merged.text, merged.turn, merged.attempt) == ("about $400?", 1, 1)
        broadcaster.publish_delta(delta("one"))
        broadcaster.publish_delta(delta(" two"))
        broadcaster.publish_delta(TokenDelta(1, "seller", "public", 1, 2, "redo"))  # a regenerated draft
        broadcaster.publish_delta(TokenDelta(1, "seller", "public", 1, 2, " more"))
        broadcaster.publish_events(1, ["the message event"])  # ends the draft: held text first
        items = [subscription.get_nowait() for _ in range(6)]
    assert [getattr(i, "text", i) for i in items] == ["one", " two", "redo", " more", "the message event", None]
