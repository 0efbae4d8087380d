"""WHAT: the market's endpoints: `POST /listings/{id}/withdraw`, and buyer mandates (`POST /mandates`,
     `GET /mandates/{id}`, `POST /mandates/{id}/cancel`).
WHY: a listing sells once and buyers compete; its owner must be able to take it off the market, and a
     person must be able to send a buyer agent shopping instead of creating each negotiation by hand.
HOW: thin DRF views over negotiations/market.py. A listing's owner token or staff may withdraw it; a
     mandate's token (shown once) reads and cancels it and is the buyer's token in its negotiations.
     Creating a mandate spends the model like creating a negotiation, so it needs the same credentials.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.errors import NotAuthenticatedError, NotFoundError
from marketplace.fields import StrictCharField, StrictNumberField, read_json_object
from marketplace.schema import error_responses
from negotiations.api.access import (
    CREATE_AUTHENTICATION,
    NEGOTIATION_AUTHENTICATION,
    AccessCheckedByTheView,
    CreateNeedsGatewayKeyOrStaff,
    listing_owner_or_staff,
    mandate_access_get,
)
from negotiations.api.inputs import PriceField, StrictIntegerField, StrictSerializer, validated
from negotiations.api.serializers import ListingOwnedSerializer, MandateCreatedSerializer, MandateSerializer
from negotiations.engine.recovery import orphans_resume_once
from negotiations.market import listing_withdraw, mandate_cancel, mandate_create
from negotiations.models import AgentMode, Strategy
from negotiations.selectors import listing_bodies, listing_get, mandate_body
from negotiations.validation import (
    MAX_CATEGORY_CHARS,
    MAX_ID,
    MAX_MANDATE_OPEN,
    MAX_MODEL_CHARS,
    MAX_PERSONA_CHARS,
    MAX_PROVIDER_CHARS,
    MAX_TITLE_CHARS,
    TEMPERATURE_RANGE,
)

__all__ = ["ListingWithdrawApi", "MandateCancelApi", "MandateCreateApi", "MandateDetailApi"]


class ListingWithdrawApi(APIView):
    """available -> withdrawn; its open negotiations end `withdrawn`. The owner token or staff."""

    authentication_classes = NEGOTIATION_AUTHENTICATION
    permission_classes = [AccessCheckedByTheView]

    @extend_schema(
        tags=["listings"],
        operation_id="listings_withdraw",
        request=None,
        responses={200: ListingOwnedSerializer, **error_responses(401, 403, 404, 409)},
        description="A sold or already withdrawn listing: 409 LISTING_NOT_AVAILABLE, nothing written.",
    )
    def post(self, request: Request, listing_id: int) -> Response:
        listing = listing_get(listing_id=listing_id) if listing_id <= MAX_ID else None
        if listing is None:
            raise NotFoundError("No such listing.")
        if not listing_owner_or_staff(request, listing):
            raise NotAuthenticatedError(
                "The listing's owner token (Authorization: Bearer <token>) or a staff user is required."
            )
        listing = listing_withdraw(listing=listing)
        return Response(ListingOwnedSerializer(listing_bodies([listing], sale_for={listing.pk})[0]).data)


@extend_schema_serializer(component_name="MandateWant")
class WantSerializer(StrictSerializer):
    q = StrictCharField(required=False, allow_blank=True, max_length=MAX_TITLE_CHARS)
    category = StrictCharField(required=False, allow_blank=True, max_length=MAX_CATEGORY_CHARS)
    max_price = PriceField(help_text="The most it pays (private to the mandate's owner).")


class MandateCreateApi(APIView):
    """Send a buyer agent shopping: it negotiates with up to `max_open` matching available listings at
    once and buys at most once. Its token is returned here only."""

    authentication_classes = CREATE_AUTHENTICATION
    permission_classes = [CreateNeedsGatewayKeyOrStaff]

    @extend_schema_serializer(component_name="MandateCreateRequest")
    class InputSerializer(StrictSerializer):
        want = WantSerializer()
        strategy = serializers.ChoiceField(choices=Strategy.choices, required=False)
        mode = serializers.ChoiceField(choices=AgentMode.choices, required=False)
        max_open = StrictIntegerField(required=False, min_value=1, max_value=MAX_MANDATE_OPEN)
        max_rounds = StrictIntegerField(required=False, min_value=1)
        persona = StrictCharField(required=False, allow_blank=True, max_length=MAX_PERSONA_CHARS)
        provider = StrictCharField(required=False, allow_blank=True, max_length=MAX_PROVIDER_CHARS)
        model = StrictCharField(required=False, allow_blank=True, max_length=MAX_MODEL_CHARS)
        temperature = StrictNumberField(required=False, min_value=TEMPERATURE_RANGE[0], max_value=TEMPERATURE_RANGE[1])

    @extend_schema(
        tags=["mandates"],
        operation_id="mandates_create",
        request=InputSerializer,
        responses={201: MandateCreatedSerializer, **error_responses(400, 401, 409, 413, 429)},
        examples=[
            OpenApiExample(
                "A bike under $300",
                request_only=True,
                value={"want": {"q": "bike", "max_price": "300"}, "mode": "rule", "max_open": 3},
            )
        ],
        description="No available listing with a seller agent matches: 409 NO_MATCHING_LISTING. Nothing is "
        "written on any error.",
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, read_json_object(request))
        orphans_resume_once()
        with transaction.atomic():  # a start refused for capacity (429) leaves no mandate behind
            mandate, token = mandate_create(**data)
        body = {**mandate_body(mandate=mandate), "token": token}
        headers = {"Location": reverse("mandate-detail", args=[mandate.pk])}
        return Response(MandateCreatedSerializer(body).data, status=201, headers=headers)


class MandateDetailApi(APIView):
    authentication_classes = NEGOTIATION_AUTHENTICATION
    permission_classes = [AccessCheckedByTheView]

    @extend_schema(
        tags=["mandates"],
        operation_id="mandates_retrieve",
        responses={200: MandateSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, mandate_id: int) -> Response:
        mandate = mandate_access_get(request, mandate_id)
        return Response(MandateSerializer(mandate_body(mandate=mandate)).data)


class MandateCancelApi(APIView):
    authentication_classes = NEGOTIATION_AUTHENTICATION
    permission_classes = [AccessCheckedByTheView]

    @extend_schema(
        tags=["mandates"],
        operation_id="mandates_cancel",
        request=None,
        responses={200: MandateSerializer, **error_responses(401, 404, 409)},
        description="Ends its open negotiations (`cancelled`). Already bought, exhausted or cancelled: 409 "
        "MANDATE_NOT_ACTIVE.",
    )
    def post(self, request: Request, mandate_id: int) -> Response:
        mandate = mandate_cancel(mandate=mandate_access_get(request, mandate_id))
        return Response(MandateSerializer(mandate_body(mandate=mandate)).data)
