"""WHAT: admin pages for listings (status, sale, negotiations), negotiations (participants and the log
     inline, read-only) and mandates.
WHY: staff see everything — including private limits — so debugging a negotiation is one page; token
     digests are never shown, and the log is append-only (written by services, never edited by hand).
HOW: standard ModelAdmins; participants and events are read-only inlines of their negotiation, a
     listing's negotiations of their listing; market state changes only through the services.
"""

from django.contrib import admin
from django.db.models import Count, Q, QuerySet

from negotiations.models import Event, Listing, Mandate, Negotiation, Participant

OPEN = Q(negotiations__status__in=(Negotiation.Status.PENDING, Negotiation.Status.RUNNING))


class ListingNegotiationInline(admin.TabularInline):
    model = Negotiation
    fk_name = "listing"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("status", "end_reason", "agreed_price", "rounds_used", "mandate", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "category",
        "list_price",
        "currency",
        "status",
        "sold_price",
        "sold_negotiation",
        "open_negotiations",
        "created_at",
    )
    search_fields = ("title", "description")
    list_filter = ("status", "category", "currency")
    exclude = ("owner_token_hash",)
    readonly_fields = ("status", "sold_negotiation", "sold_price", "sold_at", "seller_settings")
    inlines = (ListingNegotiationInline,)

    def get_queryset(self, request) -> QuerySet[Listing]:
        return super().get_queryset(request).annotate(open_count=Count("negotiations", filter=OPEN))

    @admin.display(description="open negotiations", ordering="open_count")
    def open_negotiations(self, obj: Listing) -> int:
        return obj.open_count


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "want_q",
        "want_category",
        "max_price",
        "max_open",
        "status",
        "bought_negotiation",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("want_q", "want_category")
    exclude = ("token_hash",)
    readonly_fields = (
        "want_q",
        "want_category",
        "max_price",
        "buyer_settings",
        "max_open",
        "max_rounds",
        "status",
        "bought_negotiation",
        "created_at",
        "finished_at",
    )

    def has_add_permission(self, request) -> bool:
        return False  # mandates are created through mandate_create (token, validation, shopping)


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    fields = ("role", "strategy", "mode", "limit_price", "target_price", "provider", "model", "temperature", "persona")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    can_delete = False
    fields = ("seq", "type", "actor", "visibility", "data", "created_at")
    readonly_fields = fields
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Negotiation)
class NegotiationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "listing",
        "status",
        "opens",
        "max_rounds",
        "rounds_used",
        "agreed_price",
        "end_reason",
        "mandate",
        "created_at",
    )
    list_filter = ("status", "end_reason", "opens")
    search_fields = ("listing__title",)
    exclude = ("observer_token_hash",)
    readonly_fields = (
        "listing",
        "status",
        "max_rounds",
        "opens",
        "seed",
        "agreed_price",
        "end_reason",
        "mandate",
        "buyer_offer",
        "seller_offer",
        "rounds_used",
        "created_at",
        "updated_at",
        "finished_at",
    )
    inlines = (ParticipantInline, EventInline)

    def has_add_permission(self, request) -> bool:
        return False  # negotiations are created through negotiation_create (tokens, validation)
