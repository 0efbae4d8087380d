"""WHAT: `LiveASGIServer`, the project's ASGI application served by uvicorn on 127.0.0.1 at a free port,
in a thread of the test process.
WHY: pytest-django's `live_server` is a threaded WSGI server: it buffers async streaming responses and
     never delivers `http.disconnect`, so SSE, time-to-first-byte and client disconnects can only be
     tested against a real ASGI server, as clients (the openai SDK, browsers) will meet it.
HOW: uvicorn (the production server we recommend, see docs/deployment.md) with its own event loop in a
     daemon thread, on a socket bound before start so the port is known; `stop()` asks it to exit and
     joins. It shares the process's Django settings, so it uses the test database.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

__all__ = ["LiveASGIServer"]


class LiveASGIServer:
    """Use as a context manager; `url` is the root, e.g. http://127.0.0.1:PORT."""

    def __init__(self, app: object | None = None, *, host: str = "127.0.0.1") -> None:
        if app is None:
            from marketplace.asgi import application as app
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            loop="asyncio",
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveASGIServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="live-asgi", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the live ASGI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> LiveASGIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
