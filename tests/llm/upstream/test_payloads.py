"""The Chat Completions format on the client side (llm/upstream/payloads.py), as pure functions: the request
body, stream chunks and whole answers read into our types, and what counts as absent or as a bad shape.
The same cases over HTTP are in test_streaming_hard_cases.py and tests/llm/gateway/test_tool_calls.py."""

import pytest

from llm.exceptions import ProviderResponseError
from llm.types import ChatMessage, ChatRequest, Completion
from llm.upstream.payloads import (
    chat_payload,
    completion_chunk,
    parse_chunk,
    parse_completion,
    parse_json,
    parse_models,
)


def chunk(payload, parts=None):
    return parse_chunk(payload, provider="p", parts=parts if parts is not None else [], model="m")


def delta(fields, finish=None, **choice):
    return {"id": "c1", "model": "m1", "choices": [{"index": 0, "delta": fields, "finish_reason": finish, **choice}]}


def test_the_request_body_keeps_extra_fields_and_sets_only_what_was_given():
    request = ChatRequest(messages=(ChatMessage("user", "Hi"),), max_tokens=-1, extra={"top_p": 0.5, "model": "x"})
    body = chat_payload(request, model="m", stream=True)
    assert body == {
        "top_p": 0.5,
        "model": "m",  # ours wins over an extra field of the same name
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "max_tokens": -1,
    }


def test_a_text_chunk():
    parsed = chunk(delta({"content": "Hello"}))
    assert (parsed.delta, parsed.finish_reason, parsed.model, parsed.id, parsed.has_parts) == (
        "Hello",
        None,
        "m1",
        "c1",
        False,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"choices": []},  # no choice and no usage
        delta({}),  # an empty delta
        delta({"content": None}),  # null content, nothing else
        delta({"content": "", "tool_calls": []}),  # an empty list counts as absent
    ],
)
def test_chunks_that_carry_nothing_are_none(payload):
    assert chunk(payload) is None


def test_a_usage_chunk_without_choices():
    parsed = chunk(
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    )
    assert (parsed.usage.total_tokens, parsed.delta, parsed.id) == (5, "", "c1")


def test_role_reasoning_and_an_unknown_finish_reason_are_kept():
    assert chunk(delta({"role": "assistant", "content": None})).role == "assistant"
    assert chunk(delta({"reasoning_content": "hm"})).reasoning == "hm"
    assert chunk(delta({"reasoning": "hm"})).reasoning == "hm"
    assert chunk(delta({}, "eos_custom")).finish_reason == "eos_custom"


def test_finish_reason_error_and_an_error_object_raise_with_the_text_so_far():
    with pytest.raises(ProviderResponseError) as info:
        chunk(delta({"content": "!"}, "error"), parts=["Hel", "lo"])
    assert info.value.details["finish_reason"] == "error" and info.value.partial_text == "Hello!"
    with pytest.raises(ProviderResponseError) as info:
        chunk({"error": {"message": "overloaded", "code": 503}}, parts=["Hi"])
    assert info.value.details["in_band"] is True and info.value.partial_text == "Hi"


@pytest.mark.parametrize("payload", [[1, 2], "text", 3])
def test_an_event_that_is_not_an_object_is_a_bad_shape(payload):
    with pytest.raises(ProviderResponseError) as info:
        chunk(payload)
    assert info.value.details["reason"] == "unexpected_shape"


def test_a_part_of_the_wrong_type_names_the_field():
    with pytest.raises(ProviderResponseError) as info:
        chunk(delta({"content": "x", "refusal": 5}), parts=["a"])
    assert (info.value.details["field"], info.value.partial_text) == ("refusal", "ax")


def test_malformed_json_shows_a_short_excerpt():
    with pytest.raises(ProviderResponseError) as info:
        parse_json(b"{not json" + b"x" * 500, provider="p")
    assert info.value.details["reason"] == "malformed_json" and len(info.value.details["excerpt"]) == 80


def test_a_whole_answer():
    completion = parse_completion(
        {
            "id": "a1",
            "choices": [{"message": {"content": "Hi", "reasoning_content": "hm"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
        provider="p",
        model="asked",
    )
    assert (completion.text, completion.reasoning, completion.model, completion.id) == ("Hi", "hm", "asked", "a1")
    assert completion.usage.total_tokens == 2


@pytest.mark.parametrize("data", [[], {"choices": []}, {"choices": ["x"]}])
def test_an_answer_without_choices_is_a_bad_shape(data):
    with pytest.raises(ProviderResponseError) as info:
        parse_completion(data, provider="p", model="m")
    assert info.value.details["reason"] == "unexpected_shape"


def test_a_whole_answer_as_one_chunk_gives_its_tool_calls_an_index():
    calls = [{"id": "t1", "type": "function"}, {"index": 7, "id": "t2"}]
    as_chunk = completion_chunk(Completion(text="", model="m", finish_reason=None, tool_calls=calls))
    assert as_chunk.tool_calls == [{"index": 0, "id": "t1", "type": "function"}, {"index": 7, "id": "t2"}]
    assert (as_chunk.role, as_chunk.finish_reason) == ("assistant", "stop")


def test_a_model_list_skips_entries_without_an_id():
    models = parse_models({"data": [{"id": "a", "owned_by": "me"}, {"name": "b"}, "c"]}, provider="p")
    assert [(m.id, m.owned_by) for m in models] == [("a", "me")]
    with pytest.raises(ProviderResponseError):
        parse_models({"models": []}, provider="p")
