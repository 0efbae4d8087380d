"""The project's own system checks: the development secret key is refused when DEBUG is off."""

from django.core import checks

from marketplace.checks import check_secret_key


def test_development_secret_key_without_debug_is_E001(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "dev-insecure-secret-key-change-me"
    assert [m.id for m in checks.run_checks() if m.id and m.id.startswith("marketplace.")] == ["marketplace.E001"]


def test_development_secret_key_is_fine_for_development_and_a_real_key_in_production(settings):
    settings.SECRET_KEY = "dev-insecure-secret-key-change-me"
    settings.DEBUG = True
    assert check_secret_key() == []
    settings.DEBUG = False
    settings.SECRET_KEY = "a-real-secret-key-for-this-test-0123456789"
    assert check_secret_key() == []
