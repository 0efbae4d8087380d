"""The in-process asyncio runner: background tasks, submit from sync code under ASGI, cancel, resume."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from marketplace.errors import ConflictError
from negotiations.engine.asyncio_runner import AsyncioRunner
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.runners import NegotiationRunner, get_runner, set_runner
from negotiations.exceptions import NegotiationCapacityError
from negotiations.services import negotiation_resume, negotiation_start
from tests.support.fake_provider import FakeProvider, Stall
from tests.support.negotiations import make_negotiation, reload

pytestmark = pytest.mark.django_db(transaction=True)


def runner_with(provider: FakeProvider) -> AsyncioRunner:
    return AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=provider.resolve))


async def test_start_service_launches_the_negotiation_on_the_running_loop():
    runner = runner_with(FakeProvider())
    negotiation, _ = await sync_to_async(make_negotiation)(start=False)
    # As a sync view under ASGI would: the service runs in a worker thread, the task on the server loop.
    await sync_to_async(negotiation_start)(negotiation=negotiation, runner=runner)
    async with asyncio.timeout(5):
        while not runner.active_ids() and (await reload(negotiation.pk))[0].status == "running":
            await asyncio.sleep(0.01)
        await runner.join(negotiation.pk)
    negotiation, _ = await reload(negotiation.pk)
    assert negotiation.status == "agreed"
    assert not runner.is_active(negotiation.pk)


async def test_submitting_twice_runs_one_task():
    provider = FakeProvider(respond=lambda r: Stall(0.05, "Let me think."))
    runner = runner_with(provider)
    negotiation, _ = await sync_to_async(make_negotiation)(
        buyer={"mode": "narrate"}, seller={"mode": "narrate"}, max_rounds=1
    )
    first = runner.start(negotiation.pk)
    runner.submit(negotiation.pk)
    assert runner.active_ids() == {negotiation.pk}
    await runner.join(negotiation.pk, timeout=5)
    assert first.done()
    _, events = await reload(negotiation.pk)
    assert [e.data["turn"] for e in events if e.type == "message"] == [1, 2]


async def test_resume_service_restarts_a_negotiation_whose_task_died():
    negotiation, _ = await sync_to_async(make_negotiation)()
    await NegotiationEngine(provider_resolver=FakeProvider().resolve).run(
        negotiation.pk, max_turns=2
    )  # then "the process died"
    runner = runner_with(FakeProvider())
    await sync_to_async(negotiation_resume)(negotiation=negotiation, runner=runner)
    await asyncio.sleep(0)
    await runner.join(negotiation.pk, timeout=5)
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.status == "agreed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_shutdown_cancels_every_task_and_the_log_stays_resumable():
    provider = FakeProvider(respond=lambda r: Stall(30))
    runner = runner_with(provider)
    negotiation, _ = await sync_to_async(make_negotiation)(buyer={"mode": "narrate"}, seller={"mode": "narrate"})
    runner.start(negotiation.pk)
    async with asyncio.timeout(5):
        while not provider.requests:
            await asyncio.sleep(0.01)
        await runner.shutdown()
    negotiation, events = await reload(negotiation.pk)
    assert negotiation.status == "running" and len(events) == 1


def test_submit_without_an_event_loop_says_how_to_run_instead():
    with pytest.raises(RuntimeError, match="foreground"):
        AsyncioRunner().submit(1)


def test_the_default_runner_is_an_asyncio_runner_and_can_be_replaced():
    previous = set_runner(None)
    try:
        runner = get_runner()
        assert isinstance(runner, AsyncioRunner) and isinstance(runner, NegotiationRunner)
        assert get_runner() is runner
    finally:
        set_runner(previous)


# --- capacity ------------------------------------------------------------------------------------------
async def test_the_runner_refuses_a_start_beyond_its_capacity_and_a_finished_task_frees_its_place():
    provider = FakeProvider(respond=lambda r: Stall(30))
    runner = AsyncioRunner(engine_factory=lambda: NegotiationEngine(provider_resolver=provider.resolve), max_active=2)
    playing = [(await sync_to_async(make_negotiation)(start=False, buyer={"mode": "narrate"}))[0] for _ in range(2)]
    third, _ = await sync_to_async(make_negotiation)(start=False)
    for negotiation in playing:
        await sync_to_async(negotiation_start)(negotiation=negotiation, runner=runner)
    with pytest.raises(NegotiationCapacityError) as refused:
        await sync_to_async(negotiation_start)(negotiation=third, runner=runner)
    assert (refused.value.http_status, refused.value.code) == (429, "NEGOTIATION_CAPACITY")
    third, events = await reload(third.pk)
    assert third.status == "pending" and events == [], "a refused start writes nothing"
    async with asyncio.timeout(5):
        while len(runner.active_ids()) < 2:
            await asyncio.sleep(0.01)
    runner.cancel(playing[0].pk)
    await runner.join(playing[0].pk, timeout=5)
    await sync_to_async(negotiation_start)(negotiation=third, runner=runner)  # a place is free again
    assert (await reload(third.pk))[0].status == "running"
    await runner.shutdown()


def test_a_reservation_counts_until_its_task_takes_it_or_it_is_released(monkeypatch):
    runner = AsyncioRunner(max_active=1)
    assert runner.reserve(1) and runner.reserve(1), "reserving the same negotiation again is fine"
    assert not runner.reserve(2)
    runner.release(1)
    assert runner.reserve(2)
    monkeypatch.setattr(
        "negotiations.engine.asyncio_runner.RESERVATION_SECONDS", 0.0
    )  # a start whose commit never came
    assert runner.reserve(3)


def test_zero_means_no_limit():
    runner = AsyncioRunner(max_active=0)
    assert all(runner.reserve(n) for n in range(1, 500))


def test_a_start_that_fails_gives_its_place_back(django_capture_on_commit_callbacks):
    runner = AsyncioRunner(max_active=1)
    negotiation, _ = make_negotiation()  # already running: starting it again is a conflict
    with pytest.raises(ConflictError):
        negotiation_start(negotiation=negotiation, runner=runner)
    assert runner.reserve(negotiation.pk + 1), "the conflict released the place it had reserved"
