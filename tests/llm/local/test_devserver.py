"""Tests for llm/local/devserver.py's decision: when `make run` starts the bundled local model. Running it
for real (model server + Django, then Ctrl-C) is in tests/e2e/test_devserver.py."""

from __future__ import annotations

import pytest

from llm.local import server as local_server
from llm.local.devserver import devserver_plan
from llm.local.server import free_port


@pytest.fixture
def free_local_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.mark.parametrize("value", ["off", "OFF", "false", "0", "no"])
def test_local_llm_off_never_starts_the_model(value, free_local_url):
    plan = devserver_plan(local_llm=value, base_url=free_local_url, provider_enabled=True)
    assert not plan.start_local_model
    assert "LOCAL_LLM=off" in plan.reason


def test_a_disabled_lm_studio_provider_starts_nothing(free_local_url):
    plan = devserver_plan(local_llm="auto", base_url=free_local_url, provider_enabled=False)
    assert not plan.start_local_model
    assert "disabled" in plan.reason


def test_a_remote_url_starts_nothing():
    plan = devserver_plan(local_llm="auto", base_url="http://192.0.2.1:1234/v1", provider_enabled=True)
    assert not plan.start_local_model
    assert "not on this machine" in plan.reason


def test_a_server_already_answering_is_used_and_nothing_starts(fake_openai):
    plan = devserver_plan(local_llm="auto", base_url=fake_openai.base_url, provider_enabled=True)
    assert not plan.start_local_model
    assert "already answers" in plan.reason


@pytest.mark.parametrize("value", ["auto", "on", ""])
def test_nothing_answering_at_a_local_url_starts_the_model(value, free_local_url):
    plan = devserver_plan(local_llm=value, base_url=free_local_url, provider_enabled=True)
    assert plan.start_local_model
    assert free_local_url in plan.reason


def test_without_the_install_nothing_starts_and_the_make_target_is_named(monkeypatch, free_local_url):
    monkeypatch.setattr(local_server, "SERVER_MODULES", ("no_such_module_for_this_test",))
    plan = devserver_plan(local_llm="auto", base_url=free_local_url, provider_enabled=True)
    assert not plan.start_local_model
    assert "no_such_module_for_this_test" in plan.reason
    assert "make local-llm" in plan.reason
