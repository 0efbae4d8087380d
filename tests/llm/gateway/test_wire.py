"""Our typed results in OpenAI's wire format: the stream encoder's events parse as the official SDK's
chunk objects, the first carries the role, usage trails only when asked for."""

import json

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llm.gateway.wire import DONE_EVENT, StreamEncoder, completion_body, model_list_body
from llm.types import Chunk, Completion, ModelInfo, Usage


def payload(event: bytes) -> dict:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    return json.loads(event[6:-2])


def test_stream_events_are_valid_openai_chunks_with_the_role_first():
    encoder = StreamEncoder(completion_id="chatcmpl-1", model="m-1", include_usage=False, created=123)
    events = [
        encoder.encode(Chunk(role="assistant")),
        encoder.encode(Chunk(delta='Hé "x"\n🙂')),
        encoder.encode(Chunk(finish_reason="stop")),
    ]
    chunks = [ChatCompletionChunk.model_validate(payload(e)) for e in events]
    assert [c.choices[0].delta.role for c in chunks] == ["assistant", None, None]
    assert [c.choices[0].delta.content for c in chunks] == ["", 'Hé "x"\n🙂', None]
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "stop"]
    assert {(c.id, c.model, c.created, c.object) for c in chunks} == {
        ("chatcmpl-1", "m-1", 123, "chat.completion.chunk")
    }
    assert encoder.finish() == DONE_EVENT


def test_a_lone_surrogate_from_the_upstream_is_relayed_escaped_not_a_crash():
    # json.loads accepts "\ud83d" (half an emoji, as a tokenizer may cut it); UTF-8 cannot encode it
    lone = json.loads('"a\\ud83d"')
    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False)
    events = [encoder.encode(Chunk(delta=lone, reasoning=lone)), encoder.encode(Chunk(delta="b", finish_reason="stop"))]
    assert b"\\ud83d" in events[0]
    assert payload(events[0])["choices"][0]["delta"]["content"] == lone
    assert payload(events[1])["choices"][0]["delta"]["content"] == "b"
    assert "é".encode() in encoder.encode(Chunk(delta="é"))  # other text stays UTF-8


def test_empty_chunks_after_the_first_are_not_sent():
    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False)
    encoder.encode(Chunk(delta="a"))
    assert encoder.encode(Chunk()) == b""


def test_reasoning_deltas_go_out_as_reasoning_content():
    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False)
    body = payload(encoder.encode(Chunk(reasoning="thinking", delta="x")))
    assert body["choices"][0]["delta"] == {"role": "assistant", "content": "x", "reasoning_content": "thinking"}


def test_usage_trails_in_its_own_chunk_only_when_asked_for():
    asked = StreamEncoder(completion_id="c", model="m", include_usage=True)
    asked.encode(Chunk(delta="a"))
    assert asked.encode(Chunk(usage=Usage(3, 4, 7))) == b""
    tail = asked.finish()
    assert tail.endswith(DONE_EVENT)
    chunk = ChatCompletionChunk.model_validate(payload(tail[: -len(DONE_EVENT)]))
    assert chunk.choices == [] and chunk.usage.total_tokens == 7 and chunk.usage.prompt_tokens == 3

    not_asked = StreamEncoder(completion_id="c", model="m", include_usage=False)
    not_asked.encode(Chunk(usage=Usage(3, 4, 7)))
    assert not_asked.finish() == DONE_EVENT


def test_completion_body_is_an_openai_chat_completion_with_usage():
    body = completion_body(Completion(text="hi", model="m", usage=Usage(1, 2, 3), id="x"), fallback_model="d")
    completion = ChatCompletion.model_validate(body)
    assert completion.choices[0].message.content == "hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == 3
    assert completion.model == "m" and completion.id == "x"


def test_model_list_names_the_provider_when_the_server_does_not():
    body = model_list_body([ModelInfo("a", "org"), ModelInfo("b")], provider="lm_studio")
    assert body == {
        "object": "list",
        "data": [
            {"id": "a", "object": "model", "created": 0, "owned_by": "org"},
            {"id": "b", "object": "model", "created": 0, "owned_by": "lm_studio"},
        ],
    }
