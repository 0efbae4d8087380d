"""WHAT: the market domain: Listing (sold once), Negotiation, Participant (one buyer, one seller), Mandate and Event.
WHY: the Event table is the source of truth (state is rebuilt from it, the history and the live stream
     read it, a restarted negotiation resumes from it); the other rows hold configuration and a cached
     projection of the outcome so lists and admin pages need no replay.
HOW: prices are Decimal(12, 2) in the listing currency; access tokens are stored as sha256 hex digests
     only (negotiations/tokens.py); `(negotiation, seq)` is unique, so a writer that raced another one
     fails loudly instead of interleaving two histories. Rows are written by services.py, log.py and market.py.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

PRICE_DIGITS = 12
PRICE_PLACES = 2


class Role(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"


class Strategy(models.TextChoices):
    """Faratin-style time-dependent concession tactics (negotiations/agents/strategy.py)."""

    BOULWARE = "boulware", "Boulware (concede late)"
    LINEAR = "linear", "Linear"
    CONCEDER = "conceder", "Conceder (concede early)"


class AgentMode(models.TextChoices):
    NARRATE = "narrate", "Strategy decides, LLM writes the words"
    LLM = "llm", "LLM proposes, engine checks"
    RULE = "rule", "No LLM, templated words"


class Listing(models.Model):
    """An item for sale, sold once; `list_price` and the status are public, the sale price is not."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        SOLD = "sold", "Sold"
        WITHDRAWN = "withdrawn", "Withdrawn"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=50, blank=True, default="")
    list_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)
    # available -> sold | withdrawn, only by a conditional update (negotiations/log.py, market.py).
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.AVAILABLE, db_index=True)
    sold_negotiation = models.ForeignKey(
        "Negotiation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sold_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True)
    sold_at = models.DateTimeField(null=True, blank=True)
    # The seller agent that answers buyers who come by themselves (mandates): participant settings as
    # negotiations/validation.py cleans them, its floor included. Private to the owner and staff.
    seller_settings = models.JSONField(null=True, blank=True, editable=False)
    owner_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.list_price} {self.currency})"


class Negotiation(models.Model):
    """One buyer/seller negotiation over a listing; status and outcome mirror the event log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        AGREED = "agreed", "Agreed"
        NO_DEAL = "no_deal", "No deal"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    class EndReason(models.TextChoices):
        ACCEPTED = "accepted", "An offer was accepted"
        WALK_AWAY = "walk_away", "A side walked away"
        MAX_ROUNDS = "max_rounds", "The round limit was reached"
        CANCELLED = "cancelled", "Cancelled"
        ERROR = "error", "Internal error"
        SOLD_ELSEWHERE = "sold_elsewhere", "The listing was sold in another negotiation"
        BOUGHT_ELSEWHERE = "bought_elsewhere", "The buyer's mandate bought elsewhere"
        WITHDRAWN = "withdrawn", "The listing was withdrawn"

    FINISHED_STATUSES = frozenset({Status.AGREED, Status.NO_DEAL, Status.CANCELLED, Status.FAILED})

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="negotiations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    max_rounds = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(settings.NEGOTIATION_MAX_ROUNDS_CAP)]
    )
    opens = models.CharField(max_length=6, choices=Role.choices, default=Role.SELLER)
    seed = models.BigIntegerField()
    observer_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    agreed_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True, default="")
    mandate = models.ForeignKey("Mandate", on_delete=models.PROTECT, null=True, blank=True, related_name="negotiations")
    # Each side's standing offer, a projection of the log kept by the turn commit, so a market's best
    # offer is one aggregate query instead of a replay of every negotiation on the listing.
    buyer_offer = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True)
    seller_offer = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True)
    rounds_used = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Negotiation {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES


class Mandate(models.Model):
    """A buyer agent that shops: it negotiates with up to `max_open` matching listings at once and buys
    at most once. `max_price` (its ceiling) is private to its owner."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Shopping"
        BOUGHT = "bought", "Bought"
        EXHAUSTED = "exhausted", "No listing left to try"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED_STATUSES = frozenset({Status.BOUGHT, Status.EXHAUSTED, Status.CANCELLED})

    want_q = models.CharField(max_length=200, blank=True, default="")
    want_category = models.CharField(max_length=50, blank=True, default="")
    max_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    # The buyer side's other settings (strategy, mode, persona, provider, model, temperature).
    buyer_settings = models.JSONField(default=dict)
    max_open = models.PositiveSmallIntegerField(default=3)
    max_rounds = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    bought_negotiation = models.ForeignKey(
        "Negotiation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Mandate {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES


class Participant(models.Model):
    """One side of a negotiation. `limit_price`, `target_price` and the token hash are private."""

    negotiation = models.ForeignKey(Negotiation, on_delete=models.CASCADE, related_name="participants")
    role = models.CharField(max_length=6, choices=Role.choices)
    persona = models.TextField(blank=True, default="")
    # Buyer: the most it will pay. Seller: the least it will take.
    limit_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    # The price it opens with / aspires to; None lets the strategy derive one.
    target_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.LINEAR)
    mode = models.CharField(max_length=8, choices=AgentMode.choices, default=AgentMode.NARRATE)
    provider = models.CharField(max_length=64, blank=True, default="")  # "" = the default provider
    model = models.CharField(max_length=200, blank=True, default="")  # "" = the provider's default
    temperature = models.FloatField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["negotiation_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["negotiation", "role"], name="participant_one_per_role"),
        ]

    def __str__(self) -> str:
        return f"{self.role} in negotiation {self.negotiation_id}"


class Event(models.Model):
    """One step of a negotiation's log. `visibility` says who may see it (negotiations/visibility.py)."""

    class Type(models.TextChoices):
        STATUS = "status", "Status change"
        MESSAGE = "message", "Public message (with its action)"
        THOUGHT = "thought", "Private reasoning"
        GUARDRAIL = "guardrail", "Guardrail intervention"
        OUTCOME = "outcome", "Outcome"

    class Actor(models.TextChoices):
        BUYER = "buyer", "Buyer"
        SELLER = "seller", "Seller"
        SYSTEM = "system", "System"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Everyone in the negotiation"
        BUYER = "buyer", "Buyer side only"
        SELLER = "seller", "Seller side only"
        STAFF = "staff", "Staff only"

    negotiation = models.ForeignKey(Negotiation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=Type.choices)
    actor = models.CharField(max_length=6, choices=Actor.choices)
    visibility = models.CharField(max_length=6, choices=Visibility.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["negotiation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["negotiation", "seq"], name="event_unique_seq_per_negotiation"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} by {self.actor} ({self.visibility})"
