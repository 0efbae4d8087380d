"""WHAT: `GET /api/v1/negotiations/{id}/stream`, the live Server-Sent Events stream of one negotiation,
     as the caller may see it.
WHY: a native async view: a stream lasts as long as the negotiation, and a sync view would hold a
     worker thread for all of it. Browsers watch it with EventSource, which reconnects by itself and
     sends `Last-Event-ID`, so resuming must be exact.
HOW: before the first byte (errors are then ordinary JSON with their status) the view checks access
     (negotiations/api/access.py) and the resume point (STREAM_DESCRIPTION), both in the stream reader
     pool; the body is `viewer_stream`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from marketplace.async_views import AsyncApiView
from marketplace.errors import RequestValidationError
from marketplace.schema import error_responses
from marketplace.sse import SSE_HEADERS
from negotiations.api.access import (
    NEGOTIATION_AUTHENTICATION,
    NegotiationAccess,
    negotiation_access_get,
    request_token,
    staff_user_from_request,
)
from negotiations.engine.recovery import orphans_resume_once
from negotiations.live.reads import db_read
from negotiations.live.stream import viewer_stream
from negotiations.selectors import event_last_seq
from negotiations.validation import DECIMAL_DIGITS, MAX_ID

__all__ = ["NegotiationStreamApi", "last_event_id"]


STREAM_DESCRIPTION = """\
Server-Sent Events, as the caller may see them (same access rules as the other endpoints).

* `retry: <ms>` first (NEGOTIATION_STREAM_RETRY_MS).
* Every logged event the caller may see, in seq order, exactly once: `id: <seq>`, `event: <type>`
  (status, message, thought, guardrail, outcome), `data: <the event as in GET .../events>` (JSON).
* `event: delta` (no id, never replayed): a piece of a message being written, to callers who may see it:
  `{"actor", "visibility", "turn", "attempt", "text"}`; drop drafts of an older `attempt`; the `message`
  event of that turn replaces them.
* `: ping` comment lines every NEGOTIATION_STREAM_PING_SECONDS without other traffic.
* `event: end`, `data: {"status", "last_seq"}` when the negotiation is over, then the server closes.
  Close your EventSource on `end` (it would otherwise reconnect). A finished negotiation replays and ends.
* `event: error`, `data: {"error": {...}}` if the server fails mid-stream, then it closes; reconnecting
  with Last-Event-ID resumes exactly.

Resume: `Last-Event-ID` header (EventSource sends it on reconnect) or `lastEventId` query (the header wins):
only events with seq > that id are sent. Absent or empty: from the start. Not decimal digits, or beyond the
end of the log: 400 VALIDATION_ERROR (after the credentials are checked: no token is 401 first).

`seq` numbers the whole log, private events included, so the ids a caller receives have gaps: the events
it may not see (the other side's thoughts and guardrail events).
"""

STREAM_EXAMPLE = """\
retry: 3000

id: 1
event: status
data: {"seq":1,"type":"status","actor":"system","visibility":"public","data":{"status":"running"},"created_at":"2025-01-01T12:00:00.000000Z"}

event: delta
data: {"actor":"seller","visibility":"public","turn":1,"attempt":1,"text":"Hello, "}

id: 3
event: message
data: {"seq":3,"type":"message","actor":"seller","visibility":"public","data":{"turn":1,"round":1,"action":"offer","price":"520.00","text":"Hello, it is yours for $520."},"created_at":"2025-01-01T12:00:01.000000Z"}

: ping

id: 12
event: outcome
data: {"seq":12,"type":"outcome","actor":"system","visibility":"public","data":{"result":"agreed","end_reason":"accepted","agreed_price":"430.00","rounds_used":3},"created_at":"2025-01-01T12:00:05.000000Z"}

event: end
data: {"status":"agreed","last_seq":12}

"""


def last_event_id(request: HttpRequest) -> int:
    """The resume point: `Last-Event-ID` header, else `lastEventId` query; 0 when absent or empty."""
    raw = request.headers.get("Last-Event-ID", "").strip() or request.GET.get("lastEventId", "").strip()
    if not raw:
        return 0
    if not DECIMAL_DIGITS.fullmatch(raw) or int(raw) > MAX_ID:
        raise RequestValidationError(
            "Last-Event-ID must be the seq (decimal digits) of an event of this negotiation.",
            details={"fields": {"Last-Event-ID": ["Must be a non-negative integer."]}},
        )
    return int(raw)


def _open_stream(request: HttpRequest, negotiation_id: int) -> tuple[NegotiationAccess, int]:
    """Sync, in the stream reader pool: who is asking (first: no token is 401, whatever else is wrong),
    then the resume point, which must be a point of this log."""
    token = request_token(request)
    staff = token is None and staff_user_from_request(request)
    access = negotiation_access_get(negotiation_id=negotiation_id, token=token, staff=staff)
    after = last_event_id(request)
    if after > event_last_seq(negotiation_id=negotiation_id):
        # No number in the message: the log's head counts the other side's private events too.
        raise RequestValidationError(
            "Last-Event-ID is beyond the end of this negotiation's log.",
            details={"fields": {"Last-Event-ID": ["Must not be beyond the last event of this negotiation's log."]}},
        )
    orphans_resume_once()
    return access, after


class NegotiationStreamApi(AsyncApiView):
    """The live event stream of one negotiation (SSE)."""

    # Documents the same credentials as the REST endpoints; `_open_stream` checks them, in that order.
    authentication_classes = NEGOTIATION_AUTHENTICATION
    # Its sync work (access checks, log reads) runs in the stream reader pool, not in the request's thread.

    def get_authenticators(self) -> list:
        # AsyncApiView.dispatch runs a view's authenticators inline on the event loop, on the plain
        # Django request; these read the database (DRF tokens, sessions) and need DRF's request. They
        # are listed for the OpenAPI schema only; `_open_stream` checks the credentials in the pool.
        return super().get_authenticators() if getattr(self, "swagger_fake_view", False) else []

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_stream",
        description=STREAM_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                str,
                OpenApiParameter.HEADER,
                description="Resume after this seq (EventSource sends it when reconnecting).",
            ),
            OpenApiParameter("lastEventId", str, description="Resume after this seq (the header wins)."),
            OpenApiParameter("token", str, description="The negotiation token, for EventSource (cannot set headers)."),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The event stream (see the description).",
                examples=[OpenApiExample("A short negotiation, as an observer", value=STREAM_EXAMPLE)],
            ),
            **error_responses(400, 401, 404),
        },
    )
    async def get(self, request: HttpRequest, negotiation_id: int) -> HttpResponse:
        access, after = await db_read(_open_stream, request, negotiation_id)
        body = viewer_stream(negotiation_id=access.negotiation.pk, viewer=access.viewer, after=after)
        return StreamingHttpResponse(body, content_type="text/event-stream", headers=SSE_HEADERS)
