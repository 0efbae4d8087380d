"""Edge validation of chat completion requests: what passes (not stricter than the servers behind us)
and what is refused, with the field named in the error."""

import pytest
from django.test import override_settings

from llm.gateway.inputs import ChatCompletionInputSerializer
from llm.types import ChatMessage
from marketplace.errors import RequestValidationError
from marketplace.fields import read_json_object

USER = {"role": "user", "content": "Hi"}


def validate(**body):
    serializer = ChatCompletionInputSerializer(data={"messages": [USER], **body})
    return serializer, serializer.is_valid()


@pytest.mark.parametrize("role", ["system", "developer", "user", "assistant", "tool"])
def test_every_openai_role_is_accepted(role):
    serializer, ok = validate(messages=[{"role": role, "content": "x"}])
    assert ok, serializer.errors
    assert serializer.chat_request().messages == (ChatMessage(role, "x", {}),)


def test_max_tokens_minus_one_passes_through_as_no_limit():
    serializer, ok = validate(max_tokens=-1)
    assert ok, serializer.errors
    assert serializer.chat_request().max_tokens == -1


@pytest.mark.parametrize(
    "value", [0, -2, 32769, 1.5, "10", True], ids=["zero", "minus-two", "above-limit", "float", "string", "bool"]
)
def test_max_tokens_outside_the_range_or_not_an_integer_is_refused(value):
    serializer, ok = validate(max_tokens=value)
    assert not ok
    assert "max_tokens" in serializer.errors


@override_settings(LLM_MAX_TOKENS_LIMIT=100)
def test_max_tokens_limit_comes_from_settings():
    assert validate(max_tokens=100)[1]
    assert not validate(max_tokens=101)[1]


def test_max_completion_tokens_is_used_when_max_tokens_is_absent():
    serializer, ok = validate(max_completion_tokens=42)
    assert ok
    assert serializer.chat_request().max_tokens == 42


@pytest.mark.parametrize("value", [0, 2, 0.7, 1])
def test_temperature_in_range_is_accepted(value):
    serializer, ok = validate(temperature=value)
    assert ok
    assert serializer.chat_request().temperature == value


@pytest.mark.parametrize("value", [-0.1, 2.01, "0.5", True, [1]], ids=["below", "above", "string", "bool", "list"])
def test_temperature_out_of_range_or_not_a_number_is_refused(value):
    serializer, ok = validate(temperature=value)
    assert not ok
    assert "temperature" in serializer.errors


@pytest.mark.parametrize(
    "content",
    [5, {"text": "x"}, True, [{"type": "image_url", "image_url": {"url": "x"}}], ["x"]],
    ids=["int", "object", "bool", "image-part", "bare-string-part"],
)
def test_non_string_content_is_refused(content):
    serializer, ok = validate(messages=[{"role": "user", "content": content}])
    assert not ok
    assert "content" in serializer.errors["messages"][0]


def test_text_content_parts_are_joined_with_newlines():
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    serializer, ok = validate(messages=[{"role": "user", "content": parts}])
    assert ok
    assert serializer.chat_request().messages[0].content == "a\nb"


def test_null_content_is_allowed_only_for_assistant_tool_calls():
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    serializer, ok = validate(
        messages=[
            USER,
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ]
    )
    assert ok, serializer.errors
    messages = serializer.chat_request().messages
    assert messages[1].to_openai() == {"role": "assistant", "content": None, "tool_calls": calls}
    assert messages[2].extra == {"tool_call_id": "c1"}
    assert not validate(messages=[{"role": "user", "content": None}])[1]
    assert not validate(messages=[{"role": "user"}])[1]


CALL = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": None, "tool_calls": CALL},
        {"role": "assistant", "tool_calls": CALL},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "assistant", "content": ""},
    ],
    ids=["null-with-tool-calls", "missing-with-tool-calls", "null-with-function-call", "empty-string"],
)
def test_an_assistant_message_has_content_or_a_call(message):
    serializer, ok = validate(messages=[USER, message])
    assert ok, serializer.errors


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant"},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "assistant", "content": None, "tool_calls": None, "refusal": "No."},
    ],
    ids=["missing", "null", "empty-tool-calls", "refusal-only"],
)
def test_an_assistant_message_without_content_or_a_call_is_refused(message):
    # OpenAI: content is "required unless tool_calls or function_call is specified"
    serializer, ok = validate(messages=[USER, message])
    assert not ok
    assert serializer.errors["messages"][1] == {
        "content": ["Required (a string) for an assistant message without tool_calls or function_call."]
    }


