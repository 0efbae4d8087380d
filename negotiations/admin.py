"""WHAT: admin pages for listings and negotiations (participants and the event log inline, read-only).
WHY: staff see everything — including private limits — so debugging a negotiation is one page; token
     digests are never shown, and the log is append-only (written by services, never edited by hand).
HOW: standard ModelAdmins; participants and events are read-only inlines of their negotiation.
"""

from django.contrib import admin

from negotiations.models import Event, Listing, Negotiation, Participant


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "category", "list_price", "currency", "created_at")
    search_fields = ("title", "description")
    list_filter = ("category", "currency")


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
        "rounds_used",
        "created_at",
        "updated_at",
        "finished_at",
    )
    inlines = (ParticipantInline, EventInline)

    def has_add_permission(self, request) -> bool:
        return False  # negotiations are created through negotiation_create (tokens, validation)
