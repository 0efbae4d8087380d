"""WHAT: the provider client's HTTP plumbing: one pooled `httpx.AsyncClient` per event loop (`LoopClients`),
and the one mapping of httpx's errors to ours (`transport_error`, `translate_transport_errors`).
WHY: Django's sync test client and `async_to_sync` run each call on a fresh loop, and a client reused on
     another loop fails with "Event loop is closed"; an httpx error means retry or not by its phase.
HOW: a WeakKeyDictionary keyed by the loop; a tiny async generator parked on each loop closes its client
     when the loop shuts down (asyncio.run and async_to_sync call `shutdown_asyncgens()`). HTTP/1.1 over
     llm/upstream/pool.py's pool (or httpcore's own, `linear_pool=False`), redirects not followed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from llm.config import Timeouts
from llm.exceptions import (
    LLMError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from llm.upstream import pool

__all__ = ["POOL_LIMITS", "LoopClients", "translate_transport_errors", "transport_error"]

# A gateway relays many concurrent streams to one upstream: keep enough sockets warm. The keep-alive limit
# counts idle connections only (with llm/upstream/pool.py's pool); idle ones also expire after 30 s.
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)


@dataclass
class _LoopClient:
    client: httpx.AsyncClient
    closer: AsyncGenerator[None, None] | None = None


class LoopClients:
    """The pooled httpx client of each running event loop, for one provider."""

    def __init__(
        self,
        timeouts: Timeouts,
        *,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        linear_pool: bool = True,
    ) -> None:
        self._timeouts = timeouts
        self._transport_factory = transport_factory
        self._linear_pool = linear_pool
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        """How many loops have an open client."""
        return len(self._clients)

    async def get(self) -> httpx.AsyncClient:
        """The running loop's client, created on first use."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and not entry.client.is_closed:
            return entry.client
        timeouts = self._timeouts
        client = httpx.AsyncClient(
            http2=False,
            limits=POOL_LIMITS,
            # Read timeouts are the caller's (first token, idle, total); httpx's is only a backstop.
            timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect, pool=timeouts.total),
            # An explicit transport also keeps httpx from routing by HTTP_PROXY & co. (as it does by default).
            transport=self._transport_factory() if self._transport_factory else self._http_transport(),
            follow_redirects=False,
        )
        entry = _LoopClient(client)
        self._clients[loop] = entry
        entry.closer = self._close_on_loop_shutdown(loop, entry)
        await entry.closer.__anext__()
        return client

    def _http_transport(self) -> httpx.AsyncHTTPTransport:
        if self._linear_pool:
            return pool.http_transport(limits=POOL_LIMITS)
        return httpx.AsyncHTTPTransport(http1=True, http2=False, limits=POOL_LIMITS)

    async def _close_on_loop_shutdown(
        self, loop: asyncio.AbstractEventLoop, entry: _LoopClient
    ) -> AsyncGenerator[None, None]:
        # Parked at `yield` for the loop's lifetime; the loop's shutdown_asyncgens() (or this
        # generator's garbage collection) resumes it into `finally`, on its own loop, to close the pool.
        try:
            yield
        finally:
            if self._clients.get(loop) is entry:
                del self._clients[loop]
            await entry.client.aclose()

    async def aclose(self) -> None:
        """Close the running loop's client (the others close when their loops shut down)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.client.aclose()


def transport_error(
    exc: httpx.HTTPError, *, provider: str, phase: str, url: str = "", partial_text: str = ""
) -> LLMError:
    """The one mapping from httpx's errors to ours. `phase` is "response" (nothing received yet) or "body";
    `url`, shown in the message, must be a public one (llm.config.public_url)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderTimeoutError(
            f"Connecting to provider '{provider}' timed out.", provider=provider, details={"phase": "connect"}
        )
    if isinstance(exc, httpx.PoolTimeout):
        return ProviderTimeoutError(
            f"No free connection to provider '{provider}' in time.", provider=provider, details={"phase": "pool"}
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(
            f"Provider '{provider}' stopped answering.",
            provider=provider,
            details={"phase": "read"},
            partial_text=partial_text,
        )
    if isinstance(exc, httpx.ConnectError):
        where = f" at {url}" if url else ""
        return ProviderUnavailableError(
            f"Cannot connect to provider '{provider}'{where}. Is the server running?",
            provider=provider,
            details={"reason": "connect_error"},
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError)):
        return ProviderUnavailableError(
            f"Provider '{provider}' is misconfigured: {type(exc).__name__}.",
            provider=provider,
            details={"reason": "invalid_request_setup"},
        )
    if isinstance(exc, httpx.DecodingError):
        return ProviderResponseError(
            f"Provider '{provider}' sent a body that could not be decoded.",
            provider=provider,
            details={"reason": "decoding_error"},
            partial_text=partial_text,
        )
    if phase == "body":
        return StreamInterruptedError(
            f"The connection to provider '{provider}' was lost before the answer was complete.",
            provider=provider,
            details={"reason": "connection_lost"},
            partial_text=partial_text,
        )
    # Closed or reset before any response byte: nothing was received, so it is safe to retry.
    return ProviderUnavailableError(
        f"Provider '{provider}' closed the connection without answering.",
        provider=provider,
        details={"reason": "disconnected_before_response"},
    )


@contextmanager
def translate_transport_errors(
    *, provider: str, phase: str = "response", url: str = "", partial_text: str = ""
) -> Iterator[None]:
    """Re-raise any httpx error inside the block as our exception, `from` the original."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise transport_error(exc, provider=provider, phase=phase, url=url, partial_text=partial_text) from exc
