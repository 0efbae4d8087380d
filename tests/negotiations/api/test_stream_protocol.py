"""The stream's protocol under the conditions the broadcaster cannot hide: live events out of order, twice,
or dropped (a Gap), private events that must not be sent, the runner in another process (only the log
tells), pings while nothing happens, a cancel while watching, and negotiations left running by a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from negotiations.engine import recovery
from negotiations.live.broadcast import Broadcaster
from negotiations.live.stream import StreamSettings, viewer_stream
from negotiations.log import event_append
from negotiations.models import Event, Negotiation
from negotiations.services import negotiation_cancel
from negotiations.visibility import Viewer
from tests.support.negotiation_api import api_client, bearer, deltas, logged, visible_log, wait_for, watch
from tests.support.negotiations import make_negotiation

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
QUIET = StreamSettings(ping_seconds=60, retry_ms=1000, poll_seconds=60, queue_size=16)


def subprocess_database_url() -> str:
    """The URL of this run's test database, for a subprocess: SQLite file or PostgreSQL alike."""
    config = connection.settings_dict
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{config['NAME']}"
    scheme = {"django.db.backends.postgresql": "postgres"}[config["ENGINE"]]
    credentials = quote(config["USER"] or "", safe="") + (
        f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else ""
    )
    host = config["HOST"] or "localhost"
    port = f":{config['PORT']}" if config["PORT"] else ""
    return f"{scheme}://{credentials}{'@' if credentials else ''}{host}{port}/{quote(config['NAME'], safe='')}"


class Collector:
    """Runs `viewer_stream` as a task and collects its frames."""

    def __init__(self, **kwargs) -> None:
        self.chunks: list[bytes] = []
        self.task = asyncio.create_task(self._run(viewer_stream(**kwargs)))

    async def _run(self, stream) -> None:
        async for chunk in stream:
            self.chunks.append(chunk)

    def frames(self) -> list[tuple[str | None, str | None]]:
        """(id, event) of each frame sent so far."""
        out = []
        for block in b"".join(self.chunks).split(b"\n\n")[:-1]:
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
            out.append((fields.get("id"), fields.get("event")))
        return out


def append(negotiation: Negotiation, visibility: str = "public") -> Event:
    return event_append(negotiation=negotiation, type="status", actor="system", visibility=visibility, data={"n": 1})


async def test_live_events_out_of_order_or_twice_are_sent_once_in_seq_order_and_a_gap_rereads_the_log():
    negotiation, _ = await sync_to_async(make_negotiation)()  # running, seq 1 logged
    broadcaster = Broadcaster()
    viewer = Collector(
        negotiation_id=negotiation.pk, viewer=Viewer.observer(), stream_settings=QUIET, broadcaster=broadcaster
    )
    await wait_for(lambda: viewer.frames() == [(None, None), ("1", "status")])
    two, three, four = [await sync_to_async(append)(negotiation) for _ in range(3)]
    broadcaster.publish_events(negotiation.pk, [four, two, three, two])  # 4 first: 2 and 3 are in the log
    await wait_for(lambda: len(viewer.frames()) == 5)
    five = await sync_to_async(append)(negotiation)
    # Five is never published live; a burst that overflows the viewer's queue leaves a Gap and old items.
    broadcaster.publish_events(negotiation.pk, [two] * (QUIET.queue_size + 1))
    await wait_for(lambda: len(viewer.frames()) == 6)
    cancelled = await sync_to_async(negotiation_cancel)(negotiation=negotiation)
    ending = list(await sync_to_async(lambda: list(Event.objects.filter(negotiation=cancelled, seq__gt=five.seq)))())
    broadcaster.publish_events(negotiation.pk, ending)
    await asyncio.wait_for(viewer.task, 5)
    assert viewer.frames() == [
        (None, None),
        ("1", "status"),
        ("2", "status"),
        ("3", "status"),
        ("4", "status"),
        ("5", "status"),
        ("6", "status"),
        ("7", "outcome"),
        (None, "end"),
    ]
    assert broadcaster.subscriber_count(negotiation.pk) == 0


