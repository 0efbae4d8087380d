"""WHAT: the project's URL map.
WHY: every API route is versioned under /api/v1/; schema and Swagger UI sit beside it.
HOW: each app owns its routes (`<app>/urls.py`); errors outside views still answer in the JSON envelope.
"""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from health.apis import RootApi

urlpatterns = [
    path("", RootApi.as_view(), name="root"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("health.urls")),
    path("api/v1/llm/", include("llm.urls")),
    path("api/v1/", include("negotiations.urls")),
]

handler400 = "marketplace.api_errors.json_400_handler"
handler403 = "marketplace.api_errors.json_403_handler"
handler404 = "marketplace.api_errors.json_404_handler"
handler500 = "marketplace.api_errors.json_500_handler"
