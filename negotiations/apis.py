"""WHAT: the REST endpoints of the marketplace under /api/v1: listings (create, list, get) and
     negotiations (create, get as the caller may see it, start, cancel, and the JSON event history).
     The live stream is the async view in negotiations/views.py.
WHY: clients (a buyer's app, a seller's app, an observer, staff) drive and read negotiations over
     HTTP; each must see only what is theirs to see, and bad input must change nothing.
HOW: thin DRF views (HackSoft style): a nested InputSerializer/FilterSerializer checks shape and JSON
     types (unknown fields rejected), the services validate values and write, selectors read, and the
     output serializers of negotiations/serializers.py shape the answer. Who the caller is comes from
     negotiations/access.py (bearer token, or staff by session or DRF token); what it may see is
     decided by `visibility.can_view`, for events and for each side's private settings alike. Request
     bodies are read with the gateway's `read_json_object` (413 above DATA_UPLOAD_MAX_MEMORY_SIZE).
     Errors answer in the one envelope (marketplace/api_errors.py).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from llm.serializers import StrictBooleanField, StrictCharField, StrictNumberField, read_json_object
from marketplace.errors import NotFoundError, RequestValidationError
from marketplace.schema import error_responses
from negotiations import schema as _schema  # noqa: F401 - registers the token security scheme
from negotiations.access import (
    NEGOTIATION_AUTHENTICATION,
    NegotiationAccess,
    NegotiationToken,
    negotiation_access_get,
    require_participant,
)
from negotiations.models import AgentMode, Negotiation, Role, Strategy
from negotiations.prices import PriceError, parse_price
from negotiations.recovery import orphans_resume_once
from negotiations.runner import get_runner
from negotiations.selectors import (
    event_last_seq,
    event_list_visible_to,
    listing_get,
    listing_list,
    participant_for_viewer,
)
from negotiations.serializers import (
    EventSerializer,
    ListingSerializer,
    NegotiationCreatedSerializer,
    NegotiationSerializer,
)
from negotiations.services import listing_create, negotiation_cancel, negotiation_create, negotiation_start
from negotiations.validation import (
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_MODEL_CHARS,
    MAX_PERSONA_CHARS,
    MAX_SEED,
    MAX_TITLE_CHARS,
)
from negotiations.visibility import Viewer, can_view

__all__ = [
    "ListingDetailApi",
    "ListingListCreateApi",
    "NegotiationCancelApi",
    "NegotiationCreateApi",
    "NegotiationDetailApi",
    "NegotiationEventListApi",
    "NegotiationStartApi",
    "negotiation_body",
]

logger = logging.getLogger(__name__)

MAX_PAGE = 200
EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 500
# No number in it: the log's head counts the other side's private events too.
AFTER_BEYOND_LOG = "Must not be beyond the last event of this negotiation's log."
_DIGITS = re.compile(r"[0-9]{1,19}")


# --- input fields ----------------------------------------------------------------------------------
@extend_schema_field({"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}, {"type": "number"}],
                      "example": "450.00"})
class PriceField(serializers.Field):
    """A positive price with at most two decimals, as a decimal string ("450.00") or a JSON number."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (str, int, float)):
            raise serializers.ValidationError("Must be a decimal string such as \"450.00\" or a number.")
        try:
            return parse_price(data)
        except PriceError as exc:
            raise serializers.ValidationError(f"Must be a valid price: {exc}.") from None

    def to_representation(self, value: Any) -> Any:
        return value


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (DRF's IntegerField also takes "12" and 12.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A query-string integer: decimal digits only (no sign, spaces, exponent or fraction)."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not _DIGITS.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class _StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo (`max_round`) is an error, not a silent default."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Must be a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters the serializer knows (others, e.g. `token`, are not its business)."""
    fields = serializer_class().fields
    return _validated(serializer_class, {k: v for k, v in request.query_params.items() if k in fields})


# --- listings --------------------------------------------------------------------------------------
class _StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination, but a bad `limit`/`offset` is a 400 instead of being ignored."""

    default_limit = 50
    max_limit = MAX_PAGE

    class FilterSerializer(serializers.Serializer):
        limit = QueryIntegerField(required=False, min_value=1, max_value=MAX_PAGE)
        offset = QueryIntegerField(required=False, min_value=0, max_value=2**63 - 1)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        params = _query(self.FilterSerializer, request)
        self.request = request
        self.limit = params.get("limit", self.default_limit)
        self.offset = params.get("offset", 0)
        self.count = self.get_count(queryset)
        return list(queryset[self.offset:self.offset + self.limit]) if self.offset < self.count else []


class ListingListCreateApi(APIView):
    """`/listings`: GET lists them, newest first, `limit`/`offset` paginated; POST creates one (open to
    anyone, like the rest of the catalogue)."""

    pagination_class = _StrictLimitOffsetPagination

    @extend_schema_serializer(component_name="ListingCreateRequest")
    class InputSerializer(_StrictSerializer):
        title = StrictCharField(max_length=MAX_TITLE_CHARS)
        description = StrictCharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION_CHARS)
        category = StrictCharField(required=False, allow_blank=True, max_length=MAX_CATEGORY_CHARS)
        list_price = PriceField()
        currency = StrictCharField(required=False, max_length=3, help_text="ISO 4217 (default USD).")

    @extend_schema(tags=["listings"], operation_id="listings_list",
                   responses={200: ListingSerializer(many=True), **error_responses(400)})
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(listing_list(), request, view=self)
        return paginator.get_paginated_response(ListingSerializer(page, many=True).data)

    @extend_schema(
        tags=["listings"], operation_id="listings_create", request=InputSerializer,
        responses={201: ListingSerializer, **error_responses(400, 413)},
        examples=[OpenApiExample("Table", request_only=True,
                                 value={"title": "Oak dining table", "list_price": "500.00", "category": "furniture"})],
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, read_json_object(request))
        listing = listing_create(**data)
        headers = {"Location": reverse("listing-detail", args=[listing.pk])}
        return Response(ListingSerializer(listing).data, status=201, headers=headers)


class ListingDetailApi(APIView):
    @extend_schema(tags=["listings"], operation_id="listings_retrieve",
                   responses={200: ListingSerializer, **error_responses(404)})
    def get(self, request: Request, listing_id: int) -> Response:
        listing = listing_get(listing_id=listing_id) if listing_id <= 2**63 - 1 else None
        if listing is None:
            raise NotFoundError("No such listing.")
        return Response(ListingSerializer(listing).data)


# --- negotiations ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _SidePrivate:
    """A side's private settings, asked about with the one visibility rule like any event."""

    visibility: str


PRIVATE_FIELDS = ("limit_price", "target_price", "persona", "strategy", "mode", "provider", "model", "temperature")


def negotiation_body(negotiation: Negotiation, viewer: Viewer) -> dict[str, Any]:
    """The negotiation as `viewer` may see it: public fields, plus private settings of visible sides."""
    participants = []
    for role in (Role.BUYER, Role.SELLER):
        entry: dict[str, Any] = {"role": role.value}
        if can_view(viewer, _SidePrivate(role.value)):
            participant = participant_for_viewer(negotiation=negotiation, viewer=Viewer(role.value))
            if participant is not None:
                entry["private"] = {name: getattr(participant, name) for name in PRIVATE_FIELDS}
        participants.append(entry)
    body = {name: getattr(negotiation, name) for name in (
        "id", "listing", "status", "max_rounds", "opens", "agreed_price", "end_reason", "rounds_used",
        "created_at", "updated_at", "finished_at")}
    if viewer.role == "staff":
        body["seed"] = negotiation.seed
    body.update(viewer=viewer.role, participants=participants)
    return body


def _start_and_launch(negotiation: Negotiation) -> Negotiation:
    """Start (logged and committed), then hand it to the runner. A runner that cannot take it here (no
    event loop: WSGI, the sync test client) must not turn a committed start into a 500 that loses the
    creator's tokens; the negotiation stays `running` until an ASGI server process plays it
    (`negotiation_resume`, or the orphan sweep of a server started later)."""
    negotiation_start(negotiation=negotiation, launch=False)
    try:
        get_runner().submit(negotiation.pk)
    except RuntimeError as exc:
        logger.error("negotiation %s started but not launched: %s", negotiation.pk, exc)
    return negotiation


class _NegotiationApi(APIView):
    """Base of the endpoints about one negotiation: who is asking, as negotiations/access.py says."""

    authentication_classes = NEGOTIATION_AUTHENTICATION

    def access(self, request: Request, negotiation_id: int) -> NegotiationAccess:
        orphans_resume_once()
        auth = request.auth
        token = auth.value if isinstance(auth, NegotiationToken) else None
        user = request.user
        staff = bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)
        return negotiation_access_get(negotiation_id=negotiation_id, token=token, staff=staff)


