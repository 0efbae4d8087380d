"""WHAT: the REST endpoints of the marketplace under /api/v1: listings (create, list, get) and
     negotiations (create, get as the caller may see it, start, cancel, and the JSON event history).
     The market's endpoints are negotiations/api/market_views.py, the live stream negotiations/live/views.py.
WHY: clients (a buyer's app, a seller's app, an observer, staff) drive and read negotiations over
     HTTP; each must see only what is theirs to see, and bad input must change nothing.
HOW: thin DRF views (HackSoft style): a nested InputSerializer/FilterSerializer checks shape and JSON types
     (inputs.py), the services validate values and write, selectors read, output serializers shape the
     answer. The caller comes from access.py; what it may see is decided by `visibility.can_view`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from marketplace.errors import NotFoundError, RequestValidationError
from marketplace.fields import StrictBooleanField, StrictCharField, StrictNumberField, read_json_object
from marketplace.schema import error_responses
from negotiations.api import schema as _schema  # noqa: F401 - registers the token security scheme
from negotiations.api.access import (
    CREATE_AUTHENTICATION,
    NEGOTIATION_AUTHENTICATION,
    AccessCheckedByTheView,
    CreateNeedsGatewayKeyOrStaff,
    NegotiationAccess,
    NegotiationToken,
    listing_owner_or_staff,
    negotiation_access_get,
    require_participant,
)
from negotiations.api.filters import LISTING_FILTER_PARAMETERS, listings_filtered
from negotiations.api.inputs import (
    PriceField,
    QueryIntegerField,
    StrictIntegerField,
    StrictLimitOffsetPagination,
    StrictSerializer,
    query_params,
    validated,
)
from negotiations.api.serializers import (
    EventSerializer,
    ListingCreatedSerializer,
    ListingOwnedSerializer,
    ListingSerializer,
    NegotiationCreatedSerializer,
    NegotiationSerializer,
)
from negotiations.engine.recovery import orphans_resume_once
from negotiations.models import AgentMode, Role, Strategy
from negotiations.selectors import (
    event_last_seq,
    event_list_visible_to,
    listing_bodies,
    listing_get,
    listing_list,
    negotiation_view_get,
)
from negotiations.services import listing_publish, negotiation_cancel, negotiation_create, negotiation_start
from negotiations.validation import (
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_ID,
    MAX_MODEL_CHARS,
    MAX_PERSONA_CHARS,
    MAX_PROVIDER_CHARS,
    MAX_SEED,
    MAX_TITLE_CHARS,
    MSG_BETWEEN,
    MSG_NUMBER_REQUIRED,
    MSG_TOO_LONG,
    TEMPERATURE_RANGE,
    msg_one_of,
)
from negotiations.visibility import Viewer

__all__ = [
    "ListingDetailApi",
    "ListingListCreateApi",
    "NegotiationCancelApi",
    "NegotiationCreateApi",
    "NegotiationDetailApi",
    "NegotiationEventListApi",
    "NegotiationStartApi",
]

TOO_LONG = {"max_length": MSG_TOO_LONG}  # the services' wording (negotiations/validation.py)
EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 500
# No number in it: the log's head counts the other side's private events too.
AFTER_BEYOND_LOG = "Must not be beyond the last event of this negotiation's log."


class ParticipantInputSerializer(StrictSerializer):
    limit_price = PriceField(help_text="PRIVATE. Buyer: the most it will pay; seller: the least it will take.")
    target_price = PriceField(required=False, allow_null=True, help_text="PRIVATE. Its opening/aspiration.")
    persona = StrictCharField(required=False, allow_blank=True, max_length=MAX_PERSONA_CHARS, error_messages=TOO_LONG)
    strategy = serializers.ChoiceField(
        choices=Strategy.values, required=False, error_messages={"invalid_choice": msg_one_of(Strategy.values)}
    )
    mode = serializers.ChoiceField(
        choices=AgentMode.values,
        required=False,
        error_messages={"invalid_choice": msg_one_of(AgentMode.values)},
        help_text="narrate (default): strategy decides, LLM words; llm: LLM proposes; rule: no LLM.",
    )
    provider = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_PROVIDER_CHARS,
        error_messages=TOO_LONG,
        help_text="Default: LLM_PROVIDER.",
    )
    model = StrictCharField(required=False, allow_blank=True, max_length=MAX_MODEL_CHARS, error_messages=TOO_LONG)
    temperature = StrictNumberField(
        min_value=TEMPERATURE_RANGE[0],
        max_value=TEMPERATURE_RANGE[1],
        required=False,
        allow_null=True,
        error_messages={"invalid": MSG_NUMBER_REQUIRED, "range": MSG_BETWEEN},
    )


# --- listings --------------------------------------------------------------------------------------
class ListingListCreateApi(APIView):
    """`/listings`: GET finds them (filters in negotiations/api/filters.py), newest first unless
    `ordering` says otherwise, `limit`/`offset` paginated; POST creates one (open to anyone, like the
    rest of the catalogue) and returns its owner token once."""

    pagination_class = StrictLimitOffsetPagination

    @extend_schema_serializer(component_name="ListingCreateRequest")
    class InputSerializer(StrictSerializer):
        title = StrictCharField(max_length=MAX_TITLE_CHARS, error_messages=TOO_LONG)
        description = StrictCharField(
            required=False, allow_blank=True, max_length=MAX_DESCRIPTION_CHARS, error_messages=TOO_LONG
        )
        category = StrictCharField(
            required=False, allow_blank=True, max_length=MAX_CATEGORY_CHARS, error_messages=TOO_LONG
        )
        list_price = PriceField()
        currency = StrictCharField(required=False, max_length=3, help_text="ISO 4217 (default USD).")
        seller = ParticipantInputSerializer(
            required=False,
            help_text="The seller agent (its floor is private) that answers buyers who come by themselves: "
            "mandates, and negotiations created without `seller`.",
        )

    @extend_schema(
        tags=["listings"],
        operation_id="listings_list",
        parameters=LISTING_FILTER_PARAMETERS,
        responses={200: ListingSerializer(many=True), **error_responses(400)},
        description="Bad filter values: 400 VALIDATION_ERROR naming the parameter (`details.fields.<name>`).",
    )
    def get(self, request: Request) -> Response:
        listings = listings_filtered(request.query_params, listing_list())
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(listings, request, view=self)
        return paginator.get_paginated_response(ListingSerializer(listing_bodies(page), many=True).data)

    @extend_schema(
        tags=["listings"],
        operation_id="listings_create",
        request=InputSerializer,
        responses={201: ListingCreatedSerializer, **error_responses(400, 413)},
        examples=[
            OpenApiExample(
                "Table",
                request_only=True,
                value={"title": "Oak dining table", "list_price": "500.00", "category": "furniture"},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, read_json_object(request))
        listing, owner_token = listing_publish(**data)
        headers = {"Location": reverse("listing-detail", args=[listing.pk])}
        body = {**listing_bodies([listing])[0], "owner_token": owner_token}
        return Response(ListingCreatedSerializer(body).data, status=201, headers=headers)


class ListingDetailApi(APIView):
    """One listing; with its owner token (or as staff) also its sale."""

    authentication_classes = NEGOTIATION_AUTHENTICATION

    @extend_schema(
        tags=["listings"],
        operation_id="listings_retrieve",
        responses={200: ListingOwnedSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, listing_id: int) -> Response:
        listing = listing_get(listing_id=listing_id) if listing_id <= MAX_ID else None
        if listing is None:
            raise NotFoundError("No such listing.")
        if listing_owner_or_staff(request, listing):
            return Response(ListingOwnedSerializer(listing_bodies([listing], sale_for={listing.pk})[0]).data)
        return Response(ListingSerializer(listing_bodies([listing])[0]).data)


# --- negotiations ----------------------------------------------------------------------------------
class _NegotiationApi(APIView):
    """Base of the endpoints about one negotiation: who is asking, as negotiations/api/access.py says."""

    authentication_classes = NEGOTIATION_AUTHENTICATION
    permission_classes = [AccessCheckedByTheView]

    def access(self, request: Request, negotiation_id: int) -> NegotiationAccess:
        orphans_resume_once()
        auth = request.auth
        token = auth.value if isinstance(auth, NegotiationToken) else None
        user = request.user
        staff = bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)
        return negotiation_access_get(negotiation_id=negotiation_id, token=token, staff=staff)


_TOKEN_PARAMETER = OpenApiParameter(
    "token",
    str,
    description="The negotiation token, for clients that cannot send `Authorization: Bearer` "
    "(browsers' EventSource). Prefer the header: URLs end up in logs.",
)


@extend_schema_serializer(component_name="ParticipantRequest")
class NegotiationCreateApi(APIView):
    """Create a negotiation (and by default start it). The three tokens are returned here only. With
    gateway keys set (LLM_GATEWAY_API_KEYS), only their holders and staff may: a negotiation spends the model."""

    authentication_classes = CREATE_AUTHENTICATION
    permission_classes = [CreateNeedsGatewayKeyOrStaff]

    @extend_schema_serializer(component_name="NegotiationCreateRequest")
    class InputSerializer(StrictSerializer):
        listing = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="A listing id.")
        buyer = ParticipantInputSerializer()
        seller = ParticipantInputSerializer(
            required=False, help_text="Default: the listing's seller agent (required if it has none)."
        )
        max_rounds = StrictIntegerField(
            required=False,
            min_value=1,
            max_value=settings.NEGOTIATION_MAX_ROUNDS_CAP,
            help_text="Default NEGOTIATION_DEFAULT_MAX_ROUNDS.",
        )
        opens = serializers.ChoiceField(choices=Role.choices, required=False, default=Role.SELLER)
        seed = StrictIntegerField(required=False, min_value=0, max_value=MAX_SEED)
        start = StrictBooleanField(required=False, default=True, help_text="Start at once (default true).")

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_create",
        request=InputSerializer,
        responses={201: NegotiationCreatedSerializer, **error_responses(400, 401, 409, 413, 429)},
        examples=[
            OpenApiExample(
                "Rule-based agents",
                request_only=True,
                value={
                    "listing": 1,
                    "buyer": {"limit_price": "450.00", "mode": "rule"},
                    "seller": {"limit_price": "350.00", "mode": "rule"},
                    "max_rounds": 5,
                },
            )
        ],
        description="Unknown `listing`: 400 VALIDATION_ERROR (`details.fields.listing`); a sold or withdrawn one: "
        "409 LISTING_NOT_AVAILABLE. Nothing is written "
        "unless the whole request is valid. Starting (the default) when this server already plays "
        "NEGOTIATION_MAX_ACTIVE negotiations: 429 NEGOTIATION_CAPACITY with Retry-After, nothing written. "
        "When the server has gateway keys (LLM_GATEWAY_API_KEYS), `Authorization: Bearer <gateway key>` "
        "or a staff user is required (401 NOT_AUTHENTICATED otherwise).",
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, read_json_object(request))
        start = data.pop("start")
        if start:
            orphans_resume_once()
        # One transaction: a start refused for capacity (429) leaves no negotiation behind.
        with transaction.atomic():
            created = negotiation_create(**data)
            negotiation = created.negotiation
            if start:
                negotiation_start(negotiation=negotiation)
        body = negotiation_view_get(negotiation=negotiation, viewer=Viewer.staff())  # the creator chose all of it
        body["tokens"] = created.tokens
        headers = {"Location": reverse("negotiation-detail", args=[negotiation.pk])}
        return Response(NegotiationCreatedSerializer(body).data, status=201, headers=headers)


class NegotiationDetailApi(_NegotiationApi):
    """The negotiation as the caller may see it: only its own side's private settings (staff: both)."""

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_retrieve",
        parameters=[_TOKEN_PARAMETER],
        responses={200: NegotiationSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        return Response(
            NegotiationSerializer(negotiation_view_get(negotiation=access.negotiation, viewer=access.viewer)).data
        )


class NegotiationStartApi(_NegotiationApi):
    """pending -> running (buyer, seller or staff). 409 CONFLICT unless pending; 429 NEGOTIATION_CAPACITY
    (Retry-After) when this server already plays NEGOTIATION_MAX_ACTIVE negotiations."""

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_start",
        request=None,
        parameters=[_TOKEN_PARAMETER],
        responses={200: NegotiationSerializer, **error_responses(401, 403, 404, 409, 429)},
    )
    def post(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        require_participant(access, action="start")
        negotiation = negotiation_start(negotiation=access.negotiation)
        return Response(NegotiationSerializer(negotiation_view_get(negotiation=negotiation, viewer=access.viewer)).data)


class NegotiationCancelApi(_NegotiationApi):
    """Cancel a pending or running negotiation (buyer, seller or staff). 409 CONFLICT if already over."""

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_cancel",
        request=None,
        parameters=[_TOKEN_PARAMETER],
        responses={200: NegotiationSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)
        require_participant(access, action="cancel")
        negotiation = negotiation_cancel(negotiation=access.negotiation)
        return Response(NegotiationSerializer(negotiation_view_get(negotiation=negotiation, viewer=access.viewer)).data)


class NegotiationEventListApi(_NegotiationApi):
    """The event log as the caller may see it, in seq order; page with `after` (exclusive) and `limit`."""

    class FilterSerializer(serializers.Serializer):
        after = QueryIntegerField(
            required=False,
            min_value=0,
            max_value=MAX_ID,
            help_text="Only events with seq > after (default 0); at most the seq of the log's "
            "last event (400 beyond it, as for the stream's Last-Event-ID).",
        )
        limit = QueryIntegerField(
            required=False,
            min_value=1,
            max_value=EVENTS_MAX_LIMIT,
            help_text=f"Page size (default {EVENTS_DEFAULT_LIMIT}, max {EVENTS_MAX_LIMIT}).",
        )

    @extend_schema_serializer(component_name="NegotiationEventPage")
    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(
            allow_null=True, help_text="The next page (`after` = this page's last seq), or null."
        )
        results = EventSerializer(many=True)

    @extend_schema(
        tags=["negotiations"],
        operation_id="negotiations_events_list",
        parameters=[FilterSerializer, _TOKEN_PARAMETER],
        responses={200: OutputSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, negotiation_id: int) -> Response:
        access = self.access(request, negotiation_id)  # who asks first: no token is 401, whatever the query
        params = query_params(self.FilterSerializer, request)
        limit, after = params.get("limit", EVENTS_DEFAULT_LIMIT), params.get("after", 0)
        if after > event_last_seq(negotiation_id=access.negotiation.pk):
            raise RequestValidationError(AFTER_BEYOND_LOG, details={"fields": {"after": [AFTER_BEYOND_LOG]}})
        events = list(
            event_list_visible_to(negotiation=access.negotiation, viewer=access.viewer, after_seq=after)[: limit + 1]
        )
        page, more = events[:limit], len(events) > limit
        next_url = None
        if more:
            # Without `token`: a response body never carries a token (the client has it anyway).
            next_url = remove_query_param(request.build_absolute_uri(), "token")
            next_url = replace_query_param(replace_query_param(next_url, "after", page[-1].seq), "limit", limit)
        return Response(self.OutputSerializer({"next": next_url, "results": page}).data)
