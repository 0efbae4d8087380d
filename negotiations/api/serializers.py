"""WHAT: the output shapes of the negotiations API: Listing, Event, Participant, Negotiation (and the
     one-time tokens), shared by the REST endpoints and the SSE stream.
WHY: an event must look the same in the JSON history and in the stream (a client that switches from
     one to the other, or a test that compares them, sees identical objects); and the OpenAPI schema
     is generated from these classes, so documenting and producing a field cannot drift apart.
HOW: plain DRF serializers, output only (input is validated by each API's nested InputSerializer and
     by the services). Private participant fields are `required=False`: the view leaves them out of
     the data unless the viewer may see that side, and DRF then omits them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from negotiations.models import AgentMode, Event, Listing, Mandate, Negotiation, Role, Strategy

__all__ = [
    "EventSerializer",
    "ListingCreatedSerializer",
    "ListingOwnedSerializer",
    "ListingSerializer",
    "MandateCreatedSerializer",
    "MandateSerializer",
    "NegotiationCreatedSerializer",
    "NegotiationSerializer",
    "ParticipantPrivateSerializer",
    "ParticipantSerializer",
    "TokensSerializer",
]

NEGOTIATION_STATUS_CHOICES = Negotiation.Status.choices  # named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]


@extend_schema_serializer(component_name="Listing")
class ListingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    list_price = serializers.DecimalField(max_digits=12, decimal_places=2, help_text='Decimal string, e.g. "500.00".')
    currency = serializers.CharField(help_text="ISO 4217, e.g. USD.")
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=Listing.Status.values, help_text="available, sold (once, to one negotiation) or withdrawn."
    )
    sold_at = serializers.DateTimeField(allow_null=True, help_text="When it sold; the price is not public.")
    open_negotiations = serializers.IntegerField(help_text="Pending or running negotiations on it (public).")
    has_seller_agent = serializers.BooleanField(
        help_text="A seller agent answers buyers who come by themselves (mandates, negotiations without `seller`)."
    )


@extend_schema_serializer(component_name="ListingSale")
class ListingSaleSerializer(serializers.Serializer):
    negotiation = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    sold_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="ListingOwned")
class ListingOwnedSerializer(ListingSerializer):
    sale = ListingSaleSerializer(
        allow_null=True, help_text="The sale (null until it sells); present for the listing's owner and staff only."
    )


@extend_schema_serializer(component_name="ListingCreated")
class ListingCreatedSerializer(ListingSerializer):
    owner_token = serializers.CharField(
        help_text="Shown only here: withdraws the listing (Authorization: Bearer) and shows its sale."
    )


@extend_schema_serializer(component_name="MandateNegotiation")
class MandateNegotiationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    listing = serializers.IntegerField(source="listing_id")
    status = serializers.CharField()
    end_reason = serializers.CharField()
    agreed_price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


@extend_schema_serializer(component_name="Mandate")
class MandateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Mandate.Status.values)
    want = serializers.DictField(help_text="{q, category, max_price}: max_price is the private ceiling.")
    buyer = serializers.DictField(help_text="The buyer agent's settings (strategy, mode, persona, ...).")
    max_open = serializers.IntegerField()
    max_rounds = serializers.IntegerField(allow_null=True)
    negotiations = MandateNegotiationSerializer(many=True)
    bought = MandateNegotiationSerializer(allow_null=True, help_text="The negotiation that bought, once it has.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="MandateCreated")
class MandateCreatedSerializer(MandateSerializer):
    token = serializers.CharField(
        help_text="Shown only here: reads and cancels the mandate, and is a buyer token for its negotiations."
    )


@extend_schema_serializer(component_name="NegotiationEvent")
class EventSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Position in the negotiation's log (1, 2, ...); the SSE `id`.")
    type = serializers.ChoiceField(choices=Event.Type.values)
    actor = serializers.ChoiceField(choices=Event.Actor.values)
    visibility = serializers.ChoiceField(choices=Event.Visibility.values)
    data = serializers.JSONField(
        help_text="By type — status: {status, reason?}; message: {turn, round, action "
        "(offer|accept|reject|walk_away|say), price (decimal string or null), text}; thought: {turn, round, "
        "reasoning, planned_price, limit_price, target_price, standing_offer, strategy, ...} (private); "
        "guardrail: {turn, round, kind, detail, ...} (private); outcome: {result, end_reason, agreed_price, rounds_used}."
    )
    created_at = serializers.DateTimeField(help_text="When the event was written to the log.")


@extend_schema_serializer(component_name="ParticipantPrivate")
class ParticipantPrivateSerializer(serializers.Serializer):
    limit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Buyer: the most it pays; seller: the least it takes."
    )
    target_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Its opening / aspiration, or null (the strategy derives one).",
    )
    persona = serializers.CharField()
    strategy = serializers.ChoiceField(choices=Strategy.values)
    mode = serializers.ChoiceField(choices=AgentMode.values)
    provider = serializers.CharField(help_text='"" = the default provider.')
    model = serializers.CharField(help_text='"" = the provider\'s default model.')
    temperature = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="Participant")
class ParticipantSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    private = ParticipantPrivateSerializer(
        required=False, help_text="The side's private settings: present only for the viewer's own side (and staff)."
    )


@extend_schema_serializer(component_name="Negotiation")
class NegotiationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    listing = ListingSerializer()
    status = serializers.ChoiceField(choices=Negotiation.Status.choices)
    max_rounds = serializers.IntegerField()
    opens = serializers.ChoiceField(choices=Role.choices)
    seed = serializers.IntegerField(required=False, help_text="Staff (and the creator's 201 response) only.")
    agreed_price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    end_reason = serializers.CharField(
        help_text="accepted | walk_away | max_rounds | cancelled | error | sold_elsewhere | bought_elsewhere | "
        'withdrawn, or "".'
    )
    rounds_used = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    viewer = serializers.ChoiceField(
        choices=["buyer", "seller", "observer", "staff"], help_text="Who this response was shaped for."
    )
    participants = ParticipantSerializer(many=True)


@extend_schema_serializer(component_name="NegotiationTokens")
class TokensSerializer(serializers.Serializer):
    buyer = serializers.CharField()
    seller = serializers.CharField()
    observer = serializers.CharField()


@extend_schema_serializer(component_name="NegotiationCreated")
class NegotiationCreatedSerializer(NegotiationSerializer):
    tokens = TokensSerializer(help_text="Bearer tokens, shown only in this response (stored hashed).")
