"""WHAT: `ListingFilter`, the discovery filters of `GET /api/v1/listings`: `q` (title or description),
     `category`, `min_price`/`max_price`, `status` and `ordering`, and `listings_filtered(request)`.
WHY: buyers (people and mandates) look for what is for sale; django-filter turns query parameters into
     a queryset with form validation, so a bad value is a 400 naming the parameter, not a 500.
HOW: a FilterSet over Listing; its form's errors become one RequestValidationError
     (`details.fields.<parameter>`). Unknown parameters are ignored, as list endpoints usually do.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter

from marketplace.errors import RequestValidationError
from negotiations.models import Listing

__all__ = ["LISTING_FILTER_PARAMETERS", "ORDERING_FIELDS", "ListingFilter", "listings_filtered"]

ORDERING_FIELDS = ("list_price", "created_at", "id")
# The OpenAPI description of the filters (the view is an APIView, which drf-spectacular's django-filter
# extension does not inspect).
LISTING_FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Text in the title or description (case-insensitive)."),
    OpenApiParameter("category", str, description="Exact category, case-insensitive."),
    OpenApiParameter("min_price", str, description="Lowest list price, a decimal number."),
    OpenApiParameter("max_price", str, description="Highest list price, a decimal number."),
    OpenApiParameter("status", str, enum=list(Listing.Status.values), description="available, sold or withdrawn."),
    OpenApiParameter(
        "ordering",
        str,
        enum=[f"{sign}{name}" for name in ORDERING_FIELDS for sign in ("", "-")],
        description="Sort field; `-` for descending. Default: newest first.",
    ),
]


class ListingFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=200, help_text="Text in the title or description.")
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact", max_length=50)
    min_price = django_filters.NumberFilter(field_name="list_price", lookup_expr="gte", max_digits=12, decimal_places=2)
    max_price = django_filters.NumberFilter(field_name="list_price", lookup_expr="lte", max_digits=12, decimal_places=2)
    status = django_filters.ChoiceFilter(choices=Listing.Status.choices)
    ordering = django_filters.OrderingFilter(fields=ORDERING_FIELDS)

    class Meta:
        model = Listing
        fields: list[str] = []

    def search(self, queryset: QuerySet[Listing], name: str, value: str) -> QuerySet[Listing]:
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


def listings_filtered(query: Any, queryset: QuerySet[Listing]) -> QuerySet[Listing]:
    """`queryset` narrowed by the request's query parameters; 400 VALIDATION_ERROR naming each bad one."""
    filterset = ListingFilter(query, queryset=queryset)
    if not filterset.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}
        raise RequestValidationError("Invalid listing filter.", details={"fields": fields})
    return filterset.qs
