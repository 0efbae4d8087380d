"""WHAT: `http_transport()`: httpx's HTTP/1.1 transport whose httpcore pool (`ConnectionPool`) keeps its books
in one linear pass per request start and end, counting only idle connections against the keep-alive limit.
WHY: httpcore 1.0.9 scans and socket-probes every idle connection at every request start and end, and
     counts busy ones against `max_keepalive_connections`, closing idle ones for nothing (encode/httpcore
     #1000, #1035; docs/adr/0001-linear-httpcore-pool.md has the figures and when to delete this).
HOW: replaces that one private method and swaps the live pool's class (httpcore pinned in requirements.txt);
     idle connections nobody takes are probed together at most once per SWEEP_SECONDS. LLM_LINEAR_POOL=false
     uses httpcore's own pool instead (llm/upstream/transport.py).
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
        raise TypeError(f"unexpected httpx pool type {type(pool).__name__}; see llm/upstream/pool.py")
    pool.__class__ = ConnectionPool
    return transport
