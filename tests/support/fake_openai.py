"""WHAT: a fake OpenAI-compatible HTTP server (LM Studio / llama.cpp / OpenRouter flavoured) for tests
and benchmarks, whose behaviour each request chooses: normal, slow, errors, drops, stalls, malformed data.

WHY: the provider layer must survive every failure real servers produce; those are byte-level (lines
     split across TCP writes, a connection dropped mid-chunk, headers that never come), so the fake is a
     raw `asyncio.start_server` speaking minimal HTTP/1.1 (keep-alive, chunked bodies), not a framework.
HOW: `FakeOpenAIServer()` runs its own event loop in a daemon thread on 127.0.0.1 at a free port.
     A request's behaviour comes from the `X-Fake-Behaviour` header, else `server.behaviour_override`,
     else its JSON `model` when that names a behaviour, else "normal". Spec grammar: `name[:arg[:arg]]`.
     Options by header: X-Fake-Tokens (default 8), X-Fake-Delay-Ms (per token, default 0), X-Fake-Key
     (counter key of `fail:`), X-Fake-Retry-After / X-Fake-Retry-After-Ms (added to error responses).
     Every request is recorded (`records`): tests count attempts and check when the client hung up.
     `python -m tests.support.fake_openai --port N` runs it in the foreground for benchmarks.

Behaviours (streaming and non-streaming unless noted):
    normal                  role-only first chunk (content null), N tokens, finish "stop", [DONE]
    slow:MS                 MS milliseconds before each token
    status:CODE             OpenAI-style JSON error with that status (429 gets Retry-After if asked)
    rate-limit:SECONDS      429 with `Retry-After: SECONDS`
    rate-limit-ms:MS        429 with `retry-after-ms: MS`
    rate-limit-date:SECONDS 429 with Retry-After as an HTTP-date SECONDS ahead
    fail:N[:CODE[:WAIT]]    first N requests of a key fail with CODE (default 500), then normal; WAIT
                            adds `Retry-After: WAIT`, or `retry-after-ms: M` when WAIT is "Mms"
    bad-request             400 invalid_request_error
    model-not-found         404 model_not_found (OpenAI's text)
    no-models-loaded        400 with LM Studio's "No models loaded" message
    context-overflow        400 with LM Studio's overflow message (its `error` is a plain string)
    context-overflow-llamacpp  400 with llama.cpp's exceed_context_size_error
    context-overflow-openai 400 with OpenAI's context_length_exceeded
    html:CODE               an HTML error page (nginx-like) with that status
    redirect:CODE           a redirect (default 301) to https://user:pw@elsewhere.example/v1?key=k (not followed)
    drop-after:N            N tokens, then the TCP connection is cut (no terminating chunk)
    malformed:N             N tokens, then a data line that is not JSON
    error-mid-stream:N      N tokens, then `data: {"error": {...}}` at HTTP 200, then the body ends
    openrouter-error:N      N tokens, then OpenRouter's documented mid-stream error chunk (error + finish "error")
    finish-error:N          N tokens, then a chunk with finish_reason "error" and no error object
    stall-after-first       headers, the role chunk and one token, then silence until the client leaves
    no-headers              reads the request and never answers
    empty-stream            200 headers, then the body ends with no event at all
    comments                `: keep-alive` and `: OPENROUTER PROCESSING` comment lines between events
    crlf / cr               CRLF / bare-CR line endings
    split[:K]               the body written K bytes at a time (default 3) with pauses, splitting UTF-8
    no-space                `data:{...}` without the space
    multiline               each JSON payload spread over several `data:` lines
    done-no-blank           `data: [DONE]` at EOF with no blank line after it
    usage                   a trailing chunk with empty `choices` and `usage` (also sent when the
                            request asks via stream_options.include_usage)
    content-and-finish      the last token and finish_reason in the same chunk
    reasoning               `reasoning_content` deltas (LM Studio) and `reasoning` deltas (OpenRouter)
    finish:VALUE            finish_reason VALUE (e.g. an unknown one)
    huge-line:BYTES         one data line of BYTES bytes
    drop-after-finish       tokens and the finish chunk, then the connection is cut before [DONE]
    stall-after-finish      tokens and the finish chunk, then silence (no usage, no [DONE]) until the client leaves
    pings-after-finish      tokens and the finish chunk, then a `: keepalive` comment every 50 ms for 10 s, no [DONE]
    no-finish               (stream requests) tokens and [DONE], but no chunk with a finish_reason
    ignore-stream           (stream requests) a whole non-streamed completion, as if stream=false
    json-error-200          (stream requests) HTTP 200 with a JSON error body, as LM Studio answers unknown paths
    html-200                (stream requests) HTTP 200 with an HTML page (a captive portal, a proxy)
    tool-calls[:N]          N content tokens (default 0), then the two TOOL_CALLS, finish "tool_calls".
                            Streamed the way OpenAI and llama.cpp do: per call a first delta with
                            index, id, type, function.name and empty arguments, then deltas with
                            index and function.arguments fragments (a few characters each, non-ASCII
                            included); not streamed: `message.tool_calls`, content null
    function-call           the legacy FUNCTION_CALL (name first, then argument fragments), finish
                            "function_call"; not streamed: `message.function_call`, content null
    refusal                 REFUSAL in `refusal` delta fragments, no content, finish "stop"; not
                            streamed: `message.refusal`, content null
    logprobs                the normal tokens, each chunk's choice with `logprobs` (token_logprobs(i));
                            not streamed: the choice's `logprobs` for all tokens
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import itertools
import json
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BEHAVIOURS",
    "FUNCTION_CALL",
    "LM_STUDIO_CONTEXT_OVERFLOW",
    "LM_STUDIO_NO_MODELS_LOADED",
    "REFUSAL",
    "TOOL_CALLS",
    "FakeOpenAIServer",
    "FakeRequest",
    "expected_logprobs",
    "expected_text",
    "token",
    "token_logprobs",
]

# Real servers' error texts, so classification is tested against what users actually get:
# - LM Studio, no model loaded (HTTP 400, OpenAI-style envelope), as reported in public tooling logs
#   ("HTTP 400: {"error": {"message": "No models loaded. Please load a model in the developer page or
#   use the 'lms load' command."}}").
LM_STUDIO_NO_MODELS_LOADED = (
    "No models loaded. Please load a model in the developer page or use the 'lms load' command."
)
# - LM Studio, prompt larger than the loaded context (lmstudio-ai/lmstudio-bug-tracker #546, #237;
#   cline/cline #3664). LM Studio has sent this with `error` as a plain string.
LM_STUDIO_CONTEXT_OVERFLOW = (
    "Trying to keep the first 10136 tokens when context the overflows. However, the model is loaded "
    "with context length of only 7866 tokens, which is not enough. Try to load the model with a larger "
    "context length, or provide a shorter input"
)
# - llama.cpp server (llama-server / llama-cpp-python style envelope):
#   {"error": {"code": 400, "message": "request (4476 tokens) exceeds the available context size
#   (4096 tokens)", "type": "exceed_context_size_error", "n_prompt_tokens": 4476, "n_ctx": 4096}}
LLAMA_CPP_CONTEXT_OVERFLOW = {
    "code": 400,
    "message": "request (4476 tokens) exceeds the available context size (4096 tokens)",
    "type": "exceed_context_size_error",
    "n_prompt_tokens": 4476,
    "n_ctx": 4096,
}
# - OpenAI: code "context_length_exceeded".
OPENAI_CONTEXT_OVERFLOW = {
    "message": "This model's maximum context length is 4096 tokens. However, your messages resulted in "
    "5000 tokens. Please reduce the length of the messages.",
    "type": "invalid_request_error",
    "param": "messages",
    "code": "context_length_exceeded",
}
# - OpenRouter's keep-alive comment (openrouter.ai/docs/api-reference/streaming) and its mid-stream
#   error shape (docs "Handling Errors During Streaming"): HTTP 200, a chunk with a top-level `error`
#   and a choice whose finish_reason is "error".
OPENROUTER_COMMENT = b": OPENROUTER PROCESSING"

BEHAVIOURS = frozenset(
    {
        "normal",
        "slow",
        "status",
        "rate-limit",
        "rate-limit-ms",
        "rate-limit-date",
        "fail",
        "bad-request",
        "model-not-found",
        "no-models-loaded",
        "context-overflow",
        "context-overflow-llamacpp",
        "context-overflow-openai",
        "html",
        "drop-after",
        "malformed",
        "error-mid-stream",
        "openrouter-error",
        "finish-error",
        "stall-after-first",
        "no-headers",
        "empty-stream",
        "comments",
        "crlf",
        "cr",
        "split",
        "no-space",
        "multiline",
        "done-no-blank",
        "usage",
        "content-and-finish",
        "reasoning",
        "finish",
        "huge-line",
        "drop-after-finish",
        "stall-after-finish",
        "pings-after-finish",
        "ignore-stream",
        "json-error-200",
        "html-200",
        "redirect",
        "tool-calls",
        "function-call",
        "refusal",
        "logprobs",
    }
)

# What the tool-call behaviours answer (OpenAI's message shapes), whole; streamed, they come in pieces.
TOOL_CALLS: list[dict[str, Any]] = [
    {
        "id": "call_fake_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Zürich", "unit": "celsius"}'},
    },
    {
        "id": "call_fake_1",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"timezone": "Asia/東京"}'},
    },
]
FUNCTION_CALL: dict[str, Any] = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
REFUSAL = "I'm sorry, I can't help with that. 🙅"
_FRAGMENT_CHARS = 4  # streamed argument and refusal fragments

_WORDS = ("Hello", " wörld", " 世界", " 🙂", " from", " the", " fake", " server", ".")
_STALL_SECONDS = 300.0  # a stall lasts until the client leaves; this only bounds a forgotten one
_POLL_SECONDS = 0.005
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def token(i: int) -> str:
    """The i-th streamed token; includes multi-byte UTF-8 so every stream exercises decoding."""
    return _WORDS[i % len(_WORDS)]


def expected_text(n: int) -> str:
    """The text of a stream of n tokens."""
    return "".join(token(i) for i in range(n))


def token_logprobs(i: int) -> dict[str, Any]:
    """The `logprobs` of the chunk that carries token i (OpenAI's shape, one entry with a top list)."""
    text = token(i)
    return {
        "content": [
            {
                "token": text,
                "logprob": -0.25 * (i + 1),
                "bytes": list(text.encode()),
                "top_logprobs": [{"token": text, "logprob": -0.25 * (i + 1), "bytes": list(text.encode())}],
            }
        ],
        "refusal": None,
    }


def expected_logprobs(n: int) -> dict[str, Any]:
    """The choice's `logprobs` of a non-streamed answer of n tokens."""
    return {"content": [token_logprobs(i)["content"][0] for i in range(n)], "refusal": None}


def _fragments(text: str) -> list[str]:
    return [text[i : i + _FRAGMENT_CHARS] for i in range(0, len(text), _FRAGMENT_CHARS)]


@dataclass
class FakeRequest:
    """One request as the server saw it. Times are `time.monotonic()` values."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any
    behaviour: str
    key: str
    model: str | None
    stream: bool
    received_at: float
    connection_id: int
    completed_at: float | None = None  # the whole response was written
    disconnected_at: float | None = None  # the client hung up before the response was complete
    _closed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def args(self) -> list[str]:
        return self.behaviour.split(":")[1:]


class _ClientGone(Exception):
    pass


class _Conn:
    """One accepted connection: writing that notices a client hang-up, and sleeps that do too."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def gone(self) -> bool:
        return self.reader.at_eof() or self.writer.transport.is_closing() or self.reader.exception() is not None

    async def write(self, data: bytes) -> None:
        if self.gone():
            raise _ClientGone
        self.writer.write(data)
        try:
            await self.writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise _ClientGone from exc

    async def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.gone():
                raise _ClientGone
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(_POLL_SECONDS, left))


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if data else b""


