"""WHAT: `OpenAICompatibleClient`, the one HTTP implementation of the OpenAI-compatible chat API: completions,
streams of `Chunk`s, model lists and JSON probes, with retries and timeouts. Providers configure it.
WHY: every OpenAI-compatible server fails in the same handful of ways; handling them once keeps each provider
     a few lines, and "only [DONE]/finish_reason is success" and "never retry after the first chunk" hold.
HOW: retries (llm/upstream/retry.py) cover opening a request only; the stream's response is closed in
     `finally`, so `aclose()` or a cancelled task closes the upstream connection at once (CancelledError is
     never caught). A stream that ends normally has yielded a finish_reason ("stop" when [DONE] came
     without one). Connections: transport.py; reads and deadlines: reading.py; the format: payloads.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from llm.config import ProviderSettings, public_url
from llm.exceptions import LLMError, ProviderResponseError, StreamInterruptedError
from llm.types import ChatRequest, Chunk, Completion, ModelInfo
from llm.upstream.errors import error_from_response
from llm.upstream.payloads import (
    chat_payload,
    completion_chunk,
    parse_chunk,
    parse_completion,
    parse_json,
    parse_models,
)
from llm.upstream.reading import (
    MAX_ERROR_BODY_BYTES,
    StreamDeadlines,
    body_chunks,
    drain,
    read_body,
    read_limited,
    timeout_error,
)
from llm.upstream.retry import RetryPolicy, call_with_retries
from llm.upstream.sse import DEFAULT_MAX_LINE_BYTES, SSEDecoder
from llm.upstream.transport import LoopClients, translate_transport_errors, transport_error

__all__ = ["OpenAICompatibleClient"]

logger = logging.getLogger(__name__)


class OpenAICompatibleClient:
    """HTTP access to one OpenAI-compatible server, as configured by a `ProviderSettings`."""

    def __init__(
        self,
        config: ProviderSettings,
        *,
        headers: Callable[[], dict[str, str]] | None = None,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        retry_max_delay: float = 30.0,
        linear_pool: bool = True,
    ) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.public_base_url = public_url(self.base_url)  # what messages and logs show
        self._headers = headers or (lambda: {})
        self.max_line_bytes = max_line_bytes
        self.retry_policy = RetryPolicy(config.max_retries, config.retry_base_delay, retry_max_delay)
        self.clients = LoopClients(config.timeouts, transport_factory=transport_factory, linear_pool=linear_pool)

    @property
    def provider(self) -> str:
        return self.config.name

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def http(self) -> httpx.AsyncClient:
        """The running event loop's pooled client."""
        return await self.clients.get()

    async def aclose(self) -> None:
        """Close the current loop's client (the others close when their loops shut down)."""
        await self.clients.aclose()

    # --- requests ------------------------------------------------------------------------------
    async def _open(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None,
        deadlines: dict[str, float],
        accept: str,
        model: str | None = None,
    ) -> httpx.Response:
        """Send one request; return the 2xx response with its body unread, or raise our exception
        (for any other status, a redirect included)."""
        client = await self.clients.get()
        headers = {"Accept": accept, **self._headers()}
        request = client.build_request(method, url, json=body, headers=headers)
        phase, deadline = min(deadlines.items(), key=lambda item: item[1])
        try:
            async with asyncio.timeout_at(deadline):
                with translate_transport_errors(provider=self.provider, phase="response", url=self.public_base_url):
                    response = await client.send(request, stream=True)
                if not 200 <= response.status_code < 300:  # 3xx too: redirects are not followed
                    try:
                        with translate_transport_errors(
                            provider=self.provider, phase="response", url=self.public_base_url
                        ):
                            error_body = await read_limited(response, MAX_ERROR_BODY_BYTES)
                    finally:
                        await response.aclose()
                    raise error_from_response(
                        status=response.status_code,
                        body=error_body,
                        headers=response.headers,
                        provider=self.provider,
                        model=model,
                    )
        except TimeoutError as exc:
            raise timeout_error(self.provider, phase, self._phase_seconds(phase)) from exc
        return response

    def _phase_seconds(self, phase: str) -> float:
        return float(getattr(self.config.timeouts, phase, 0.0))

    def _retrying(self, operation: str, attempt: Callable[[], Any], deadline: float) -> Any:
        return call_with_retries(
            attempt, policy=self.retry_policy, provider=self.provider, operation=operation, deadline=deadline
        )

    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        """One non-streamed chat completion (connect and total timeouts apply)."""
        payload = chat_payload(request, model=model, stream=False)
        seconds = self.config.timeouts.total
        total = time.monotonic() + seconds
        url = self.url("chat/completions")
        logger.debug("%s POST %s/chat/completions (model=%s, stream=false)", self.provider, self.public_base_url, model)

        async def attempt() -> httpx.Response:
            return await self._open(
                "POST", url, body=payload, deadlines={"total": total}, accept="application/json", model=model
            )

        response = await self._retrying("completion", attempt, total)
        raw = await read_body(response, provider=self.provider, deadline=total, seconds=seconds)
        return parse_completion(parse_json(raw, provider=self.provider), provider=self.provider, model=model)

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[Chunk]:
        """Stream a chat completion. Retried only until the response starts; never after."""
        payload = chat_payload(request, model=model, stream=True)
        timeouts = self.config.timeouts
        started = time.monotonic()
        deadlines = StreamDeadlines(
            first_token=started + timeouts.first_token, total=started + timeouts.total, idle_seconds=timeouts.idle
        )
        url = self.url("chat/completions")
        logger.debug("%s POST %s/chat/completions (model=%s, stream=true)", self.provider, self.public_base_url, model)

        async def attempt() -> httpx.Response:
            return await self._open(
                "POST",
                url,
                body=payload,
                deadlines={"first_token": deadlines.first_token, "total": deadlines.total},
                accept="text/event-stream",
                model=model,
            )

        response = await self._retrying("stream", attempt, min(deadlines.first_token, deadlines.total))
        content_type = response.headers.get("content-type", "").lower()
        if content_type.startswith(("application/json", "text/html")):
            # Not a stream: an error at HTTP 200 (LM Studio answers unknown paths so), a proxy's page,
            # or a server that ignored stream=true and sent the whole completion.
            yield await self._non_stream_answer(response, content_type, deadlines.total, model)
            return
        provider = self.provider
        decoder = SSEDecoder(max_line_bytes=self.max_line_bytes)
        parts: list[str] = []  # the text so far, joined only when an error needs it
        finished = done = False
        try:
            reader = body_chunks(response)
            while not done:
                phase, deadline = deadlines.next_read()
                eof = False
                try:
                    async with asyncio.timeout_at(deadline):
                        data = await anext(reader)
                    events = decoder.feed(data)
                except StopAsyncIteration:
                    eof = True
                    events = decoder.flush()
                except TimeoutError:
                    if finished:  # the answer is complete; only [DONE] or usage is missing
                        logger.debug("%s: nothing after finish_reason for a while; the answer is complete", provider)
                        return
                    raise timeout_error(provider, phase, self._phase_seconds(phase), "".join(parts)) from None
                except httpx.HTTPError as exc:
                    if finished:
                        logger.debug("%s: connection lost after finish_reason; the answer is complete", provider)
                        return
                    raise transport_error(exc, provider=provider, phase="body", partial_text="".join(parts)) from exc
                for event in events:
                    if event.data == "[DONE]":
                        done = True
                        break
                    deadlines.got_event = True
                    chunk = parse_chunk(
                        parse_json(event.data, provider=provider), provider=provider, parts=parts, model=model
                    )
                    if chunk is None:
                        continue
                    if chunk.delta:
                        parts.append(chunk.delta)
                    if chunk.finish_reason:
                        finished = True
                        deadlines.finished()
                    yield chunk
                if eof:
                    break
            if done:
                await drain(reader)
                if not finished:
                    # [DONE] without a finish_reason is a complete answer too; say so the one way
                    # consumers check (the relay sends [DONE] only after a finish_reason).
                    yield Chunk(finish_reason="stop")
            if not (done or finished):
                raise StreamInterruptedError(
                    f"The stream from provider '{provider}' ended before it was complete "
                    "(no [DONE] and no finish_reason).",
                    provider=provider,
                    details={"reason": "no_end_of_stream"},
                    partial_text="".join(parts),
                )
        except LLMError as exc:
            if not exc.provider:  # raised by the pure SSE decoder, which does not know the provider
                exc.provider = provider
                exc.details.setdefault("provider", provider)
            if not exc.partial_text:
                exc.partial_text = "".join(parts)
            logger.warning(
                "%s stream failed after %d characters: %s (%s)",
                provider,
                len(exc.partial_text),
                exc.code,
                exc.details.get("reason") or exc.details.get("phase") or type(exc).__name__,
            )
            raise
        finally:
            await response.aclose()

    async def _non_stream_answer(self, response: httpx.Response, content_type: str, total: float, model: str) -> Chunk:
        raw = await read_body(response, provider=self.provider, deadline=total, seconds=self.config.timeouts.total)
        if content_type.startswith("text/html"):
            raise ProviderResponseError(
                f"Provider '{self.provider}' answered with an HTML page instead of a stream.",
                provider=self.provider,
                details={"reason": "unexpected_content_type"},
            )
        completion = parse_completion(parse_json(raw, provider=self.provider), provider=self.provider, model=model)
        return completion_chunk(completion)

    async def get_json(self, url: str, *, timeout: float | None = None, retries: bool = True) -> Any:
        """GET a JSON document (model lists, health probes); `timeout` replaces the total timeout."""
        seconds = timeout if timeout is not None else self.config.timeouts.total
        total = time.monotonic() + seconds

        async def attempt() -> Any:
            response = await self._open("GET", url, body=None, deadlines={"total": total}, accept="application/json")
            raw = await read_body(response, provider=self.provider, deadline=total, seconds=seconds)
            return parse_json(raw, provider=self.provider)

        if not retries:
            return await attempt()
        return await self._retrying(f"GET {public_url(url)}", attempt, total)

    async def list_models(self, *, timeout: float | None = None, retries: bool = True) -> list[ModelInfo]:
        data = await self.get_json(self.url("models"), timeout=timeout, retries=retries)
        return parse_models(data, provider=self.provider)
