"""WHAT: a tiny blocking client for the gateway's chat endpoint in tests: POST, then the JSON body or the
list of SSE `data:` payloads (decoded JSON, or the string "[DONE]").
WHY: tests assert on exact statuses, headers and event sequences, which the openai SDK hides.
HOW: httpx with a hard timeout, so a hanging stream fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ChatResult", "post_chat"]


@dataclass
class ChatResult:
    status: int
    headers: httpx.Headers
    body: Any = None  # a JSON response's body
    events: list[Any] | None = None  # an SSE response's data payloads, in order

    @property
    def text(self) -> str:
        return "".join(
            (e["choices"][0]["delta"].get("content") or "")
            for e in self.events or []
            if isinstance(e, dict) and e.get("choices")
        )


def post_chat(
    base_url: str, body: Any, *, timeout: float = 10.0, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> ChatResult:
    url = f"{base_url}/api/v1/llm/chat/completions"
    content = raw if raw is not None else json.dumps(body).encode()
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream(
            "POST", url, content=content, headers={"Content-Type": "application/json", **(headers or {})}
        ) as response,
    ):
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            data = response.read().decode()
            events = []
            for block in data.split("\n\n"):
                if block.startswith("data: "):
                    payload = block[len("data: ") :]
                    events.append(payload if payload == "[DONE]" else json.loads(payload))
                elif block.strip():
                    raise AssertionError(f"unexpected SSE block: {block!r}")
            return ChatResult(response.status_code, response.headers, events=events)
        response.read()
        return ChatResult(response.status_code, response.headers, body=response.json())
