"""Smoke test: the project loads, migrates and serves the admin login page; unknown URLs get the JSON 404."""

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_admin_login_page_answers(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200


def test_unknown_url_answers_in_the_error_envelope(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "Not found."}}


@override_settings(DEBUG=True)  # Django's debug 404 page is HTML; an API client must still get JSON
@pytest.mark.parametrize("path", ["/api/v1/no/such/endpoint", "/api/v1/negotiations/abc", "/api/v1/health/"])
def test_unknown_api_url_answers_in_the_error_envelope_with_debug_on(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "Not found."}}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_url_answers_the_json_404_to_writes_too_with_csrf_enforced(method):
    # e.g. an OpenAI SDK pointed at /api/v1 instead of /api/v1/llm: not the CSRF check's HTML 403
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/chat/completions", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "Not found."}}
