"""The middleware stack under ASGI (inline hooks, marketplace/middleware.py) behaves as Django's: the
admin login (CSRF check of a POSTed form, session save, messages) works over a live uvicorn server,
security headers are set, and API requests are unaffected. Any database access left inline would
fail these with SynchronousOnlyOperation. DJANGO_INLINE_MIDDLEWARE_HOOKS=false restores Django's classes."""

import ast
import os
import re
import subprocess
import sys

import httpx
import pytest
from django.contrib.auth import get_user_model

from marketplace import middleware


@pytest.fixture
def admin_user(transactional_db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-for-tests-only")


def test_admin_login_over_asgi_saves_the_session_and_checks_csrf(live_gateway_server, admin_user):
    with httpx.Client(base_url=live_gateway_server.url, timeout=10) as client:
        page = client.get("/admin/login/")
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

        refused = client.post(
            "/admin/login/",
            data={"username": "admin", "password": "pw-for-tests-only"},
            headers={"Referer": f"{live_gateway_server.url}/admin/login/"},
        )
        assert refused.status_code == 403  # no CSRF token

        logged_in = client.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "admin",
                "password": "pw-for-tests-only",
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            },
        )
        assert logged_in.status_code == 302
        assert "sessionid" in client.cookies
        assert client.get("/admin/").status_code == 200


def test_api_requests_pass_the_stack_with_security_headers(live_gateway_server):
    response = httpx.get(f"{live_gateway_server.url}/api/v1/health/live", timeout=10)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sessionid" not in response.cookies


def test_every_stock_middleware_is_replaced_by_a_subclass(settings):
    from django.utils.module_loading import import_string

    stock = [import_string(path) for path in settings.MIDDLEWARE if not path.startswith("web.")]
    assert stock and all(issubclass(cls, middleware.InlineHooksMixin) for cls in stock)


def test_the_setting_switches_back_to_djangos_own_classes():
    code = "from django.conf import settings; import django; django.setup(); print(settings.MIDDLEWARE)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings", "DJANGO_INLINE_MIDDLEWARE_HOOKS": "false"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    stack = ast.literal_eval(out.strip())
    assert not any(path.startswith("marketplace.middleware.") for path in stack)
    assert "django.middleware.csrf.CsrfViewMiddleware" in stack and len(stack) == 8
