"""The stream's frame encoders: text from an LLM cannot forge SSE fields or events (CR/LF/NUL are dropped
from `event`/`id`; any line break in data becomes a new `data:` line), and what we write is what a
spec-following client (our own decoder, llm/upstream/sse.py) reads back. A logged event is encoded once
(the very same bytes for every viewer, `id: <seq>`, the REST history's JSON), a delta too (no id), the
frame cache is bounded, and the `end`/`error` frames close a stream without leaking an error's text."""

import json
from datetime import UTC, datetime

import pytest

from llm.upstream.sse import SSEDecoder
from marketplace.errors import NotFoundError
from marketplace.sse import PING_FRAME, json_frame, retry_frame, sse_frame
from negotiations.api.serializers import EventSerializer
from negotiations.live import frames
from negotiations.live.broadcast import TokenDelta
from negotiations.live.frames import delta_frame, delta_frame_of, end_frame, error_frame, event_frame
from negotiations.models import Event


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


# --- logged events and deltas, encoded once ---------------------------------------------------------
def logged_event(seq: int = 3, *, pk: int = 30, text: str = "How about $420?", visibility: str = "public") -> Event:
    return Event(
        pk=pk,
        negotiation_id=1,
        seq=seq,
        type=Event.Type.MESSAGE,
        actor=Event.Actor.SELLER,
        visibility=visibility,
        data={"turn": seq, "action": "offer", "price": "420.00", "text": text},
        created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_an_event_frame_carries_the_seq_as_id_the_type_as_event_and_the_history_json_as_data():
    event = logged_event()
    [decoded], _ = decode(event_frame(event))
    assert (decoded.id, decoded.event) == ("3", "message")
    assert json.loads(decoded.data) == json.loads(json.dumps(EventSerializer(event).data))


def test_an_event_is_encoded_once_every_viewer_gets_the_same_bytes(monkeypatch):
    event = logged_event(seq=41, pk=410)
    first = event_frame(event)
    encoded = []
    monkeypatch.setattr(frames, "json_frame", lambda *a, **k: encoded.append(a) or b"re-encoded")
    assert event_frame(event) is first
    assert event_frame(logged_event(seq=41, pk=410)) is first, "the same row loaded again is the same event"
    assert encoded == []


def test_a_different_event_gets_its_own_frame():
    one, other = logged_event(seq=51, pk=510), logged_event(seq=52, pk=520, text="Deal at $420.")
    assert event_frame(one) != event_frame(other)
    [decoded], _ = decode(event_frame(other))
    assert decoded.id == "52" and json.loads(decoded.data)["data"]["text"] == "Deal at $420."


def test_the_event_frame_cache_is_bounded_and_keeps_the_most_recently_used():
    cache = frames._FrameCache(2)
    a, b, c = (logged_event(seq=n, pk=600 + n) for n in (1, 2, 3))
    frame_a = cache.frame(a)
    cache.frame(b)
    assert cache.frame(a) is frame_a  # a is now the most recent
    cache.frame(c)  # evicts b, the least recently used
    assert len(cache._frames) == 2
    assert cache.frame(a) is frame_a
    assert cache.frame(b) is not None and len(cache._frames) == 2


def test_a_delta_is_encoded_once_and_reads_back_as_delta_frame_writes_it():
    piece = TokenDelta(1, "buyer", "buyer", 4, 2, "<action>offer</action>")
    first = delta_frame_of(piece)
    assert delta_frame_of(TokenDelta(1, "buyer", "buyer", 4, 2, "<action>offer</action>")) is first
    assert first == delta_frame(actor="buyer", visibility="buyer", turn=4, attempt=2, text="<action>offer</action>")
    [decoded], _ = decode(first)
    assert decoded.event == "delta" and decoded.id == "", "deltas are never logged: no id to resume from"


def test_an_end_frame_has_no_id_it_is_not_part_of_the_log():
    frame = end_frame(status="no_deal", last_seq=0)
    assert not frame.startswith(b"id:") and b"\nid:" not in frame
    [decoded], _ = decode(frame)
    assert json.loads(decoded.data) == {"status": "no_deal", "last_seq": 0}


def test_an_unexpected_error_becomes_an_internal_error_frame_without_its_message():
    frame = error_frame(RuntimeError("password=hunter2 at db.internal"))
    assert b"hunter2" not in frame and b"db.internal" not in frame
    [decoded], _ = decode(frame)
    assert decoded.event == "error"
    assert json.loads(decoded.data)["error"]["code"] == "INTERNAL_ERROR"