_TOKEN_PARAMETER = OpenApiParameter(
    "token", str, description="The negotiation token, for clients that cannot send `Authorization: Bearer` "
    "(browsers' EventSource). Prefer the header: URLs end up in logs.")


@extend_schema_serializer(component_name="ParticipantRequest")
class ParticipantInputSerializer(_StrictSerializer):
    limit_price = PriceField(help_text="PRIVATE. Buyer: the most it will pay; seller: the least it will take.")
    target_price = PriceField(required=False, allow_null=True, help_text="PRIVATE. Its opening/aspiration.")
    persona = StrictCharField(required=False, allow_blank=True, max_length=MAX_PERSONA_CHARS)
    strategy = serializers.ChoiceField(choices=Strategy.values, required=False)
    mode = serializers.ChoiceField(choices=AgentMode.values, required=False,
                                   help_text="narrate (default): strategy decides, LLM words; llm: LLM proposes; rule: no LLM.")
    provider = StrictCharField(required=False, allow_blank=True, max_length=64, help_text="Default: LLM_PROVIDER.")
    model = StrictCharField(required=False, allow_blank=True, max_length=MAX_MODEL_CHARS)
    temperature = StrictNumberField(min_value=0, max_value=2, required=False, allow_null=True)


class NegotiationCreateApi(APIView):
    """Create a negotiation (and by default start it). The three tokens are returned here only."""

    @extend_schema_serializer(component_name="NegotiationCreateRequest")
    class InputSerializer(_StrictSerializer):
        listing = StrictIntegerField(min_value=1, max_value=2**63 - 1, help_text="A listing id.")
        buyer = ParticipantInputSerializer()
        seller = ParticipantInputSerializer()
        max_rounds = StrictIntegerField(required=False, min_value=1, max_value=settings.NEGOTIATION_MAX_ROUNDS_CAP,
                                        help_text="Default NEGOTIATION_DEFAULT_MAX_ROUNDS.")
        opens = serializers.ChoiceField(choices=Role.choices, required=False, default=Role.SELLER)
        seed = StrictIntegerField(required=False, min_value=0, max_value=MAX_SEED)
        start = StrictBooleanField(required=False, default=True, help_text="Start at once (default true).")

    @extend_schema(
        tags=["negotiations"], operation_id="negotiations_create", request=InputSerializer,
        responses={201: NegotiationCreatedSerializer, **error_responses(400, 413)},
        examples=[OpenApiExample("Rule-based agents", request_only=True, value={
            "listing": 1, "buyer": {"limit_price": "450.00", "mode": "rule"},
            "seller": {"limit_price": "350.00", "mode": "rule"}, "max_rounds": 5})],
        description="Unknown `listing`: 400 VALIDATION_ERROR (`details.fields.listing`). Nothing is written "
        "unless the whole request is valid.",
    )
    def post(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, read_json_object(request))
        start = data.pop("start")
        created = negotiation_create(**data)
        negotiation = created.negotiation
        if start:
            orphans_resume_once()
            _start_and_launch(negotiation)
        body = negotiation_body(negotiation, Viewer.staff())  # the creator chose all of it
        body["tokens"] = created.tokens
        headers = {"Location": reverse("negotiation-detail", args=[negotiation.pk])}
        return Response(NegotiationCreatedSerializer(body).data, status=201, headers=headers)


