"""The SSE decoder: every framing case of DESIGN's "Streaming hard cases", fed whole and split at every
byte position (the network may cut anywhere, including inside CRLF and inside a UTF-8 character)."""

import pytest

from llm.exceptions import ProviderResponseError
from llm.upstream.sse import SSEDecoder, SSEEvent


def decode_all(chunks, **kwargs) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush()


def data_of(events: list[SSEEvent]) -> list[str]:
    return [e.data for e in events]


def every_split(payload: bytes):
    """The payload cut into two reads at every position, and into single bytes."""
    for i in range(len(payload) + 1):
        yield [payload[:i], payload[i:]]
    yield [payload[i : i + 1] for i in range(len(payload))]


PAYLOADS = {
    "lf": (b'data: {"a": 1}\n\ndata: [DONE]\n\n', ['{"a": 1}', "[DONE]"]),
    "crlf": (b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n', ['{"a": 1}', "[DONE]"]),
    "cr": (b'data: {"a": 1}\r\rdata: [DONE]\r\r', ['{"a": 1}', "[DONE]"]),
    "mixed_endings": (b"data: one\r\n\ndata: two\r\rdata: three\n\r\n", ["one", "two", "three"]),
    "comments": (b": keep-alive\n: OPENROUTER PROCESSING\n\ndata: x\n: mid\n\n", ["x"]),
    "no_space": (b"data:x\n\ndata:  two spaces\n\n", ["x", " two spaces"]),
    "multi_line": (b"data: line one\ndata: line two\n\n", ["line one\nline two"]),
    "utf8": ("data: héllo 世界 🙂\n\n".encode(), ["héllo 世界 🙂"]),
    "done_at_eof_without_blank_line": (b"data: x\n\ndata: [DONE]", ["x", "[DONE]"]),
    "done_at_eof_with_one_newline": (b"data: [DONE]\n", ["[DONE]"]),
}


@pytest.mark.parametrize("payload,expected", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_decodes_payload_fed_whole(payload, expected):
    assert data_of(decode_all([payload])) == expected


@pytest.mark.parametrize("payload,expected", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_decodes_payload_split_at_every_byte_position(payload, expected):
    for chunks in every_split(payload):
        assert data_of(decode_all(chunks)) == expected, chunks


def test_crlf_split_between_reads_is_one_line_end_not_two():
    # A CR at the end of one read and its LF at the start of the next must not make an empty line,
    # which would dispatch the first data line as an event of its own.
    assert data_of(decode_all([b"data: a\r", b"\ndata: b\r", b"\n\r\n"])) == ["a\nb"]


def test_events_are_returned_as_soon_as_their_blank_line_arrives():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n") == []
    assert data_of(decoder.feed(b"\ndata: sec")) == ["first"]
    assert data_of(decoder.feed(b"ond\n\n")) == ["second"]


def test_comment_lines_are_counted_and_never_dispatched():
    decoder = SSEDecoder()
    assert decoder.feed(b": OPENROUTER PROCESSING\n\n: ping\n\n") == []
    assert decoder.comments == 2


def test_event_id_and_retry_fields_are_kept_and_unknown_fields_ignored():
    events = decode_all([b"event: update\nid: 7\nretry: 1500\nfoo: bar\ndata: x\n\n"])
    assert events == [SSEEvent(data="x", event="update", id="7", retry=1500)]


def test_event_without_data_is_not_dispatched():
    assert decode_all([b"event: ping\n\n"]) == []


def test_leading_byte_order_mark_is_ignored_even_when_split():
    assert data_of(decode_all([b"\xef\xbb", b"\xbfdata: x\n\n"])) == ["x"]


def test_line_longer_than_the_limit_raises_even_before_it_ends():
    decoder = SSEDecoder(max_line_bytes=1024)
    decoder.feed(b"data: " + b"x" * 1000)
    with pytest.raises(ProviderResponseError) as info:
        decoder.feed(b"x" * 100)
    assert info.value.code == "LLM_BAD_GATEWAY"
    assert info.value.details["reason"] == "sse_line_too_long"


def test_complete_line_longer_than_the_limit_in_one_read_raises():
    with pytest.raises(ProviderResponseError):
        SSEDecoder(max_line_bytes=1024).feed(b"data: " + b"y" * 2000 + b"\n\n")


def test_a_too_long_line_among_short_ones_in_one_read_raises():
    with pytest.raises(ProviderResponseError):
        SSEDecoder(max_line_bytes=1024).feed(b"data: a\n\ndata: " + b"y" * 2000 + b"\n\ndata: b\n\n")


def test_line_length_is_counted_in_bytes_not_characters():
    with pytest.raises(ProviderResponseError):
        SSEDecoder(max_line_bytes=1024).feed(("data: " + "世" * 400 + "\n\n").encode())


def test_many_lines_each_under_the_limit_are_fine():
    payload = b"".join(b"data: " + b"z" * 900 + b"\n\n" for _ in range(20))
    assert len(decode_all([payload], max_line_bytes=1024)) == 20


def test_invalid_utf8_raises_loudly():
    with pytest.raises(ProviderResponseError) as info:
        decode_all([b"data: \xff\xfe\n\n"])
    assert info.value.details["reason"] == "sse_invalid_utf8"
