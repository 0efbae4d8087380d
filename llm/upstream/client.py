"""WHAT: the one HTTP implementation of the OpenAI-compatible chat API: pooled connections, timeouts,
retries, error translation and stream parsing into `Chunk`s. Providers are configurations of it.

WHY: every OpenAI-compatible server (LM Studio, llama.cpp, Ollama, vLLM, OpenRouter) fails in the same
     handful of ways; handling them once means each provider is a few lines, and the rules "only
     [DONE]/finish_reason is success" and "never retry after the first chunk" hold everywhere.
HOW: one `httpx.AsyncClient` (HTTP/1.1, its pool from llm/upstream/transport.py) per event loop, in a WeakKeyDictionary keyed by the loop:
     Django's sync test client and `async_to_sync` run each call on a fresh loop, and a client reused on
     another loop fails with "Event loop is closed". Each loop's client is closed when that loop shuts
     down (asyncio.run and async_to_sync call `shutdown_asyncgens()`; a tiny async generator parked on
     the loop does the closing). Timeouts: httpx's connect timeout; our own deadlines for time-to-first-
     token (until the first data event), the idle gap between reads, and the total (the whole request,
     retries and stream included), each raising ProviderTimeoutError with `details.phase`. httpx errors
     become our exceptions in `translate_transport_errors()` / `transport_error()` only.
     A stream's upstream response is closed in `finally`, so `aclose()` or a cancelled task closes the
     upstream connection at once; CancelledError is never caught. A stream that ends normally has
     yielded a chunk with a finish_reason ("stop" is added when [DONE] came without one).
     Tool calls (`tool_calls`, legacy `function_call`), `refusal` and a choice's `logprobs` are relayed
     as the JSON the upstream sent (the gateway is a relay, not a validator of tool-call shapes), after
     one type check each: a list, an object, a string, an object. One of another type is a
     ProviderResponseError (502 LLM_BAD_GATEWAY, reason "unexpected_shape"): dropping it would change
     the answer (a finish_reason "tool_calls" with no tool call), and relaying it would hand clients
     what their parsers reject. An empty one (`"tool_calls": []`, as vLLM sends) counts as absent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from llm.config import ProviderSettings, public_url
from llm.exceptions import (
    LLMError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from llm.types import ChatRequest, Chunk, Completion, ModelInfo, Usage
from llm.upstream.errors import error_from_payload, error_from_response
from llm.upstream.retry import RetryPolicy, call_with_retries
from llm.upstream.sse import DEFAULT_MAX_LINE_BYTES, SSEDecoder
from llm.upstream.transport import http_transport

__all__ = ["OpenAICompatibleClient", "chat_payload", "translate_transport_errors", "transport_error"]

logger = logging.getLogger(__name__)

# Pool sizes: a gateway relays many concurrent streams to one upstream; keep enough sockets warm. The
# keep-alive limit counts idle connections only (llm/upstream/transport.py); idle ones also expire after 30 s.
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30.0)
MAX_ERROR_BODY_BYTES = 64 * 1024  # enough for any real error message; a huge error page is cut here
MAX_COMPLETION_BODY_BYTES = 32 * 1024 * 1024
_EXCERPT_CHARS = 80
DRAIN_SECONDS = 0.5
# After a finish_reason the answer is complete; only a usage chunk and [DONE] may follow, at once. An
# upstream that keeps the connection open without them would otherwise hold the stream (and the
# gateway's [DONE]) until the idle timeout.
AFTER_FINISH_GRACE_SECONDS = 2.0
DRAIN_MAX_BYTES = 64 * 1024
_SHARED_TIMER = os.environ.get("LLM_SHARED_READ_TIMER", "true") != "false"


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


def _timeout_error(provider: str, phase: str, seconds: float, partial_text: str = "") -> ProviderTimeoutError:
    what = {
        "first_token": "did not send a first token in time",
        "idle": "stopped sending in the middle of the answer",
        "total": "did not finish within the total time allowed",
    }.get(phase, "timed out")
    return ProviderTimeoutError(
        f"Provider '{provider}' {what} ({phase} timeout, {seconds:g}s).",
        provider=provider,
        details={"phase": phase, "timeout_seconds": seconds},
        partial_text=partial_text,
    )


def chat_payload(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The OpenAI Chat Completions request body."""
    payload: dict[str, Any] = dict(request.extra)
    payload["model"] = model
    payload["messages"] = [m.to_openai() for m in request.messages]
    payload["stream"] = stream
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.response_format is not None:  # only what the provider found the server takes
        payload["response_format"] = request.response_format
    return payload


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, Mapping):
        return None

    def number(key: str) -> int:
        item = value.get(key)
        return int(item) if isinstance(item, (int, float)) else 0

    return Usage(number("prompt_tokens"), number("completion_tokens"), number("total_tokens"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# The answer parts relayed as sent (see the module docstring), and the JSON type each must have.
_PART_TYPES: dict[str, type] = {"tool_calls": list, "function_call": dict, "refusal": str, "logprobs": dict}


def _as_delta_tool_calls(calls: list[Any] | None) -> list[Any] | None:
    """A message's tool calls as a stream delta's: each with its `index` (the position, unless given),
    which streaming clients use to put the fragments of a call together."""
    if calls is None:
        return None
    return [
        {"index": i, **call} if isinstance(call, dict) and "index" not in call else call for i, call in enumerate(calls)
    ]


@dataclass
class _LoopClient:
    client: httpx.AsyncClient
    closer: AsyncGenerator[None, None] | None = None


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
    ) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.public_base_url = public_url(self.base_url)  # what messages and logs show
        self._headers = headers or (lambda: {})
        self._transport_factory = transport_factory
        self.max_line_bytes = max_line_bytes
        self.retry_policy = RetryPolicy(config.max_retries, config.retry_base_delay, retry_max_delay)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = weakref.WeakKeyDictionary()

    @property
    def provider(self) -> str:
        return self.config.name

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # --- one pooled client per event loop ------------------------------------------------------
    async def http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and not entry.client.is_closed:
            return entry.client
        timeouts = self.config.timeouts
        client = httpx.AsyncClient(
            http2=False,
            limits=POOL_LIMITS,
            # Read timeouts are ours (first token, idle, total); httpx's is only a backstop.
            timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect, pool=timeouts.total),
            transport=self._transport_factory()
            if self._transport_factory
            else (
                http_transport(limits=POOL_LIMITS)
                if os.environ.get("LLM_LINEAR_POOL", "true") != "false"
                else httpx.AsyncHTTPTransport(http1=True, http2=False, limits=POOL_LIMITS)
            ),
            follow_redirects=False,
        )
        entry = _LoopClient(client)
        self._clients[loop] = entry
        entry.closer = self._close_on_loop_shutdown(loop, entry)
        await entry.closer.__anext__()
        return client

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
        """Close the current loop's client (the others close when their loops shut down)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.pop(loop, None)
        if entry is not None:
            await entry.client.aclose()

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
        client = await self.http()
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
                            error_body = await _read_limited(response, MAX_ERROR_BODY_BYTES)
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
            raise _timeout_error(self.provider, phase, self._phase_seconds(phase)) from exc
        return response

    async def _read_body(self, response: httpx.Response, deadline: float, seconds: float) -> bytes:
        """A whole (non-streamed) body, bounded in size and by `deadline`; the response is closed after."""
        try:
            async with asyncio.timeout_at(deadline):
                with translate_transport_errors(provider=self.provider, phase="body"):
                    return await _read_limited(response, MAX_COMPLETION_BODY_BYTES, provider=self.provider, strict=True)
        except TimeoutError as exc:
            raise _timeout_error(self.provider, "total", seconds) from exc
        finally:
            await response.aclose()

    def _phase_seconds(self, phase: str) -> float:
        return float(getattr(self.config.timeouts, phase, 0.0))

    def _retrying(self, operation: str, attempt: Callable[[], Any], deadline: float) -> Any:
        return call_with_retries(
            attempt, policy=self.retry_policy, provider=self.provider, operation=operation, deadline=deadline
        )

    async def complete(self, request: ChatRequest, *, model: str) -> Completion:
        """One non-streamed chat completion (connect and total timeouts apply)."""
        payload = chat_payload(request, model=model, stream=False)
        total = time.monotonic() + self.config.timeouts.total
        url = self.url("chat/completions")
        logger.debug("%s POST %s/chat/completions (model=%s, stream=false)", self.provider, self.public_base_url, model)

        async def attempt() -> httpx.Response:
            return await self._open(
                "POST", url, body=payload, deadlines={"total": total}, accept="application/json", model=model
            )

        response = await self._retrying("completion", attempt, total)
        raw = await self._read_body(response, total, self.config.timeouts.total)
        data = self._json(raw)
        return self._completion(data, model=model)

    def _json(self, raw: bytes | str, partial_text: str = "") -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent malformed JSON.",
                provider=self.provider,
                details={"reason": "malformed_json", "excerpt": text[:_EXCERPT_CHARS]},
                partial_text=partial_text,
            ) from exc

    def _completion(self, data: Any, *, model: str) -> Completion:
        if not isinstance(data, Mapping):
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent an answer that is not a JSON object.",
                provider=self.provider,
                details={"reason": "unexpected_shape"},
            )
        if data.get("error") is not None:
            raise error_from_payload(data["error"], provider=self.provider, model=model)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent an answer without choices.",
                provider=self.provider,
                details={"reason": "unexpected_shape"},
            )
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
        text = _text(message.get("content"))
        finish = choice.get("finish_reason")
        if finish == "error":
            raise ProviderResponseError(
                f"Provider '{self.provider}' reported finish_reason 'error'.",
                provider=self.provider,
                details={"in_band": True, "finish_reason": "error"},
                partial_text=text,
            )
        return Completion(
            text=text,
            model=_text(data.get("model")) or model,
            finish_reason=finish if isinstance(finish, str) else None,
            usage=_usage(data.get("usage")),
            reasoning=_text(message.get("reasoning_content")) or _text(message.get("reasoning")),
            id=_text(data.get("id")) or None,
            tool_calls=self._part(message, "tool_calls", [text]),
            function_call=self._part(message, "function_call", [text]),
            refusal=self._part(message, "refusal", [text]),
            logprobs=self._part(choice, "logprobs", [text]),
        )

    def _part(self, container: Mapping[str, Any], key: str, parts: list[str], tail: str = "") -> Any:
        """`container[key]` as sent, None when absent, null or empty; of a wrong type, an error (whose
        partial text is `parts` and `tail`, joined only then)."""
        value = container.get(key)
        if value is None:
            return None
        if not isinstance(value, _PART_TYPES[key]):
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent `{key}` as {type(value).__name__}, not {_PART_TYPES[key].__name__}.",
                provider=self.provider,
                details={"reason": "unexpected_shape", "field": key},
                partial_text="".join(parts) + tail,
            )
        return value or None

    async def stream(self, request: ChatRequest, *, model: str) -> AsyncIterator[Chunk]:
        """Stream a chat completion. Retried only until the response starts; never after."""
        payload = chat_payload(request, model=model, stream=True)
        timeouts = self.config.timeouts
        started = time.monotonic()
        total = started + timeouts.total
        first_token = started + timeouts.first_token
        url = self.url("chat/completions")
        logger.debug("%s POST %s/chat/completions (model=%s, stream=true)", self.provider, self.public_base_url, model)

        async def attempt() -> httpx.Response:
            return await self._open(
                "POST",
                url,
                body=payload,
                deadlines={"first_token": first_token, "total": total},
                accept="text/event-stream",
                model=model,
            )

        response = await self._retrying("stream", attempt, min(first_token, total))
        content_type = response.headers.get("content-type", "").lower()
        if content_type.startswith(("application/json", "text/html")):
            # Not a stream: an error at HTTP 200 (LM Studio answers unknown paths so), a proxy's page,
            # or a server that ignored stream=true and sent the whole completion.
            async for chunk in self._non_stream_answer(response, content_type, total, model):
                yield chunk
            return
        decoder = SSEDecoder(max_line_bytes=self.max_line_bytes)
        parts: list[str] = []  # the text so far, joined only when an error needs it
        got_event = finished = done = False
        finish_deadline = 0.0  # set once at the finish_reason: keep-alive bytes after it do not extend it
        read_deadline = _ReadDeadline()
        try:
            reader = _body_chunks(response)
            while not done:
                if got_event:
                    phase, deadline = "idle", time.monotonic() + timeouts.idle
                else:
                    phase, deadline = "first_token", first_token
                if finished:
                    deadline = min(deadline, finish_deadline)
                if total <= deadline:
                    phase, deadline = "total", total
                eof = False
                try:
                    if _SHARED_TIMER:
                        read_deadline.arm(deadline)
                        try:
                            data = await reader.__anext__()
                        finally:
                            read_deadline.disarm()
                    else:
                        try:
                            async with asyncio.timeout_at(deadline):
                                data = await reader.__anext__()
                        except TimeoutError:
                            if finished:
                                return
                            raise _timeout_error(
                                self.provider, phase, self._phase_seconds(phase), "".join(parts)
                            ) from None
                    events = decoder.feed(data)
                except StopAsyncIteration:
                    eof = True
                    events = decoder.flush()
                except asyncio.CancelledError:
                    if not read_deadline.expired():
                        raise  # cancelled from outside: never swallowed
                    if finished:  # the answer is complete; only [DONE] or usage is missing
                        logger.debug(
                            "%s: nothing after finish_reason for a while; the answer is complete", self.provider
                        )
                        return
                    raise _timeout_error(self.provider, phase, self._phase_seconds(phase), "".join(parts)) from None
                except httpx.HTTPError as exc:
                    if finished:
                        logger.debug("%s: connection lost after finish_reason; the answer is complete", self.provider)
                        return
                    raise transport_error(
                        exc, provider=self.provider, phase="body", partial_text="".join(parts)
                    ) from exc
                for event in events:
                    if event.data == "[DONE]":
                        done = True
                        break
                    got_event = True
                    chunk = self._chunk(self._json(event.data), parts, model)
                    if chunk is None:
                        continue
                    if chunk.delta:
                        parts.append(chunk.delta)
                    if chunk.finish_reason and not finished:
                        finished = True
                        finish_deadline = time.monotonic() + AFTER_FINISH_GRACE_SECONDS
                    yield chunk
                if eof:
                    break
            if done:
                await _drain(reader)
                if not finished:
                    # [DONE] without a finish_reason is a complete answer too; say so the one way
                    # consumers check (the relay sends [DONE] only after a finish_reason).
                    yield Chunk(finish_reason="stop")
            if not (done or finished):
                raise StreamInterruptedError(
                    f"The stream from provider '{self.provider}' ended before it was complete "
                    "(no [DONE] and no finish_reason).",
                    provider=self.provider,
                    details={"reason": "no_end_of_stream"},
                    partial_text="".join(parts),
                )
        except LLMError as exc:
            if not exc.provider:  # raised by the pure SSE decoder, which does not know the provider
                exc.provider = self.provider
                exc.details.setdefault("provider", self.provider)
            if not exc.partial_text:
                exc.partial_text = "".join(parts)
            logger.warning(
                "%s stream failed after %d characters: %s (%s)",
                self.provider,
                len(exc.partial_text),
                exc.code,
                exc.details.get("reason") or exc.details.get("phase") or type(exc).__name__,
            )
            raise
        finally:
            read_deadline.close()
            await response.aclose()

    async def _non_stream_answer(
        self, response: httpx.Response, content_type: str, total: float, model: str
    ) -> AsyncIterator[Chunk]:
        raw = await self._read_body(response, total, self.config.timeouts.total)
        if content_type.startswith("text/html"):
            raise ProviderResponseError(
                f"Provider '{self.provider}' answered with an HTML page instead of a stream.",
                provider=self.provider,
                details={"reason": "unexpected_content_type"},
            )
        completion = self._completion(self._json(raw), model=model)
        yield Chunk(
            delta=completion.text,
            reasoning=completion.reasoning,
            role="assistant",
            finish_reason=completion.finish_reason or "stop",
            usage=completion.usage,
            model=completion.model,
            id=completion.id,
            tool_calls=_as_delta_tool_calls(completion.tool_calls),
            function_call=completion.function_call,
            refusal=completion.refusal,
            logprobs=completion.logprobs,
        )

    def _chunk(self, payload: Any, parts: list[str], model: str) -> Chunk | None:
        # Once per token: `payload` comes from json.loads, so dict and str are the only mapping and
        # string types to expect, and what is missing or of another type counts as absent.
        if not isinstance(payload, dict):
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent a stream event that is not a JSON object.",
                provider=self.provider,
                details={"reason": "unexpected_shape"},
            )
        get = payload.get
        if get("error") is not None:
            raise error_from_payload(payload["error"], provider=self.provider, partial_text="".join(parts), model=model)
        usage = get("usage")
        if usage is not None:
            usage = _usage(usage)
        choices = get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        if choice is None:
            if usage is None:
                return None
            return Chunk(usage=usage, model=_text(get("model")) or None, id=_text(get("id")) or None)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = {}
        content = delta.get("content")
        if not isinstance(content, str):
            content = ""
        finish = choice.get("finish_reason")
        if finish is not None and not isinstance(finish, str):
            finish = None
        if finish == "error":
            raise ProviderResponseError(
                f"Provider '{self.provider}' reported finish_reason 'error'.",
                provider=self.provider,
                details={"in_band": True, "finish_reason": "error"},
                partial_text="".join(parts) + content,
            )
        reasoning = role = tool_calls = function_call = refusal = None
        if len(delta) > 1 or "content" not in delta:  # anything besides the text: look further
            reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
            role = _text(delta.get("role")) or None
            if "tool_calls" in delta or "function_call" in delta or "refusal" in delta:
                tool_calls = self._part(delta, "tool_calls", parts, content)
                function_call = self._part(delta, "function_call", parts, content)
                refusal = self._part(delta, "refusal", parts, content)
        logprobs = choice.get("logprobs")  # a choice's, not the delta's; most servers send null
        if logprobs is not None:
            logprobs = self._part(choice, "logprobs", parts, content)
        has_parts = tool_calls or function_call or refusal or logprobs
        if not (content or reasoning or role or finish or usage or has_parts):
            return None
        model_name = get("model")
        chunk_id = get("id")
        chunk = Chunk(
            delta=content,
            reasoning=reasoning or "",
            finish_reason=finish,
            usage=usage,
            role=role,
            model=model_name if isinstance(model_name, str) and model_name else None,
            id=chunk_id if isinstance(chunk_id, str) and chunk_id else None,
        )
        if has_parts:  # rare: a text chunk does not pay for passing them
            chunk = replace(
                chunk, tool_calls=tool_calls, function_call=function_call, refusal=refusal, logprobs=logprobs
            )
        return chunk

    async def get_json(self, url: str, *, timeout: float | None = None, retries: bool = True) -> Any:
        """GET a JSON document (model lists, health probes); `timeout` replaces the total timeout."""
        total = time.monotonic() + (timeout if timeout is not None else self.config.timeouts.total)

        async def attempt() -> Any:
            response = await self._open("GET", url, body=None, deadlines={"total": total}, accept="application/json")
            raw = await self._read_body(response, total, timeout or self.config.timeouts.total)
            return self._json(raw)

        if not retries:
            return await attempt()
        return await self._retrying(f"GET {public_url(url)}", attempt, total)

    async def list_models(self, *, timeout: float | None = None, retries: bool = True) -> list[ModelInfo]:
        data = await self.get_json(self.url("models"), timeout=timeout, retries=retries)
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise ProviderResponseError(
                f"Provider '{self.provider}' sent a model list without `data`.",
                provider=self.provider,
                details={"reason": "unexpected_shape"},
            )
        return [
            ModelInfo(id=item["id"], owned_by=_text(item.get("owned_by")))
            for item in items
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        ]


class _ReadDeadline:
    """A deadline for each read of a stream, at the cost of one timer per stream instead of one per read.

    `asyncio.timeout_at()` around every read schedules and cancels a timer each time, about a tenth of
    the client's CPU per event (cProfile), and a fast upstream sends an event per read. Here one timer
    stays scheduled: when it fires during a read that is past its deadline, it cancels the reading task;
    during a newer read it moves to that read's deadline; between reads (the consumer is busy) it lapses
    and the next `arm()` schedules it again. `expired()` then tells the read's CancelledError apart from
    one from outside with asyncio.Timeout's own rule (the task's cancel count), so an outside cancel
    always propagates.
    """

    __slots__ = ("_cancelling", "_deadline", "_fired", "_handle", "_loop", "_task", "_when")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._when = float("inf")  # when the timer fires
        self._deadline: float | None = None  # the current read's deadline; None between reads
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._fired = False

    def arm(self, deadline: float) -> None:
        """Before a read: it must end by `deadline` (a `time.monotonic()` value, the loop's clock)."""
        task = asyncio.current_task(self._loop)
        assert task is not None
        self._task = task
        self._cancelling = task.cancelling()
        self._deadline = deadline
        if deadline < self._when:
            if self._handle is not None:
                self._handle.cancel()
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._fire)

    def disarm(self) -> None:
        self._deadline = None

    def _fire(self) -> None:
        self._handle, self._when = None, float("inf")
        deadline = self._deadline
        if deadline is None or self._task is None:
            return
        if self._loop.time() >= deadline:
            self._fired = True
            self._task.cancel()
        else:
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._fire)

    def expired(self) -> bool:
        """For a CancelledError out of a read: True if this deadline caused it (and nothing else asked)."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives. Without a Content-Encoding (SSE servers send none) `aiter_raw()` yields
    exactly what `aiter_bytes()` would, through one generator and decoder less per read."""
    if response.headers.get("content-encoding", "identity").strip().lower() in ("", "identity"):
        return response.aiter_raw()
    return response.aiter_bytes()


async def _drain(reader: AsyncIterator[bytes]) -> None:
    """Read what follows [DONE] (normally just the end of the chunked body), so the connection goes
    back to the pool instead of being closed; give up quickly, it is only an optimisation."""
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for data in reader:
                drained += len(data)
                if drained > DRAIN_MAX_BYTES:
                    return
    except (TimeoutError, httpx.HTTPError):
        return


async def _read_limited(response: httpx.Response, limit: int, *, provider: str = "", strict: bool = False) -> bytes:
    """Read a body up to `limit` bytes; beyond it, cut (error bodies) or refuse (`strict`)."""
    body = bytearray()
    async for data in response.aiter_bytes():
        body += data
        if len(body) > limit:
            if strict:
                raise ProviderResponseError(
                    f"Provider '{provider}' sent a response body that is too large.",
                    provider=provider,
                    details={"reason": "body_too_large", "limit_bytes": limit},
                )
            break
    return bytes(body[:limit])