class FakeOpenAIServer:
    """The fake server. Use as a context manager or call `start()`/`stop()`; `reset()` between tests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_records: int | None = None) -> None:
        self.host = host
        self.port = port
        self.records: list[FakeRequest] = []
        self.max_records = max_records  # a long benchmark run keeps only the newest ones
        # Models for GET /v1/models and /api/v0/models; the first is "loaded" in LM Studio's native list.
        self.models: list[str] = ["fake-model", "llama-3-8b-instruct"]
        self.loaded_models: list[str] | None = None  # None: all of `models` are loaded
        self.behaviour_override: str | None = None  # applies to every request without the header
        self.required_key: str | None = None  # when set, requests need `Authorization: Bearer <key>`
        self.native_api = True  # False: /api/v0/models answers 404, like a server that is not LM Studio
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeOpenAIServer:
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="fake-openai", daemon=True)
        self._thread.start()
        started.wait(10)
        if self._server is None:
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def _run(self, started: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(self._listen())
        finally:
            started.set()
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _listen(self) -> asyncio.base_events.Server:
        server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, backlog=1024, limit=64 * 1024 * 1024
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop = None
        self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget records and `fail:` counters; restore the default models and overrides."""
        with self._lock:
            self.records.clear()
            self._counters.clear()
        self.models = ["fake-model", "llama-3-8b-instruct"]
        self.loaded_models = None
        self.behaviour_override = None
        self.required_key = None
        self.native_api = True

    # --- helpers for tests ----------------------------------------------------------------------
    def attempts(
        self,
        behaviour: str | None = None,
        *,
        model: str | None = None,
        key: str | None = None,
        path: str | None = None,
    ) -> int:
        """How many requests matched every given filter (behaviour spec, model, fail key, path)."""
        return len(self.matching(behaviour, model=model, key=key, path=path))

    def matching(
        self,
        behaviour: str | None = None,
        *,
        model: str | None = None,
        key: str | None = None,
        path: str | None = None,
    ) -> list[FakeRequest]:
        with self._lock:
            records = list(self.records)
        return [
            r
            for r in records
            if (behaviour is None or r.behaviour == behaviour)
            and (model is None or r.model == model)
            and (key is None or r.key == key)
            and (path is None or r.path == path)
        ]

    @property
    def last(self) -> FakeRequest:
        with self._lock:
            return self.records[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` requests arrived (sync code only; use `await_requests` in async code)."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_SECONDS)
        return True

    async def await_requests(self, count: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
        return True

    def wait_for_close(self, record: FakeRequest, timeout: float = 1.0) -> bool:
        """True once the client hung up on `record` before its response was complete.

        Blocks the calling thread: from async code use `await_close`, or the client's own loop never
        gets to close its socket.
        """
        return record._closed.wait(timeout)

    async def await_close(self, record: FakeRequest, timeout: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout
        while not record._closed.is_set():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
        return True

    # --- HTTP -----------------------------------------------------------------------------------
    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Conn(reader, writer)
        connection_id = next(self._ids)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                headers: dict[str, str] = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                try:
                    raw_body = await reader.readexactly(length) if length else b""
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                record = self._record(method, target, headers, raw_body, connection_id)
                try:
                    keep_open = await self._respond(conn, record)
                except _ClientGone:
                    keep_open = False
                    record.disconnected_at = time.monotonic()
                    record._closed.set()
                if not keep_open or headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    def _record(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes, connection_id: int
    ) -> FakeRequest:
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
        model = body.get("model") if isinstance(body, dict) else None
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        behaviour = headers.get("x-fake-behaviour") or self.behaviour_override
        if not behaviour:
            behaviour = model if isinstance(model, str) and model.split(":")[0] in BEHAVIOURS else "normal"
        key = headers.get("x-fake-key") or behaviour
        record = FakeRequest(
            method=method,
            path=target.split("?")[0],
            headers=headers,
            body=body,
            behaviour=behaviour,
            key=key,
            model=model if isinstance(model, str) else None,
            stream=stream,
            received_at=time.monotonic(),
            connection_id=connection_id,
        )
        with self._lock:
            self.records.append(record)
            if self.max_records is not None and len(self.records) > self.max_records:
                del self.records[: len(self.records) - self.max_records]
        return record

    async def _respond(self, conn: _Conn, record: FakeRequest) -> bool:
        """Serve one request; False when the connection must not be reused."""
        name, *args = record.behaviour.split(":")
        if self.required_key is not None:
            if record.headers.get("authorization") != f"Bearer {self.required_key}":
                await self._send_error(conn, record, 401, {"message": "No auth credentials found", "code": 401})
                return True
        if name == "no-headers":
            await conn.sleep(_STALL_SECONDS)
            return False
        if name == "fail":
            failures = int(args[0]) if args else 1
            status = int(args[1]) if len(args) > 1 else 500
            with self._lock:
                seen = self._counters.get(record.key, 0)
                self._counters[record.key] = seen + 1
            if seen < failures:
                extra = {}
                if len(args) > 2:  # "1.5" -> Retry-After: 1.5, "300ms" -> retry-after-ms: 300
                    wait = args[2]
                    extra = {"retry-after-ms": wait[:-2]} if wait.endswith("ms") else {"Retry-After": wait}
                await self._send_error(conn, record, status, _error_body(status), extra)
                return True
            name, args = "normal", []
        error = self._error_for(name, args, record)
        if error is not None:
            status, body_or_html, extra = error
            await self._send_error(conn, record, status, body_or_html, extra)
            return True
        if record.method == "GET":
            return await self._serve_get(conn, record)
        if record.method == "POST" and record.path.endswith("/chat/completions"):
            if record.stream:
                return await self._serve_stream(conn, record, name, args)
            return await self._serve_completion(conn, record, name, args)
        await self._send_error(
            conn, record, 404, {"error": f"Unexpected endpoint or method. ({record.method} {record.path})"}
        )
        return True

    def _error_for(self, name: str, args: list[str], record: FakeRequest) -> tuple[int, Any, dict[str, str]] | None:
        if name == "status":
            status = int(args[0]) if args else 500
            return status, _error_body(status), {}
        if name == "rate-limit":
            return 429, _error_body(429), {"Retry-After": args[0] if args else "1"}
        if name == "rate-limit-ms":
            return 429, _error_body(429), {"retry-after-ms": args[0] if args else "100"}
        if name == "rate-limit-date":
            when = time.time() + float(args[0] if args else 1)
            return 429, _error_body(429), {"Retry-After": email.utils.formatdate(when, usegmt=True)}
        if name == "redirect":
            status = int(args[0]) if args else 301
            return status, "", {"Location": "https://user:pw@elsewhere.example/v1?key=k"}
        if name == "bad-request":
            return 400, _error_body(400), {}
        if name == "model-not-found":
            model = record.model or "unknown"
            return (
                404,
                {
                    "error": {
                        "message": f"The model `{model}` does not exist or you do not have access to it.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "model_not_found",
                    }
                },
                {},
            )
        if name == "no-models-loaded":
            return 400, {"error": {"message": LM_STUDIO_NO_MODELS_LOADED}}, {}
        if name == "context-overflow":
            return 400, {"error": LM_STUDIO_CONTEXT_OVERFLOW}, {}
        if name == "context-overflow-llamacpp":
            return 400, {"error": LLAMA_CPP_CONTEXT_OVERFLOW}, {}
        if name == "context-overflow-openai":
            return 400, {"error": OPENAI_CONTEXT_OVERFLOW}, {}
        if name == "html":
            status = int(args[0]) if args else 502
            reason = _REASONS.get(status, "Error")
            page = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            return status, page, {}
        return None

    async def _send_error(
        self, conn: _Conn, record: FakeRequest, status: int, body: Any, extra: dict[str, str] | None = None
    ) -> None:
        headers = dict(extra or {})
        if "x-fake-retry-after" in record.headers:
            headers["Retry-After"] = record.headers["x-fake-retry-after"]
        if "x-fake-retry-after-ms" in record.headers:
            headers["retry-after-ms"] = record.headers["x-fake-retry-after-ms"]
        if isinstance(body, str):
            payload, content_type = body.encode(), "text/html"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        await conn.write(_head(status, content_type, len(payload), headers) + payload)
        record.completed_at = time.monotonic()

    async def _serve_get(self, conn: _Conn, record: FakeRequest) -> bool:
        loaded = self.models[:1] if self.loaded_models is None else self.loaded_models
        if record.path == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "organization_owner"} for m in self.models]
            body: Any = {"object": "list", "data": data}
        elif record.path == "/api/v0/models" and self.native_api:  # LM Studio's native API: loaded or not
            data = [
                {
                    "id": m,
                    "object": "model",
                    "type": "llm",
                    "publisher": "fake",
                    "arch": "llama",
                    "state": "loaded" if m in loaded else "not-loaded",
                    "max_context_length": 4096,
                }
                for m in self.models
            ]
            body = {"object": "list", "data": data}
        elif record.path == "/v1/key":  # OpenRouter's key endpoint, used as its health probe
            body = {"data": {"label": "fake", "usage": 0, "limit": None, "is_free_tier": False}}
        else:
            await self._send_error(conn, record, 404, {"error": f"Unexpected endpoint or method. (GET {record.path})"})
            return True
        name, *args = record.behaviour.split(":")
        if name == "slow":
            await conn.sleep(float(args[0] if args else 100) / 1000)
        payload = json.dumps(body).encode()
        if name == "malformed":
            payload = payload[: len(payload) // 2]
        await conn.write(_head(200, "application/json", len(payload)) + payload)
        record.completed_at = time.monotonic()
        return True

    # --- chat completions -----------------------------------------------------------------------
    def _options(self, record: FakeRequest) -> tuple[int, float]:
        tokens = int(record.headers.get("x-fake-tokens", "8"))
        delay_ms = float(record.headers.get("x-fake-delay-ms", "0"))
        return tokens, delay_ms / 1000

    async def _serve_completion(self, conn: _Conn, record: FakeRequest, name: str, args: list[str]) -> bool:
        tokens, delay = self._options(record)
        if name == "slow":
            delay = float(args[0] if args else 100) / 1000
        if delay:
            await conn.sleep(delay * tokens)
        if name == "tool-calls":
            tokens = int(args[0]) if args else 0
        text = expected_text(tokens)
        finish = args[0] if name == "finish" and args else "stop"
        message: dict[str, Any] = {"role": "assistant", "content": text}
        logprobs = expected_logprobs(tokens) if name == "logprobs" else None
        if name == "reasoning":
            message["reasoning_content"] = "Let me think."
        elif name == "tool-calls":
            message = {"role": "assistant", "content": text or None, "refusal": None, "tool_calls": TOOL_CALLS}
            finish = "tool_calls"
        elif name == "function-call":
            message = {"role": "assistant", "content": None, "function_call": FUNCTION_CALL}
            finish = "function_call"
        elif name == "refusal":
            message = {"role": "assistant", "content": None, "refusal": REFUSAL}
        model = record.model or "fake-model"
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{record.connection_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fake",
            "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens},
        }
        if name in ("error-mid-stream", "openrouter-error"):
            body = {"error": {"code": 502, "message": "Provider returned error"}}
        elif name == "finish-error":
            body["choices"][0]["finish_reason"] = "error"
        payload = json.dumps(body).encode()
        if name == "comments":  # OpenRouter pads non-streamed answers with whitespace while it waits
            payload = b"\n\n" + payload
        if name == "malformed":
            payload = payload[: len(payload) // 2]
        head = _head(200, "application/json", len(payload))
        if name in ("drop-after", "drop-after-finish"):
            await conn.write(head + payload[: len(payload) // 2])
            _abort(conn)
            return False
        if name == "stall-after-first":
            await conn.write(head + payload[: len(payload) // 2])
            await conn.sleep(_STALL_SECONDS)
            return False
        await conn.write(head + payload)
        record.completed_at = time.monotonic()
        return True

    async def _serve_stream(self, conn: _Conn, record: FakeRequest, name: str, args: list[str]) -> bool:
        if name == "ignore-stream":
            return await self._serve_completion(conn, record, "normal", [])
        if name in ("json-error-200", "html-200"):
            if name == "html-200":
                payload, content_type = b"<html><head><title>Captive portal</title></head></html>", "text/html"
            else:
                payload = json.dumps({"error": f"Unexpected endpoint or method. (POST {record.path})"}).encode()
                content_type = "application/json"
            await conn.write(_head(200, content_type, len(payload)) + payload)
            record.completed_at = time.monotonic()
            return True
        tokens, delay = self._options(record)
        if name == "slow":
            delay = float(args[0] if args else 100) / 1000
        n = (
            int(args[0])
            if name in ("drop-after", "malformed", "error-mid-stream", "openrouter-error", "finish-error", "tool-calls")
            and args
            else tokens
        )
        if name in ("tool-calls", "function-call", "refusal") and not args:
            n = 0  # no text unless asked for
        plan = _StreamPlan(record, name, args)
        pieces: list[bytes | float | None] = []  # bytes to send, a float = sleep, None = cut the connection

        def emit(payload: dict[str, Any] | bytes) -> None:
            pieces.append(plan.event(payload))

        if name == "comments":
            pieces.append(plan.line(b": keep-alive") + plan.eol)
            pieces.append(plan.line(OPENROUTER_COMMENT) + plan.eol + plan.eol)
        if name in ("tool-calls", "function-call", "refusal", "logprobs"):
            emit(plan.chunk({"role": "assistant", "content": None, "refusal": None}))  # OpenAI's first delta
        elif name != "empty-stream":
            emit(plan.chunk({"role": "assistant", "content": None}))
        if name == "reasoning":
            emit(plan.chunk({"reasoning_content": "Let me"}))
            emit(plan.chunk({"reasoning": " think."}))
        if name == "huge-line":
            size = int(args[0]) if args else 2 * 1024 * 1024
            emit(plan.chunk({"content": "x" * size}))
        last_index = n - 1
        if name != "empty-stream":
            for i in range(n):
                if delay:
                    pieces.append(delay)
                if name == "content-and-finish" and i == last_index:
                    emit(plan.chunk({"content": token(i)}, finish="stop"))
                elif name == "logprobs":
                    emit(plan.chunk({"content": token(i)}, logprobs=token_logprobs(i)))
                else:
                    emit(plan.chunk({"content": token(i)}))
                if name == "comments" and i % 2 == 0:
                    pieces.append(plan.line(OPENROUTER_COMMENT) + plan.eol + plan.eol)
                if name == "stall-after-first" and i == 0:
                    pieces.append(_STALL_SECONDS)
        if name == "tool-calls":
            for index, call in enumerate(TOOL_CALLS):
                function = call["function"]
                emit(
                    plan.chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": call["id"],
                                    "type": call["type"],
                                    "function": {"name": function["name"], "arguments": ""},
                                }
                            ]
                        }
                    )
                )
                for fragment in _fragments(function["arguments"]):
                    emit(plan.chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
        elif name == "function-call":
            emit(plan.chunk({"function_call": {"name": FUNCTION_CALL["name"], "arguments": ""}}))
            for fragment in _fragments(FUNCTION_CALL["arguments"]):
                emit(plan.chunk({"function_call": {"arguments": fragment}}))
        elif name == "refusal":
            for fragment in _fragments(REFUSAL):
                emit(plan.chunk({"refusal": fragment}))
        if name == "drop-after":
            pieces.append(None)
        elif name == "malformed":
            pieces.append(
                plan.line(b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "oops"')
                + plan.eol
                + plan.eol
            )
        elif name == "error-mid-stream":
            emit({"error": {"message": "Upstream model crashed", "type": "server_error", "code": 500}})
        elif name == "openrouter-error":
            emit(
                plan.chunk(
                    {"content": ""},
                    finish="error",
                    error={"code": "server_error", "message": "Provider disconnected unexpectedly"},
                )
            )
        elif name == "finish-error":
            emit(plan.chunk({}, finish="error"))
        elif name not in ("content-and-finish", "empty-stream", "no-finish"):
            finish = args[0] if name == "finish" and args else "stop"
            finish = {"tool-calls": "tool_calls", "function-call": "function_call"}.get(name, finish)
            emit(plan.chunk({}, finish=finish))
        if name == "drop-after-finish":
            pieces.append(None)
        if name == "stall-after-finish":
            pieces.append(_STALL_SECONDS)
        if name == "pings-after-finish":
            for _ in range(200):
                pieces += [0.05, b": keepalive" + plan.eol + plan.eol]
            pieces.append(_STALL_SECONDS)
        include_usage = isinstance(record.body, dict) and bool(
            (record.body.get("stream_options") or {}).get("include_usage")
        )
        if name not in ("drop-after", "malformed", "error-mid-stream", "empty-stream", "drop-after-finish") and (
            name == "usage" or include_usage
        ):
            emit(plan.usage_chunk(n))
        if name not in ("drop-after", "malformed", "error-mid-stream", "empty-stream", "drop-after-finish"):
            if name == "done-no-blank":
                pieces.append(b"data: [DONE]")
            else:
                emit(b"[DONE]")
        return await self._write_stream(
            conn, record, pieces, split=int(args[0]) if name == "split" and args else (3 if name == "split" else 0)
        )

    async def _write_stream(
        self, conn: _Conn, record: FakeRequest, pieces: list[bytes | float | None], split: int
    ) -> bool:
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        out = bytearray(head)
        for piece in pieces:
            if isinstance(piece, bytes):
                if split:
                    await conn.write(bytes(out))
                    out.clear()
                    for start in range(0, len(piece), split):
                        await conn.write(_chunked(piece[start : start + split]))
                        await asyncio.sleep(0.001)  # separate TCP segments, so the client reads them apart
                else:
                    out += _chunked(piece)
            elif piece is None:
                await conn.write(bytes(out))
                _abort(conn)
                record.completed_at = time.monotonic()
                return False
            else:  # a pause: flush what we have, then wait (noticing a hang-up)
                if out:
                    await conn.write(bytes(out))
                    out.clear()
                await conn.sleep(piece)
        out += b"0\r\n\r\n"
        await conn.write(bytes(out))
        record.completed_at = time.monotonic()
        return True


class _StreamPlan:
    """Builds one stream's SSE bytes in the line style the behaviour asks for."""

    def __init__(self, record: FakeRequest, name: str, args: list[str]) -> None:
        self.name = name
        self.eol = {"crlf": b"\r\n", "cr": b"\r"}.get(name, b"\n")
        self.model = json.dumps(record.model or "fake-model")
        self.id = f"chatcmpl-fake-{record.connection_id}-{int(time.time() * 1000) % 100000}"
        self.created = int(time.time())

    def line(self, raw: bytes) -> bytes:
        return raw

    def chunk(
        self,
        delta: dict[str, Any],
        *,
        finish: str | None = None,
        error: dict[str, Any] | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> bytes:
        payload = (
            '{"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,"system_fingerprint":"fake",'
            '"choices":[{"index":0,"delta":%s,"logprobs":%s,"finish_reason":%s}]%s}'
            % (
                self.id,
                self.created,
                self.model,
                json.dumps(delta, ensure_ascii=False),
                json.dumps(logprobs, ensure_ascii=False),
                json.dumps(finish),
                (',"error":' + json.dumps(error)) if error else "",
            )
        )
        return payload.encode()

    def usage_chunk(self, n: int) -> bytes:
        return (
            '{"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,"choices":[],'
            '"usage":{"prompt_tokens":5,"completion_tokens":%d,"total_tokens":%d}}'
            % (self.id, self.created, self.model, n, n + 5)
        ).encode()

    def event(self, payload: dict[str, Any] | bytes) -> bytes:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if self.name == "multiline" and data != b"[DONE]":
            # Valid JSON once the data lines are joined with "\n" (the SSE rule), as some servers send it.
            parts = data.split(b",")
            lines = [b"data: " + parts[0]] + [b"data: ," + p for p in parts[1:]]
            return self.eol.join(lines) + self.eol + self.eol
        prefix = b"data:" if self.name == "no-space" else b"data: "
        return prefix + data + self.eol + self.eol


def _error_body(status: int) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
    message = {
        400: "Invalid request: 'messages' must be a non-empty array",
        429: "Rate limit reached, please retry later",
    }.get(status, f"Upstream failure ({status})")
    return {"error": {"message": message, "type": kinds.get(status, "server_error"), "code": status}}


def _head(status: int, content_type: str, length: int, extra: dict[str, str] | None = None) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _abort(conn: _Conn) -> None:
    """Cut the connection the way a crashed server does: no terminating chunk, an RST instead of a FIN."""
    sock = conn.writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    conn.writer.transport.abort()


def _main(argv: Iterable[str] | None = None, on_ready: Callable[[FakeOpenAIServer], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI-compatible server in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = FakeOpenAIServer(args.host, args.port, max_records=1000).start()
    print(f"fake OpenAI server listening on {server.base_url}", flush=True)
    if on_ready:
        on_ready(server)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    _main()