@pytest.mark.parametrize(
    "messages", [[], None, "hi", [None], ["hi"]], ids=["empty", "null", "string", "null-item", "string-item"]
)
def test_missing_empty_or_malformed_messages_are_refused(messages):
    serializer, ok = validate(messages=messages)
    assert not ok
    assert "messages" in serializer.errors


def test_missing_messages_is_refused():
    serializer = ChatCompletionInputSerializer(data={"model": "m"})
    assert not serializer.is_valid()
    assert "messages" in serializer.errors


def test_unknown_role_is_refused():
    serializer, ok = validate(messages=[{"role": "wizard", "content": "x"}])
    assert not ok
    assert "role" in serializer.errors["messages"][0]


@override_settings(LLM_MAX_MESSAGES=3)
def test_more_messages_than_the_limit_are_refused():
    assert validate(messages=[USER] * 3)[1]
    serializer, ok = validate(messages=[USER] * 4)
    assert not ok
    assert "At most 3" in str(serializer.errors["messages"])


def test_unknown_top_level_field_is_refused_by_name():
    serializer, ok = validate(temprature=0.2)
    assert not ok
    assert list(serializer.errors) == ["temprature"]


def test_unknown_message_field_is_refused_by_name():
    serializer, ok = validate(messages=[{"role": "user", "content": "x", "colour": "red"}])
    assert not ok
    assert "colour" in serializer.errors["messages"][0]


def test_openai_parameters_and_server_extensions_are_forwarded_untouched():
    extras = {
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 7,
        "tools": [],
        "top_k": 40,
        "repeat_penalty": 1.1,
        "min_p": 0.05,
    }
    serializer, ok = validate(model="m", provider="lm_studio", **extras)
    assert ok, serializer.errors
    request = serializer.chat_request()
    assert request.extra == extras
    assert request.model == "m"
    assert serializer.validated_data["provider"] == "lm_studio"


@pytest.mark.parametrize(
    "value",
    [
        {"type": "json_object"},
        {"type": "text"},
        {"type": "json_schema", "json_schema": {"name": "m", "schema": {"type": "object"}, "strict": True}},
    ],
)
def test_response_format_becomes_the_requests_typed_field(value):
    # The provider decides whether it goes upstream (its class's `response_formats`), so it is not in `extra`.
    serializer, ok = validate(response_format=value)
    assert ok, serializer.errors
    request = serializer.chat_request()
    assert request.response_format == value and "response_format" not in request.extra


@pytest.mark.parametrize(
    "value",
    [
        "json_object",
        {"type": "xml"},
        {"schema": {}},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": 1},
    ],
)
def test_a_malformed_response_format_is_refused(value):
    serializer, ok = validate(response_format=value)
    assert not ok and list(serializer.errors) == ["response_format"]


def test_blank_or_null_model_means_the_providers_default():
    assert validate(model="")[0].chat_request().model is None
    assert validate(model=None)[0].chat_request().model is None


@pytest.mark.parametrize("field,value", [("model", 5), ("provider", 5), ("stream", "true"), ("stream", 1)])
def test_fields_are_json_typed_not_coerced(field, value):
    serializer, ok = validate(**{field: value})
    assert not ok
    assert field in serializer.errors


def test_stream_options_need_stream():
    assert not validate(stream_options={"include_usage": True})[1]
    serializer, ok = validate(stream=True, stream_options={"include_usage": True})
    assert ok
    assert serializer.include_usage


@pytest.mark.parametrize("n,ok", [(1, True), (None, True), (2, False), ("1", False), (True, False)])
def test_only_one_choice_is_supported(n, ok):
    assert validate(n=n)[1] is ok


@pytest.mark.parametrize(
    "body", [b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"[" * 100_000], ids=["object", "array"]
)
def test_deeply_nested_json_body_is_a_validation_error(rf, body):
    request = rf.post("/", data=body, content_type="application/json")
    with pytest.raises(RequestValidationError) as caught:
        read_json_object(request)
    assert caught.value.code == "VALIDATION_ERROR"


def test_instances_get_their_own_bound_fields_and_validate_independently():
    good = {"messages": [{"role": "user", "content": "Hi"}], "temperature": 1}
    bad = {"messages": [{"role": "robot", "content": "Hi"}], "temperature": 5}
    first, second = ChatCompletionInputSerializer(data=bad), ChatCompletionInputSerializer(data=good)
    assert first.fields["temperature"] is not second.fields["temperature"]
    assert first.fields["temperature"].parent is first and second.fields["temperature"].parent is second
    assert not first.is_valid()
    assert second.is_valid(), second.errors
    assert set(first.errors) == {"messages", "temperature"}
    assert not ChatCompletionInputSerializer(data=bad).is_valid()  # nothing of the good one stuck
