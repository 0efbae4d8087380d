"""The project's ASGI handler: views marked `request_thread = False` (the LLM gateway) are served without
a per-request ThreadSensitiveContext (no thread created per request); every other view keeps Django's."""
import pytest
from asgiref.testing import ApplicationCommunicator

from marketplace import asgi_handler
from marketplace.asgi import application


@pytest.fixture
def contexts(monkeypatch):
    entered = []
    real = asgi_handler.ThreadSensitiveContext

    class Counting(real):
        async def __aenter__(self):
            entered.append(self)
            return await super().__aenter__()

    monkeypatch.setattr(asgi_handler, "ThreadSensitiveContext", Counting)
    return entered


async def get(path):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    while (await communicator.receive_output(timeout=5)).get("more_body"):
        pass
    await communicator.wait(timeout=5)
    return start["status"]


@pytest.mark.parametrize("path,needs_thread", [
    ("/api/v1/llm/models", False),
    ("/api/v1/llm/chat/completions", False),
    ("/api/v1/health/live", True),
    ("/admin/login/", True),
    ("/no/such/page", True),
])
def test_only_views_that_opt_out_skip_the_request_thread(path, needs_thread):
    assert asgi_handler._needs_request_thread(path) is needs_thread


async def test_gateway_requests_run_without_a_thread_context_and_others_with_one(contexts, fake_upstream):
    assert await get("/api/v1/llm/models") == 200
    assert contexts == []
    assert await get("/api/v1/health/live") == 200
    assert len(contexts) == 1
