"""WHAT: the project's URL map.
WHY: every API route is versioned under /api/v1/; schema and Swagger UI sit beside it.
HOW: each app owns its routes (`<app>/urls.py`); errors outside views still answer in the JSON envelope.
     An unknown /api/v1/ path is answered by a catch-all route, so API clients get the JSON 404 with
     DEBUG on too (Django's debug 404 page is HTML; handler404 only applies with DEBUG off).
"""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from marketplace.api_errors import json_404_handler
from web.views import market_page

urlpatterns = [
    # People's pages (web/); `/` still answers the API's JSON root to a client not asking for text/html.
    path("", market_page, name="root"),
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("health.urls")),
    path("api/v1/llm/", include("llm.urls")),
    path("api/v1/", include("negotiations.api.urls")),
    # Last: only what nothing else matched. CSRF-exempt, as an unmatched path was before it had a route:
    # a POST to a wrong API path must get this JSON 404, not the CSRF check's HTML 403.
    re_path(r"^api/v1/", csrf_exempt(json_404_handler), name="api-not-found"),
]

handler400 = "marketplace.api_errors.json_400_handler"
handler403 = "marketplace.api_errors.json_403_handler"
handler404 = "marketplace.api_errors.json_404_handler"
handler500 = "marketplace.api_errors.json_500_handler"
