"""The OpenAPI schema at /api/schema/ documents every endpoint of the HTTP API, including the chat
endpoint's request body and both of its 200 media types; Swagger UI is served at /api/docs/."""

import pytest
from django.core.management import call_command

ENDPOINTS = {
    "/": "get",
    "/api/v1/health": "get",
    "/api/v1/health/live": "get",
    "/api/v1/llm/status": "get",
    "/api/v1/llm/models": "get",
    "/api/v1/llm/chat/completions": "post",
}


@pytest.mark.parametrize("path,method", ENDPOINTS.items())
def test_every_endpoint_is_documented(schema, path, method):
    assert method in schema["paths"][path]


def test_chat_endpoint_documents_its_request_json_and_sse_answers_and_errors(schema):
    operation = schema["paths"]["/api/v1/llm/chat/completions"]["post"]
    request = schema["components"]["schemas"][
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    ]
    assert {"messages", "model", "provider", "temperature", "max_tokens", "stream", "stream_options"} <= set(
        request["properties"]
    )
    assert request["required"] == ["messages"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    description = operation["responses"]["200"]["description"]  # one per status, for both media types
    assert "`stream: false`" in description and "`stream: true`" in description and "[DONE]" in description
    for status in ("400", "401", "413", "429", "502", "503"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorResponse")


def test_schema_is_valid_openapi(tmp_path, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--file", str(tmp_path / "schema.yaml"))


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
