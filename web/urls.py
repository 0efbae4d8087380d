"""WHAT: the web pages' routes: `/`, `/listings/<id>/`, `/negotiations/new`, `/negotiations/<id>/`.
WHY: people's pages sit outside /api/, which stays JSON only.
HOW: included at the root by marketplace/urls.py, after the API's routes.
"""

from django.urls import path

from web import views

urlpatterns = [
    path("", views.market_page, name="web-market"),
    path("listings/<int:listing_id>/", views.listing_page, name="web-listing"),
    path("negotiations/new", views.negotiation_new_page, name="web-negotiation-new"),
    path("negotiations/<int:negotiation_id>/", views.negotiation_page, name="web-negotiation"),
]
