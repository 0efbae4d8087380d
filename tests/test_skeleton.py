"""Smoke test: the project loads, migrates and serves the admin login page."""
import pytest


@pytest.mark.django_db
def test_admin_login_page_answers(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200


def test_unknown_url_answers_in_the_error_envelope(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "Not found."}}
