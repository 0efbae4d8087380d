"""Django's sync test client runs each async view on a fresh event loop (async_to_sync): two requests in
a row must both reach the provider, whose pooled HTTP client is per event loop. (Streams across two
loops are covered in test_client.py with async_to_sync: the sync client pulls a stream's first chunk on
the view's loop and the rest on another one, which no pooled connection can survive.)"""

import json

import pytest

from tests.support.fake_openai import expected_text

pytestmark = pytest.mark.django_db

URL = "/api/v1/llm/chat/completions"


def post(client, **body):
    return client.post(
        URL, data=json.dumps({"messages": [{"role": "user", "content": "Hi"}], **body}), content_type="application/json"
    )


def test_two_sequential_completions_through_the_sync_test_client(client, fake_default_provider):
    first, second = post(client), post(client)
    assert first.status_code == second.status_code == 200, (first.content, second.content)
    assert first.json()["choices"][0]["message"]["content"] == expected_text(8)
    assert second.json()["choices"][0]["message"]["content"] == expected_text(8)
    assert fake_default_provider.attempts(path="/v1/chat/completions") == 2