async def test_private_events_arriving_live_are_not_sent_to_other_viewers():
    negotiation, _ = await sync_to_async(make_negotiation)()
    broadcaster = Broadcaster()
    buyer = Collector(
        negotiation_id=negotiation.pk, viewer=Viewer.buyer(), stream_settings=QUIET, broadcaster=broadcaster
    )
    seller = Collector(
        negotiation_id=negotiation.pk, viewer=Viewer.seller(), stream_settings=QUIET, broadcaster=broadcaster
    )
    await wait_for(lambda: len(buyer.frames()) == len(seller.frames()) == 2)
    events = [
        await sync_to_async(append)(negotiation, visibility) for visibility in ("seller", "buyer", "staff", "public")
    ]
    broadcaster.publish_events(negotiation.pk, events)
    await wait_for(lambda: len(buyer.frames()) == 4 and len(seller.frames()) == 4)
    assert [f[0] for f in buyer.frames()[2:]] == ["3", "5"]
    assert [f[0] for f in seller.frames()[2:]] == ["2", "5"]
    for collector in (buyer, seller):
        collector.task.cancel()
    await asyncio.gather(buyer.task, seller.task, return_exceptions=True)
    assert broadcaster.subscriber_count(negotiation.pk) == 0


async def test_a_negotiation_played_by_another_process_reaches_the_viewer_through_the_log(server, settings):
    settings.NEGOTIATION_STREAM_POLL_SECONDS = 0.2
    negotiation, tokens = await sync_to_async(make_negotiation)(max_rounds=4)  # running; no task here
    async with api_client(server) as api, watch(api.client, negotiation.pk, bearer(tokens["observer"])) as reader:
        engine = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import asyncio, sys, django; django.setup();"
            "from negotiations.engine.engine import NegotiationEngine;"
            "asyncio.run(NegotiationEngine().run(int(sys.argv[1])))",
            str(negotiation.pk),
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "marketplace.settings",
                "DATABASE_URL": subprocess_database_url(),
                "PYTHONPATH": str(ROOT),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(engine.communicate(), 60)
        assert engine.returncode == 0, stderr.decode()[-2000:]
        frames = await reader.read_to_end(timeout=10)
    assert [f.json() for f in logged(frames)] == await visible_log(negotiation.pk, "observer")
    assert frames[-1].event == "end" and frames[-1].json()["status"] in {"agreed", "no_deal"}
    assert not deltas(frames)  # nothing came live: every event was read from the log


async def test_pings_keep_an_idle_stream_alive(server, settings):
    settings.NEGOTIATION_STREAM_PING_SECONDS = 0.2
    async with api_client(server) as api:
        created = await api.negotiation()  # pending: nothing happens
        async with watch(api.client, created["id"], bearer(created["tokens"]["observer"])) as reader:
            assert [(await reader.next()).is_ping for _ in range(2)] == [True, True]
            assert reader.frames[0].raw == b"retry: 3000"


async def test_cancelling_while_watching_sends_the_cancellation_then_the_end(server):
    async with api_client(server) as api:
        created = await api.negotiation()
        negotiation_id, tokens = created["id"], created["tokens"]
        async with watch(api.client, negotiation_id, bearer(tokens["observer"])) as reader:
            response = await api.client.post(
                f"/api/v1/negotiations/{negotiation_id}/cancel", headers=bearer(tokens["seller"])
            )
            assert response.status_code == 200 and response.json()["status"] == "cancelled"
            frames = await reader.read_to_end()
        assert [(f.event, f.json()["data"].get("status")) for f in logged(frames)] == [
            ("status", "cancelled"),
            ("outcome", None),
        ]
        assert frames[-1].event == "end" and frames[-1].json() == {"status": "cancelled", "last_seq": 2}


async def test_negotiations_left_running_by_a_restart_resume_at_the_first_request(
    server, settings, runner, monkeypatch
):
    orphan, tokens = await sync_to_async(make_negotiation)()  # running, no task: as after a restart
    playing, playing_tokens = await sync_to_async(make_negotiation)()
    monkeypatch.setattr(recovery, "PROCESS_STARTED_AT", timezone.now())  # "this process" starts now
    await sync_to_async(append)(playing)  # written since: another live process is playing it
    async with api_client(server) as api:
        response = await api.client.get(f"/api/v1/negotiations/{orphan.pk}", headers=bearer(tokens["buyer"]))
        assert response.json()["status"] == "running" and not runner.is_active(orphan.pk), "the sweep is off"
        settings.NEGOTIATION_RESUME_ORPHANS = True
        async with watch(api.client, orphan.pk, bearer(tokens["observer"])) as reader:  # e.g. EventSource reconnecting
            frames = await reader.read_to_end()
    assert frames[-1].event == "end" and frames[-1].json()["status"] == "agreed"
    assert [f.json() for f in logged(frames)] == await visible_log(orphan.pk, "observer")
    await wait_for(lambda: not runner.is_active(orphan.pk))
    assert not runner.is_active(playing.pk)
    assert (await Negotiation.objects.aget(pk=playing.pk)).status == "running", "not taken from its live process"
