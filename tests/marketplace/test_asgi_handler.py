"""The project's ASGI handler: views marked `request_thread = False` (the LLM gateway) are served without
a per-request ThreadSensitiveContext (no thread created per request) and with the request signals on
the event loop (no thread hop); every other view keeps Django's. Its copy of Django's `handle` is
checked against the installed Django."""

import hashlib
import inspect
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler

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
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    while (await communicator.receive_output(timeout=5)).get("more_body"):
        pass
    await communicator.wait(timeout=5)
    return start["status"]


@pytest.mark.parametrize(
    "path,needs_thread",
    [
        ("/api/v1/llm/models", False),
        ("/api/v1/llm/chat/completions", False),
        ("/api/v1/health/live", True),
        ("/admin/login/", True),
        ("/no/such/page", True),
    ],
)
def test_only_views_that_opt_out_skip_the_request_thread(path, needs_thread):
    assert asgi_handler._needs_request_thread(path) is needs_thread


async def test_gateway_requests_run_without_a_thread_context_and_others_with_one(contexts, fake_upstream):
    assert await get("/api/v1/llm/models") == 200
    assert contexts == []
    assert await get("/api/v1/health/live") == 200
    assert len(contexts) == 1


@pytest.fixture
def signal_threads():
    """The threads the request_started / request_finished receivers run in, in order."""
    seen = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread()))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def test_gateway_requests_send_the_request_signals_on_the_event_loop(signal_threads, fake_upstream):
    assert await get("/api/v1/llm/models") == 200
    loop_thread = threading.current_thread()  # the communicator runs the app on this test's loop
    assert signal_threads == [("started", loop_thread), ("finished", loop_thread)]


async def test_other_requests_send_them_from_a_sync_thread_as_django_does(signal_threads, fake_upstream):
    assert await get("/api/v1/health/live") == 200
    assert [name for name, _ in signal_threads] == ["started", "finished"]
    assert all(thread is not threading.current_thread() for _, thread in signal_threads)


def test_the_inline_handler_is_a_copy_of_the_installed_djangos_handle():
    # marketplace/asgi_handler.py's _handle_inline is Django 5.2's ASGIHandler.handle with the signals
    # sent inline. If this fails, Django's handle changed: port the change there, then update the hash.
    source = inspect.getsource(DjangoASGIHandler.handle)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "98faeb5bef800331e6a8002fbc96b30e4122a23438ae45a047190a531ea11323"
    )
