"""WHAT: URL routes of the `negotiations` app, mounted under /api/v1/."""

from django.urls import path

from negotiations.api.market_views import ListingWithdrawApi, MandateCancelApi, MandateCreateApi, MandateDetailApi
from negotiations.api.views import (
    ListingDetailApi,
    ListingListCreateApi,
    NegotiationCancelApi,
    NegotiationCreateApi,
    NegotiationDetailApi,
    NegotiationEventListApi,
    NegotiationStartApi,
)
from negotiations.live.views import NegotiationStreamApi

urlpatterns = [
    path("listings", ListingListCreateApi.as_view(), name="listings"),
    path("listings/<int:listing_id>", ListingDetailApi.as_view(), name="listing-detail"),
    path("listings/<int:listing_id>/withdraw", ListingWithdrawApi.as_view(), name="listing-withdraw"),
    path("mandates", MandateCreateApi.as_view(), name="mandates"),
    path("mandates/<int:mandate_id>", MandateDetailApi.as_view(), name="mandate-detail"),
    path("mandates/<int:mandate_id>/cancel", MandateCancelApi.as_view(), name="mandate-cancel"),
    path("negotiations", NegotiationCreateApi.as_view(), name="negotiations"),
    path("negotiations/<int:negotiation_id>", NegotiationDetailApi.as_view(), name="negotiation-detail"),
    path("negotiations/<int:negotiation_id>/start", NegotiationStartApi.as_view(), name="negotiation-start"),
    path("negotiations/<int:negotiation_id>/cancel", NegotiationCancelApi.as_view(), name="negotiation-cancel"),
    path("negotiations/<int:negotiation_id>/events", NegotiationEventListApi.as_view(), name="negotiation-events"),
    path("negotiations/<int:negotiation_id>/stream", NegotiationStreamApi.as_view(), name="negotiation-stream"),
]
