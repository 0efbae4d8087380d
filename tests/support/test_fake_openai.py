"""The fake OpenAI-compatible server itself: the behaviours other tests rely on actually happen."""

import json

import httpx
import pytest

from tests.support.fake_openai import LM_STUDIO_NO_MODELS_LOADED, FakeOpenAIServer, expected_text


def _post(server: FakeOpenAIServer, model: str, *, stream: bool = True, **kwargs) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        return client.post("/chat/completions", json={"model": model, "messages": [], "stream": stream}, **kwargs)


def _data_payloads(body: bytes) -> list[str]:
    return [line[len("data: ") :] for line in body.decode().split("\n") if line.startswith("data: ")]


def test_normal_stream_sends_role_chunk_tokens_finish_and_done(fake_openai):
    response = _post(fake_openai, "normal", headers={"X-Fake-Tokens": "4"})
    payloads = _data_payloads(response.content)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == expected_text(4)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_non_streamed_completion_returns_whole_text_and_usage(fake_openai):
    body = _post(fake_openai, "normal", stream=False).json()
    assert body["choices"][0]["message"]["content"] == expected_text(8)
    assert body["usage"]["completion_tokens"] == 8


def test_header_behaviour_wins_over_model_name(fake_openai):
    response = _post(fake_openai, "normal", headers={"X-Fake-Behaviour": "status:503"})
    assert response.status_code == 503
    assert fake_openai.last.behaviour == "status:503"


def test_fail_then_succeed_counts_per_key(fake_openai):
    statuses = [_post(fake_openai, "fail:2:503", headers={"X-Fake-Key": "k1"}).status_code for _ in range(3)]
    other_key = _post(fake_openai, "fail:2:503", headers={"X-Fake-Key": "k2"}).status_code
    assert statuses == [503, 503, 200]
    assert other_key == 503
    assert fake_openai.attempts(key="k1") == 3


def test_rate_limit_sends_retry_after_headers(fake_openai):
    assert _post(fake_openai, "rate-limit:7").headers["retry-after"] == "7"
    assert _post(fake_openai, "rate-limit-ms:250").headers["retry-after-ms"] == "250"


def test_no_models_loaded_uses_lm_studios_text(fake_openai):
    response = _post(fake_openai, "no-models-loaded")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == LM_STUDIO_NO_MODELS_LOADED


def test_drop_after_cuts_the_connection_mid_body(fake_openai):
    with pytest.raises(httpx.TransportError):
        _post(fake_openai, "drop-after:2")


def test_server_sees_a_client_hang_up_on_a_request_it_never_answers(fake_openai):
    with pytest.raises(httpx.ReadTimeout):
        _post(fake_openai, "no-headers", timeout=0.2)
    record = fake_openai.last
    assert fake_openai.wait_for_close(record, timeout=2)
    assert record.completed_at is None


def test_keep_alive_serves_several_requests_on_one_connection(fake_openai):
    with httpx.Client(base_url=fake_openai.base_url) as client:
        for _ in range(3):
            assert client.get("/models").status_code == 200
    assert len({r.connection_id for r in fake_openai.records}) == 1


def test_models_endpoints_list_models_and_loaded_state(fake_openai):
    fake_openai.models = ["a", "b"]
    fake_openai.loaded_models = ["b"]
    with httpx.Client(base_url=fake_openai.root_url) as client:
        openai_ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        native = {m["id"]: m["state"] for m in client.get("/api/v0/models").json()["data"]}
    assert openai_ids == ["a", "b"]
    assert native == {"a": "not-loaded", "b": "loaded"}


def test_split_writes_still_reassemble_to_the_same_bytes(fake_openai):
    whole = _post(fake_openai, "normal", headers={"X-Fake-Tokens": "5"}).content
    split = _post(fake_openai, "split:2", headers={"X-Fake-Tokens": "5"}).content
    normalise = lambda body: [json.loads(p)["choices"][0]["delta"] for p in _data_payloads(body)[:-1]]  # noqa: E731
    assert normalise(split) == normalise(whole)


def test_required_key_refuses_requests_without_it(fake_openai):
    fake_openai.required_key = "sk-test-123456"
    assert _post(fake_openai, "normal").status_code == 401
    ok = _post(fake_openai, "normal", headers={"Authorization": "Bearer sk-test-123456"})
    assert ok.status_code == 200
