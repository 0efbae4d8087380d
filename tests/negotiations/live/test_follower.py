"""LogFollower, without a database or a server: every logged event a viewer may see is passed on exactly
once and in seq order however live items arrive (late, twice, out of order, dropped, or after a Gap); an
event beyond the cursor or a Gap makes it re-read the log; events and deltas it may not see are never
passed on; a delta of a turn whose message was passed on is stale; the outcome ends the follow."""

from __future__ import annotations

import random
from typing import Any

import pytest

from marketplace.errors import NotFoundError
from negotiations.live import follower as follower_module
from negotiations.live.broadcast import Gap, TokenDelta
from negotiations.live.follower import LogFollower
from negotiations.models import Event
from negotiations.visibility import Viewer, can_view

NEGOTIATION = 1
VISIBILITIES = ("public", "buyer", "seller", "staff")


class FakeLog:
    """A negotiation's log in memory, read the way `_replay_read` reads the database: status and head,
    then the events after the cursor that the viewer may see (by the one rule, `can_view`)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.status: str | None = "running"
        self.reads = 0

    def append(self, type: str = "message", visibility: str = "public", **data: Any) -> Event:
        event = Event(
            negotiation_id=NEGOTIATION,
            seq=len(self.events) + 1,
            type=type,
            actor=data.pop("actor", "buyer"),
            visibility=visibility,
            data=data,
        )
        self.events.append(event)
        return event

    async def db_read(self, fn, negotiation_id: int, viewer: Viewer, after: int):
        assert fn is follower_module._replay_read and negotiation_id == NEGOTIATION
        self.reads += 1
        head = self.events[-1].seq if self.events else 0
        visible = [e for e in self.events if e.seq > after and can_view(viewer, e)]
        return follower_module._Replay(self.status, head, visible)


@pytest.fixture
def log(monkeypatch) -> FakeLog:
    fake = FakeLog()
    monkeypatch.setattr(follower_module, "db_read", fake.db_read)
    return fake


def delta(turn: int, visibility: str = "public", text: str = "How ") -> TokenDelta:
    return TokenDelta(NEGOTIATION, "seller", visibility, turn, 1, text)


def seqs(items) -> list[int]:
    return [item.seq for item in items]


async def test_catch_up_returns_the_visible_log_after_the_resume_point_and_moves_the_cursor_to_its_head(log):
    log.append(turn=1)
    log.append("thought", "buyer")
    log.append(turn=2)
    log.append("thought", "seller")  # the head: invisible to the buyer, still accounted for
    follower = LogFollower(NEGOTIATION, Viewer.buyer(), after=1)
    assert seqs(await follower.catch_up()) == [2, 3]
    assert follower.cursor == 4 and follower.last_turn == 2 and follower.ended_as is None


async def test_a_live_event_already_read_from_the_log_is_not_passed_on_again(log):
    first, second = log.append(turn=1), log.append(turn=2)
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    assert seqs(await follower.catch_up()) == [1, 2]
    assert await follower.take(first) == [] and await follower.take(second) == []
    assert log.reads == 1


async def test_the_next_live_event_is_passed_on_once_without_reading_the_log(log):
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    event = log.append(turn=1)
    assert await follower.take(event) == [event]
    assert await follower.take(event) == []
    assert follower.cursor == 1 and log.reads == 1


async def test_a_live_event_beyond_the_cursor_makes_it_re_read_the_log_and_fill_the_gap_in_order(log):
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    dropped, late = log.append(turn=1), log.append(turn=2)
    ahead = log.append(turn=3)
    assert seqs(await follower.take(ahead)) == [1, 2, 3]
    assert log.reads == 2
    assert await follower.take(dropped) == [] and await follower.take(late) == []


async def test_a_gap_makes_it_re_read_the_log_after_the_cursor(log):
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    seen = log.append(turn=1)
    assert await follower.take(seen) == [seen]
    log.append(turn=2)
    log.append(turn=3)
    assert seqs(await follower.take(Gap())) == [2, 3]
    assert await follower.take(Gap()) == []
    assert log.reads == 3


async def test_a_live_event_it_may_not_see_is_not_passed_on_but_moves_the_cursor(log):
    follower = LogFollower(NEGOTIATION, Viewer.buyer(), after=0)
    await follower.catch_up()
    private = log.append("thought", "seller")
    assert await follower.take(private) == []
    assert follower.cursor == 1
    public = log.append(turn=1)
    assert await follower.take(public) == [public]
    assert log.reads == 1, "the hidden event was accounted for: no gap, no re-read"


@pytest.mark.parametrize(
    ("viewer", "passed"),
    [
        ("buyer", {"public", "buyer"}),
        ("seller", {"public", "seller"}),
        ("observer", {"public"}),
        ("staff", set(VISIBILITIES)),
    ],
)
async def test_deltas_are_passed_on_only_where_the_viewer_may_see_them(log, viewer, passed):
    follower = LogFollower(NEGOTIATION, Viewer(viewer), after=0)
    await follower.catch_up()
    got = set()
    for visibility in VISIBILITIES:
        piece = delta(1, visibility)
        taken = await follower.take(piece)
        assert taken in ([], [piece])
        got |= {visibility} if taken else set()
    assert got == passed
    assert log.reads == 1


async def test_a_delta_is_passed_on_once_each_time_it_arrives_until_its_message_is_logged(log):
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    pieces = [delta(1, text=word) for word in ("How ", "about ", "that?")]
    assert [await follower.take(p) for p in pieces] == [[p] for p in pieces]
    message = log.append(turn=1, actor="seller")
    assert await follower.take(message) == [message]
    assert await follower.take(delta(1, text="late ")) == [], "the message replaced the draft"
    following = delta(2, text="Fine ")
    assert await follower.take(following) == [following]


async def test_a_delta_of_a_turn_whose_message_came_from_the_log_is_stale(log):
    log.append(turn=1)
    log.append(turn=2)
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    assert await follower.take(delta(2)) == [] and await follower.take(delta(1)) == []
    assert await follower.take(delta(3)) == [delta(3)]


async def test_the_outcome_ends_the_follow_live_and_from_the_log(log):
    follower = LogFollower(NEGOTIATION, Viewer.observer(), after=0)
    await follower.catch_up()
    outcome = log.append("outcome", result="agreed")
    assert await follower.take(outcome) == [outcome]
    assert follower.ended_as == "agreed"

    log.status = "no_deal"
    late_viewer = LogFollower(NEGOTIATION, Viewer.observer(), after=outcome.seq)
    assert await late_viewer.catch_up() == []
    assert late_viewer.ended_as == "no_deal", "a finished negotiation is over even with nothing left to send"


async def test_a_negotiation_that_no_longer_exists_is_not_found(log):
    log.status = None
    with pytest.raises(NotFoundError):
        await LogFollower(NEGOTIATION, Viewer.observer(), after=0).catch_up()


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("viewer", ["buyer", "seller", "observer", "staff"])
async def test_however_live_items_arrive_each_visible_event_is_passed_on_exactly_once_in_order(log, seed, viewer):
    """Events are committed one by one; each is offered live on time, late, twice or not at all, and
    Gaps come at random; at the end the stream's poll (a Gap) catches up. Deltas of every turn flow too."""
    rng = random.Random(seed)
    follower = LogFollower(NEGOTIATION, Viewer(viewer), after=0)
    passed: list[Any] = list(await follower.catch_up())
    held: list[Any] = []
    turn = 0

    async def offer(item: Any) -> None:
        passed.extend(await follower.take(item))

    for _ in range(rng.randint(1, 30)):
        if rng.random() < 0.5:
            turn += 1
            for _ in range(rng.randint(0, 3)):  # the drafts go out before the message; some arrive after it
                piece = delta(turn, rng.choice(VISIBILITIES))
                if rng.random() < 0.3:
                    held.append(piece)
                else:
                    await offer(piece)
            event = log.append(turn=turn, actor=rng.choice(["buyer", "seller"]))
        else:
            event = log.append(rng.choice(["thought", "guardrail"]), rng.choice(VISIBILITIES))
        fate = rng.random()
        if fate < 0.5:
            await offer(event)
        elif fate < 0.65:
            await offer(event)
            await offer(event)
        elif fate < 0.8:
            held.append(event)
        elif fate < 0.9:
            await offer(Gap())
        # else: dropped without a word
        rng.shuffle(held)
        while held and rng.random() < 0.5:
            await offer(held.pop())
    for item in held:
        await offer(item)
    await offer(Gap())

    events = [item for item in passed if isinstance(item, Event)]
    expected = [e.seq for e in log.events if can_view(Viewer(viewer), e)]
    assert seqs(events) == expected, "every visible event, once, in seq order"
    assert follower.cursor == len(log.events)
    last_turn = 0
    for item in passed:
        if isinstance(item, Event):
            if item.type == "message":
                last_turn = item.data["turn"]
        else:
            assert can_view(Viewer(viewer), item), "no delta the viewer may not see"
            assert item.turn > last_turn, "no delta of a turn whose message was already passed on"
