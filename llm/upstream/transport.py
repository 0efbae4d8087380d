"""WHAT: `http_transport()`, the httpx transport of the provider client: httpx's own, whose httpcore
connection pool keeps its books in one linear pass per request (`ConnectionPool`).

WHY: a gateway holds one upstream connection per concurrent stream, so the pool is on its hot path, and
     httpcore 1.0.9's `_assign_requests_to_connections` (run at every request start and end) costs
     O(connections x idle connections) with a socket probe per idle connection, which made it about a
     third of the gateway's CPU at 100 concurrent streams (bench/relay.py). It also compares
     `max_keepalive_connections` with the number of ALL connections, so with more streams in flight
     than that limit every connection that goes idle is closed and the next request opens a new one;
     and it can hand one idle connection to several queued requests, all but one of which then go
     round again. These are open upstream (encode/httpcore#1000 and #1035, not released); no setting
     avoids them: `max_keepalive_connections = max_connections` stops the closing, but then every idle
     connection is probed at every request (measured slower still, docs/benchmarks.md).
HOW: a subclass that replaces only that method, for HTTP/1.1 (the client never uses HTTP/2). One pass
     drops closed connections and counts the idle ones not yet promised to a request; idle ones beyond
     the keep-alive limit are closed, oldest first; each queued request gets an idle connection of its
     origin (the newest first, probed with `has_expired()` — keep-alive expiry or closed by the server —
     just before it is handed out), else a new one while under `max_connections`, else one idle
     connection of another origin is closed to make room, else it waits. Idle connections nobody takes
     are probed together at most once a second (SWEEP_SECONDS). Everything else (locking, waiting,
     closing, retries on ConnectionNotAvailable) is httpcore's own. httpcore is pinned in
     requirements.txt because this overrides a private method; tests/llm/upstream/test_transport.py checks the
     behaviour on a real server.
"""

from __future__ import annotations

import time

import httpcore
import httpx
from httpcore._async.interfaces import AsyncConnectionInterface

__all__ = ["SWEEP_SECONDS", "ConnectionPool", "http_transport"]

SWEEP_SECONDS = 1.0


class ConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's async pool with linear, keep-alive-correct bookkeeping (HTTP/1.1 only)."""

    _sweep_at = 0.0  # monotonic time of the next probe of every idle connection

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        now = time.monotonic()
        sweep = now >= self._sweep_at
        if sweep:
            self._sweep_at = now + SWEEP_SECONDS
        promised = {id(request.connection) for request in self._requests if request.connection is not None}
        kept: list[AsyncConnectionInterface] = []
        idle: list[AsyncConnectionInterface] = []  # oldest first
        closing: list[AsyncConnectionInterface] = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.is_idle() and id(connection) not in promised:
                if sweep and connection.has_expired():
                    closing.append(connection)
                    continue
                idle.append(connection)
            kept.append(connection)
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            closing += idle[:surplus]
            del idle[:surplus]
        open_count = len(kept) - (surplus if surplus > 0 else 0)
        for request in self._requests:
            if not request.is_queued():
                continue
            origin = request.request.url.origin
            connection = _pop_idle(idle, origin)
            while connection is not None and connection.has_expired():  # expired, or closed by the server
                closing.append(connection)
                open_count -= 1
                connection = _pop_idle(idle, origin)
            if connection is None:
                if open_count >= self._max_connections:
                    if not idle:
                        break  # at the limit and nothing idle: requests wait until a response ends
                    closing.append(idle.pop(0))  # idle, but for another origin: make room
                    open_count -= 1
                connection = self.create_connection(origin)
                kept.append(connection)
                open_count += 1
            request.assign_to_connection(connection)
        if closing:
            gone = {id(connection) for connection in closing}
            kept = [connection for connection in kept if id(connection) not in gone]
        self._connections = kept
        return closing


def _pop_idle(idle: list[AsyncConnectionInterface], origin: httpcore.Origin) -> AsyncConnectionInterface | None:
    """The newest idle connection that can serve `origin`, taken out of `idle`."""
    for index in range(len(idle) - 1, -1, -1):
        if idle[index].can_handle_request(origin):
            return idle.pop(index)
    return None


def http_transport(*, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's HTTP/1.1 transport with `limits`, its pool being a `ConnectionPool`."""
    transport = httpx.AsyncHTTPTransport(http1=True, http2=False, limits=limits)
    pool = transport._pool
    if type(pool) is not httpcore.AsyncConnectionPool:  # an httpx upgrade changed how it builds the pool
        raise TypeError(f"unexpected httpx pool type {type(pool).__name__}; see llm/upstream/transport.py")
    pool.__class__ = ConnectionPool
    return transport
