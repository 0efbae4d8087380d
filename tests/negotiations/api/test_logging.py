"""Negotiation tokens never reach the logs: a stream URL carries the token as `?token=` (EventSource
cannot send headers), so the log filter masks it, as it masks `Bearer` headers."""

import logging

from marketplace.logging import RedactSecretsFilter, redact


def test_query_string_tokens_and_bearer_tokens_are_masked():
    line = (
        '"GET /api/v1/negotiations/7/stream?token=AbC-123_xyz&lastEventId=4 HTTP/1.1" 200 '
        "Authorization: Bearer AbC-123_xyz; /events?limit=5&token=Zz9"
    )
    masked = redact(line)
    assert "AbC-123_xyz" not in masked and "Zz9" not in masked
    assert "?token=[REDACTED]&lastEventId=4" in masked and "&token=[REDACTED]" in masked


def test_the_filter_masks_a_logged_stream_url():
    record = logging.LogRecord(
        "django.channels.server",
        logging.INFO,
        __file__,
        1,
        "HTTP %s %s",
        ("GET", "/api/v1/negotiations/7/stream?token=secret-token-value"),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "HTTP GET /api/v1/negotiations/7/stream?token=[REDACTED]"
