"""System checks for the negotiation settings: each refused value yields its negotiations.E00x id and
names the variable; the defaults pass; `manage.py check` fails on a bad value."""

import pytest

from negotiations.checks import check_negotiation_settings
from tests.support.manage import run_manage


def ids(messages):
    return [m.id for m in messages]


def test_the_default_settings_pass():
    assert check_negotiation_settings() == []


@pytest.mark.parametrize("value", [0, -1, 51, 80, "10"])
def test_default_max_rounds_outside_1_to_the_cap_is_E001(settings, value):
    settings.NEGOTIATION_DEFAULT_MAX_ROUNDS = value
    messages = check_negotiation_settings()
    assert ids(messages) == ["negotiations.E001"]
    assert "NEGOTIATION_DEFAULT_MAX_ROUNDS" in messages[0].msg and "1 to 50" in messages[0].msg


@pytest.mark.parametrize("value", [1, 50])
def test_default_max_rounds_at_the_bounds_passes(settings, value):
    settings.NEGOTIATION_DEFAULT_MAX_ROUNDS = value
    assert check_negotiation_settings() == []


def test_negative_max_active_is_E002(settings):
    settings.NEGOTIATION_MAX_ACTIVE = -1
    assert ids(check_negotiation_settings()) == ["negotiations.E002"]


@pytest.mark.parametrize(
    "name,value",
    [
        ("NEGOTIATION_STREAM_POLL_SECONDS", 0.0),
        ("NEGOTIATION_STREAM_PING_SECONDS", -1.0),
        ("NEGOTIATION_LLM_TIMEOUT", 0),
        ("NEGOTIATION_STREAM_QUEUE_SIZE", 0),
        ("NEGOTIATION_STREAM_RETRY_MS", -5),
        ("NEGOTIATION_STREAM_DELTA_COALESCE_MS", -0.5),
    ],
)
def test_stream_and_timeout_values_out_of_range_are_E003(settings, name, value):
    setattr(settings, name, value)
    messages = check_negotiation_settings()
    assert ids(messages) == ["negotiations.E003"] and name in messages[0].msg


def test_manage_check_fails_on_a_bad_value(tmp_path):
    result = run_manage("check", database=tmp_path / "db.sqlite3", NEGOTIATION_DEFAULT_MAX_ROUNDS="80")
    assert result.returncode != 0
    assert "negotiations.E001" in result.stderr + result.stdout
