"""Provider configuration reads (llm/selectors.py): the async read looks after its own database
connection, since the gateway's requests no longer run the request signals in its thread."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from llm.selectors import aprovider_settings_all

pytestmark = pytest.mark.django_db(transaction=True)


def default_connection_is_open() -> bool:
    return connections["default"].connection is not None


async def test_an_async_read_leaves_no_connection_open_beyond_conn_max_age(settings):
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    configs = await aprovider_settings_all()
    assert settings.LLM_PROVIDER in configs
    assert not await sync_to_async(default_connection_is_open)()  # the thread the read ran in


async def test_an_async_read_recovers_from_a_connection_that_broke_while_idle():
    def break_connection_behind_djangos_back():  # as a database server restart does
        connection = connections["default"]
        connection.ensure_connection()
        connection.connection.close()

    await sync_to_async(break_connection_behind_djangos_back)()
    configs = await aprovider_settings_all()
    assert settings_names() <= set(configs)


def settings_names() -> set:
    from django.conf import settings

    return set(settings.LLM_PROVIDERS)
