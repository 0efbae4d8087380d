"""The stream's frame encoders: text from an LLM cannot forge SSE fields or events (CR/LF/NUL are dropped
from `event`/`id`; any line break in data becomes a new `data:` line), and what we write is what a
spec-following client (our own decoder, llm/upstream/sse.py) reads back."""

import json

import pytest

from llm.upstream.sse import SSEDecoder
from marketplace.errors import NotFoundError
from marketplace.sse import PING_FRAME, json_frame, retry_frame, sse_frame
from negotiations.live.frames import delta_frame, end_frame, error_frame


def decode(frame: bytes):
    decoder = SSEDecoder()
    return decoder.feed(frame) + decoder.flush(), decoder


@pytest.mark.parametrize("evil", ["a\r\nevent: end", "a\nid: 999", "a\rdata: x", "a\0b", "\r\n\r\n"])
def test_event_and_id_fields_cannot_be_broken_out_of(evil):
    frame = sse_frame(data="ok", event=evil, id=evil)
    assert frame.count(b"\n\n") == 1 and frame.endswith(b"\n\n") and b"\r" not in frame and b"\0" not in frame
    events, _ = decode(frame)
    assert len(events) == 1
    cleaned = evil.replace("\r", "").replace("\n", "").replace("\0", "")
    assert (events[0].event or "message", events[0].id, events[0].data) == (cleaned or "message", cleaned, "ok")


@pytest.mark.parametrize(
    "text", ["one\ntwo", "one\r\ntwo\rthree", "trailing\n", "\n\nblank lines\n\n", "data: fake\n\nevent: end"]
)
def test_multi_line_data_becomes_several_data_lines_and_reads_back_joined_by_lf(text):
    frame = sse_frame(data=text, event="message")
    assert frame.count(b"\n\n") == 1, "no blank line inside the event"
    events, _ = decode(frame)
    assert len(events) == 1
    assert events[0].data == text.replace("\r\n", "\n").replace("\r", "\n")
    assert all(line.startswith((b"data: ", b"event: ")) for line in frame[:-2].split(b"\n"))


def test_json_payloads_are_one_compact_line_even_when_the_text_holds_line_breaks():
    text = "Deal!\r\nevent: end\n\nid: 99 \u2028 ok"
    frame = json_frame({"text": text}, event="message", id="7")
    assert frame.count(b"\n") == 4  # id, event, data lines + the blank line
    events, _ = decode(frame)
    assert json.loads(events[0].data) == {"text": text} and events[0].id == "7"


def test_deltas_end_retry_ping_and_error_frames():
    delta, _ = decode(delta_frame(actor="seller", visibility="public", turn=3, attempt=2, text="How about"))
    assert delta[0].event == "delta" and delta[0].id == ""
    assert json.loads(delta[0].data) == {
        "actor": "seller",
        "visibility": "public",
        "turn": 3,
        "attempt": 2,
        "text": "How about",
    }
    end, _ = decode(end_frame(status="agreed", last_seq=12))
    assert (end[0].event, json.loads(end[0].data)) == ("end", {"status": "agreed", "last_seq": 12})
    assert retry_frame(3000) == b"retry: 3000\n\n"
    nothing, decoder = decode(PING_FRAME)
    assert nothing == [] and decoder.comments == 1
    error, _ = decode(error_frame(NotFoundError("The negotiation no longer exists.")))
    assert error[0].event == "error"
    assert json.loads(error[0].data) == {"error": {"code": "NOT_FOUND", "message": "The negotiation no longer exists."}}