class NegotiationDetailApi(_NegotiationApi):
    """The negotiation as the caller may see it: only its own side's private settings (staff: both)."""

    @extend_schema(tags=["negotiations"], operation_id="negotiations_retrieve", parameters=[_TOKEN_PARAMETER],
                   responses={200: NegotiationSerializer, **error_responses(401, 404)})
    def get(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        return Response(NegotiationSerializer(negotiation_body(access.negotiation, access.viewer)).data)


class NegotiationStartApi(_NegotiationApi):
    """pending -> running (buyer, seller or staff). 409 CONFLICT unless pending."""

    @extend_schema(tags=["negotiations"], operation_id="negotiations_start", request=None, parameters=[_TOKEN_PARAMETER],
                   responses={200: NegotiationSerializer, **error_responses(401, 403, 404, 409)})
    def post(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        require_participant(access, action="start")
        negotiation = _start_and_launch(access.negotiation)
        return Response(NegotiationSerializer(negotiation_body(negotiation, access.viewer)).data)


class NegotiationCancelApi(_NegotiationApi):
    """Cancel a pending or running negotiation (buyer, seller or staff). 409 CONFLICT if already over."""

    @extend_schema(tags=["negotiations"], operation_id="negotiations_cancel", request=None, parameters=[_TOKEN_PARAMETER],
                   responses={200: NegotiationSerializer, **error_responses(401, 403, 404, 409)})
    def post(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        require_participant(access, action="cancel")
        negotiation = negotiation_cancel(negotiation=access.negotiation)
        return Response(NegotiationSerializer(negotiation_body(negotiation, access.viewer)).data)


class NegotiationEventListApi(_NegotiationApi):
    """The event log as the caller may see it, in seq order; page with `after` (exclusive) and `limit`."""

    class FilterSerializer(serializers.Serializer):
        after = QueryIntegerField(required=False, min_value=0, max_value=2**63 - 1,
                                  help_text="Only events with seq > after (default 0); at most the seq of the log's "
                                  "last event (400 beyond it, as for the stream's Last-Event-ID).")
        limit = QueryIntegerField(required=False, min_value=1, max_value=EVENTS_MAX_LIMIT,
                                  help_text=f"Page size (default {EVENTS_DEFAULT_LIMIT}, max {EVENTS_MAX_LIMIT}).")

    @extend_schema_serializer(component_name="NegotiationEventPage")
    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True, help_text="The next page (`after` = this page's last seq), or null.")
        results = EventSerializer(many=True)

    @extend_schema(
        tags=["negotiations"], operation_id="negotiations_events_list",
        parameters=[FilterSerializer, _TOKEN_PARAMETER],
        responses={200: OutputSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)  # who asks first: no token is 401, whatever the query
        params = _query(self.FilterSerializer, request)
        limit, after = params.get("limit", EVENTS_DEFAULT_LIMIT), params.get("after", 0)
        if after > event_last_seq(negotiation_id=access.negotiation.pk):
            raise RequestValidationError(AFTER_BEYOND_LOG, details={"fields": {"after": [AFTER_BEYOND_LOG]}})
        events = list(event_list_visible_to(negotiation=access.negotiation, viewer=access.viewer,
                                            after_seq=after)[:limit + 1])
        page, more = events[:limit], len(events) > limit
        next_url = None
        if more:
            # Without `token`: a response body never carries a token (the client has it anyway).
            next_url = remove_query_param(request.build_absolute_uri(), "token")
            next_url = replace_query_param(replace_query_param(next_url, "after", page[-1].seq), "limit", limit)
        return Response(self.OutputSerializer({"next": next_url, "results": page}).data)


