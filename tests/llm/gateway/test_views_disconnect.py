"""A client that leaves cancels the upstream request at once: through Django's ASGI handler
(ApplicationCommunicator, as in Django's own tests/asgi/tests.py) and through a live uvicorn server,
both after the first byte and while still waiting for the first token."""

import json
import socket
import time

import pytest
from asgiref.testing import ApplicationCommunicator

from marketplace.asgi import application

HI = [{"role": "user", "content": "Hi"}]
PATH = "/api/v1/llm/chat/completions"


def http_scope(body: bytes) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def test_disconnect_after_the_first_event_closes_the_upstream_within_a_second(fake_upstream):
    body = json.dumps({"model": "slow:300", "messages": HI, "stream": True}).encode()
    communicator = ApplicationCommunicator(application, http_scope(body))
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=5)
    assert start["type"] == "http.response.start" and start["status"] == 200
    first = await communicator.receive_output(timeout=5)
    assert b'"role":"assistant"' in first["body"]
    upstream = fake_upstream.last
    assert upstream.disconnected_at is None

    await communicator.send_input({"type": "http.disconnect"})
    left_at = time.monotonic()
    assert await fake_upstream.await_close(upstream, timeout=1.0)
    assert upstream.disconnected_at - left_at < 1.0
    assert upstream.completed_at is None
    with pytest.raises(TimeoutError):  # nothing more is sent to a client that left
        await communicator.receive_output(timeout=0.3)
    await communicator.wait(timeout=5)


async def test_disconnect_while_waiting_for_the_first_token_closes_the_upstream(fake_upstream):
    body = json.dumps({"model": "no-headers", "messages": HI, "stream": True}).encode()
    communicator = ApplicationCommunicator(application, http_scope(body))
    await communicator.send_input({"type": "http.request", "body": body})
    assert await fake_upstream.await_requests(1, timeout=5)
    upstream = fake_upstream.last
    await communicator.send_input({"type": "http.disconnect"})
    assert await fake_upstream.await_close(upstream, timeout=1.0)
    await communicator.wait(timeout=5)


def test_live_client_that_hangs_up_mid_stream_cancels_the_upstream(live_gateway, fake_upstream):
    payload = json.dumps({"model": "slow:300", "messages": HI, "stream": True}).encode()
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection(("127.0.0.1", live_gateway.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while b"data: " not in received:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200")
    left_at = time.monotonic()
    upstream = fake_upstream.last
    assert fake_upstream.wait_for_close(upstream, timeout=1.0)
    assert upstream.disconnected_at - left_at < 1.0
    assert upstream.completed_at is None
