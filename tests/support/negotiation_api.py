"""WHAT: helpers of the negotiations API tests: a scripted fake-LLM reply, an httpx-based API client,
     an SSE frame reader (`watch`, `SSEReader`, `parse_block`), and the expected view of a negotiation's
     log for each viewer (`visible_log`).
WHY: tests import helpers from a plain module, never from a conftest; the expected values come from
     the database and the one visibility rule, never from the code under test's output.
HOW: async helpers over a live server's URL (the `server` fixture in tests/negotiations/api/conftest.py);
     the fake LLM picks its reply by the side's `model` (PROPOSER), never by the prompt's wording.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from asgiref.sync import sync_to_async

from llm.types import ChatRequest
from negotiations.api.serializers import EventSerializer
from negotiations.visibility import Viewer, event_list_visible_to
from tests.support.fake_provider import FakeProvider

ROLES = ("buyer", "seller", "observer", "staff")


# --- a scripted LLM ----------------------------------------------------------------------------------
# Replies are picked by the request's `model`, which is the side's `model` setting: a test marks an
# llm-mode side with PROPOSER; every other request gets the narration. No reply reads the prompt.
PROPOSER = "scripted-proposer"
# Between every seller floor and buyer limit these tests use, so the proposal is valid for either side.
PROPOSED_PRICE = "400.00"
NARRATION = "Let me see what I can do for you on this one."


def proposal_reply(request: ChatRequest) -> str:
    """What a PROPOSER side's model answers: a well-formed offer, always within its limit."""
    return f"<action>offer</action><price>{PROPOSED_PRICE}</price><message>I can do ${PROPOSED_PRICE} for it.</message>"


def narration_reply(request: ChatRequest) -> str:
    """Words that voice any move: no price, no acceptance, no refusal."""
    return NARRATION


def scripted_llm() -> FakeProvider:
    """The API tests' fake LLM: PROPOSER sides propose, everyone else narrates."""
    return FakeProvider(respond=narration_reply, scripts={PROPOSER: proposal_reply})


# --- HTTP helpers ------------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """Small async helpers over the REST endpoints (they assert the happy path's status)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def listing(self, **overrides: Any) -> dict[str, Any]:
        body = {"title": "Oak dining table", "list_price": "500.00", "category": "furniture", **overrides}
        response = await self.client.post("/api/v1/listings", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def negotiation(self, *, start: bool = False, listing: int | None = None, **overrides: Any) -> dict[str, Any]:
        if listing is None:
            listing = (await self.listing())["id"]
        body = {
            "listing": listing,
            "buyer": {"limit_price": "450.00", "mode": "rule"},
            "seller": {"limit_price": "350.00", "mode": "rule"},
            "max_rounds": 4,
            "seed": 7,
            "start": start,
            **overrides,
        }
        response = await self.client.post("/api/v1/negotiations", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def start(self, negotiation_id: int, token: str) -> dict[str, Any]:
        response = await self.client.post(f"/api/v1/negotiations/{negotiation_id}/start", headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json()

    async def history(self, negotiation_id: int, headers: dict[str, str], *, limit: int = 3) -> list[dict[str, Any]]:
        """Every page of GET .../events (small pages, so paging is exercised)."""
        url: str | None = f"/api/v1/negotiations/{negotiation_id}/events?limit={limit}"
        events: list[dict[str, Any]] = []
        while url is not None:
            response = await self.client.get(url, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["results"]
            url = page["next"]
        return events


@asynccontextmanager
async def api_client(server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        yield Api(client)


async def staff_headers() -> dict[str, str]:
    """A staff user and its DRF token (`Authorization: Token <key>`)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    def create() -> str:
        user = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
        return Token.objects.create(user=user).key

    return {"Authorization": f"Token {await sync_to_async(create)()}"}


def viewer_headers(role: str, tokens: dict[str, str], staff: dict[str, str]) -> dict[str, str]:
    return staff if role == "staff" else bearer(tokens[role])


# --- SSE frames --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One SSE block as sent (our server writes LF line ends only; tests check that too)."""

    fields: tuple[tuple[str, str], ...]
    raw: bytes

    def get(self, name: str) -> str | None:
        values = [v for k, v in self.fields if k == name]
        return values[-1] if values else None

    @property
    def id(self) -> str | None:
        return self.get("id")

    @property
    def event(self) -> str | None:
        return self.get("event")

    @property
    def data(self) -> str | None:
        lines = [v for k, v in self.fields if k == "data"]
        return "\n".join(lines) if lines else None

    def json(self) -> Any:
        return json.loads(self.data or "null")

    @property
    def is_ping(self) -> bool:
        return self.fields == ((":", "ping"),)


def parse_block(block: bytes) -> Frame:
    assert b"\r" not in block, "the server writes LF line ends only"
    fields = []
    for line in block.decode("utf-8").split("\n"):
        if line.startswith(":"):
            fields.append((":", line[1:].strip()))
            continue
        name, colon, value = line.partition(":")
        assert colon, f"malformed SSE line {line!r}"
        fields.append((name, value[1:] if value.startswith(" ") else value))
    return Frame(tuple(fields), block)


class SSEReader:
    """Reads an SSE response frame by frame; `None` at the end of the body."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_raw()
        self._buffer = b""
        self.frames: list[Frame] = []
        self.closed = False

    async def next(self, timeout: float = 10.0) -> Frame | None:
        async with asyncio.timeout(timeout):
            while b"\n\n" not in self._buffer:
                try:
                    chunk = await anext(self._chunks)
                except StopAsyncIteration:
                    assert not self._buffer, f"the stream ended mid-frame: {self._buffer!r}"
                    self.closed = True
                    return None
                self._buffer += chunk
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        frame = parse_block(block)
        self.frames.append(frame)
        return frame

    async def read_to_end(self, timeout: float = 20.0) -> list[Frame]:
        async with asyncio.timeout(timeout):
            while await self.next(timeout) is not None:
                pass
        return self.frames

    async def events(self, count: int, timeout: float = 10.0) -> list[Frame]:
        """Read until `count` logged events (frames with an id) have arrived."""
        async with asyncio.timeout(timeout):
            while len(logged(self.frames)) < count:
                assert await self.next(timeout) is not None, "the stream ended early"
        return logged(self.frames)


@asynccontextmanager
async def watch(
    client: httpx.AsyncClient,
    negotiation_id: int,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> AsyncIterator[SSEReader]:
    """Open the stream and wait for its first frame (the subscription exists from then on)."""
    async with client.stream(
        "GET", f"/api/v1/negotiations/{negotiation_id}/stream", headers=headers or {}, params=params or {}
    ) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SSEReader(response)
        first = await reader.next()
        assert first is not None and first.get("retry") is not None
        yield reader


def logged(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.id is not None]


def deltas(frames: list[Frame]) -> list[dict[str, Any]]:
    return [f.json() for f in frames if f.event == "delta"]


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


async def visible_log(negotiation_id: int, role: str) -> list[dict[str, Any]]:
    """The log as `role` may see it, from the database and the one visibility rule."""

    def read() -> list[dict[str, Any]]:
        events = event_list_visible_to(negotiation=negotiation_id, viewer=Viewer(role))  # type: ignore[arg-type]
        return [as_json(EventSerializer(e).data) for e in events]

    return await sync_to_async(read)()


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)
