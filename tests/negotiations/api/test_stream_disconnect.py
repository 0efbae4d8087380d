"""Viewers that leave or lag: through Django's ASGI handler (ApplicationCommunicator, as Django's own
tests/asgi/tests.py does), a viewer that disconnects mid-stream ends its generator and releases its
subscription within a second, without disturbing the negotiation or another viewer; a viewer whose
client does not read holds up no one, and when it reads again it gets everything, exactly once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from marketplace.asgi import application
from negotiations.live.broadcast import get_broadcaster
from negotiations.models import Event, Negotiation
from negotiations.services import negotiation_start
from tests.support.fake_provider import Stall
from tests.support.negotiation_api import parse_block, visible_log, wait_for
from tests.support.negotiations import make_negotiation

pytestmark = pytest.mark.django_db(transaction=True)

NARRATED = {"buyer": {"mode": "narrate"}, "seller": {"mode": "narrate"}}


def stream_scope(negotiation_id: int, token: str) -> dict[str, Any]:
    path = f"/api/v1/negotiations/{negotiation_id}/stream"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def frames_of(body: bytes) -> list:
    assert body.endswith(b"\n\n")
    return [parse_block(block) for block in body[:-2].split(b"\n\n")]


def logged_events(frames: list) -> list[dict]:
    return [f.json() for f in frames if f.id is not None]


async def open_stream(app, negotiation_id: int, token: str) -> tuple[ApplicationCommunicator, bytes]:
    communicator = ApplicationCommunicator(app, stream_scope(negotiation_id, token))
    await communicator.send_input({"type": "http.request"})
    start = await communicator.receive_output(timeout=5)
    assert start["type"] == "http.response.start" and start["status"] == 200
    first = await communicator.receive_output(timeout=5)
    assert first["body"].startswith(b"retry: ")
    return communicator, first["body"]


async def read_until_end(communicator: ApplicationCommunicator, body: bytes, timeout: float = 30) -> bytes:
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_output(timeout=timeout)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return body


async def test_a_viewer_leaving_mid_stream_ends_its_generator_within_a_second_and_disturbs_no_one(runner, api_llm):
    api_llm.respond = lambda request: Stall(0.05, "Let me see what I can do.")
    negotiation, tokens = await sync_to_async(make_negotiation)(**NARRATED, start=False, max_rounds=5)
    app = application
    broadcaster = get_broadcaster()
    leaver, _ = await open_stream(app, negotiation.pk, tokens["observer"])
    stayer, stayer_body = await open_stream(app, negotiation.pk, tokens["observer"])
    assert broadcaster.subscriber_count(negotiation.pk) == 2

    await sync_to_async(negotiation_start)(negotiation=negotiation)  # the runner plays it on this loop
    live = await leaver.receive_output(timeout=5)
    assert b"id: 1\nevent: status" in live["body"], "the leaver was receiving live events"
    await leaver.send_input({"type": "http.disconnect"})
    left_at = time.monotonic()
    await wait_for(lambda: broadcaster.subscriber_count(negotiation.pk) == 1, timeout=1.0)
    await leaver.wait(timeout=1.0)  # the whole request, generator included, is over
    assert time.monotonic() - left_at < 1.0
    assert runner.is_active(negotiation.pk), "the negotiation goes on"
    with pytest.raises(asyncio.TimeoutError):  # nothing more is sent to a client that left
        await leaver.receive_output(timeout=0.2)

    frames = frames_of(await read_until_end(stayer, stayer_body))
    assert frames[-1].event == "end"
    assert logged_events(frames) == await visible_log(negotiation.pk, "observer")
    negotiation = await Negotiation.objects.aget(pk=negotiation.pk)
    assert negotiation.is_finished and negotiation.status != "failed"
    seqs = [
        seq async for seq in Event.objects.filter(negotiation=negotiation).order_by("seq").values_list("seq", flat=True)
    ]
    assert seqs == list(range(1, len(seqs) + 1))
    assert broadcaster.subscriber_count(negotiation.pk) == 0


async def test_a_viewer_that_does_not_read_delays_no_one_and_later_gets_everything_exactly_once(runner, settings):
    # A tiny live queue: the stalled viewer overflows it and must fall back to the log.
    settings.NEGOTIATION_STREAM_QUEUE_SIZE = 4
    negotiation, tokens = await sync_to_async(make_negotiation)(**NARRATED, start=False, max_rounds=5)
    app = application
    reading = asyncio.Event()
    slow_messages: list[dict] = []

    async def stalled_client_send(message: dict) -> None:
        slow_messages.append(message)
        if message.get("body"):
            await reading.wait()  # like a full socket: the server's send does not return

    requests: asyncio.Queue = asyncio.Queue()
    await requests.put({"type": "http.request", "body": b"", "more_body": False})
    slow = asyncio.create_task(app(stream_scope(negotiation.pk, tokens["buyer"]), requests.get, stalled_client_send))
    await wait_for(lambda: len(slow_messages) == 2)  # response start + the retry frame, then it is stuck
    fast, fast_body = await open_stream(app, negotiation.pk, tokens["buyer"])

    await sync_to_async(negotiation_start)(negotiation=negotiation)
    fast_frames = frames_of(await read_until_end(fast, fast_body))
    expected = await visible_log(negotiation.pk, "buyer")
    assert logged_events(fast_frames) == expected and fast_frames[-1].event == "end"
    assert len(expected) > settings.NEGOTIATION_STREAM_QUEUE_SIZE
    assert len(slow_messages) == 2, "the stalled viewer got nothing more meanwhile"

    reading.set()
    await asyncio.wait_for(slow, 10)
    slow_body = b"".join(m.get("body", b"") for m in slow_messages)
    slow_frames = frames_of(slow_body)
    assert logged_events(slow_frames) == expected, "no gap, no duplicate after the overflow"
    assert slow_frames[-1].event == "end"
    assert get_broadcaster().subscriber_count(negotiation.pk) == 0
