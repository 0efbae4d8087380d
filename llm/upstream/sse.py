"""WHAT: a pure, network-free, incremental Server-Sent Events decoder: feed it bytes as they arrive,
get back complete events.
WHY: OpenAI-compatible servers stream chat chunks as SSE, and every streaming hard case is a framing case
     (comment lines, CR, LF and CRLF split across reads, UTF-8 split across reads, an event at EOF without
     its blank line, a line that never ends); httpx-sse handles some of them otherwise (docs/streaming.md).
HOW: a read is cut after its last line break; the complete lines before it are decoded in one go and the
     fields read as https://html.spec.whatwg.org/multipage/server-sent-events.html says. `flush()` at EOF
     dispatches a pending event; a line longer than `max_line_bytes` raises ProviderResponseError.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from llm.exceptions import ProviderResponseError

__all__ = ["SSEDecoder", "SSEEvent"]

_EOL = re.compile(rb"\r\n?|\n")
_EOL_TEXT = re.compile(r"\r\n?|\n")
_CR = 13
_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_LINE_BYTES = 1_048_576


class SSEEvent(NamedTuple):
    """One dispatched event; `data` is the data lines joined with "\\n". (A tuple: one is made per token.)"""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProviderResponseError(
            "The provider sent a stream line that is not valid UTF-8.", details={"reason": "sse_invalid_utf8"}
        ) from exc


class SSEDecoder:
    """Incremental decoder. `feed(bytes)` returns the events completed so far; call `flush()` at EOF."""

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self.comments = 0  # comment lines seen (keep-alives); useful for logging and tests
        self._buffer = b""
        self._skip_lf = False  # the previous read ended in CR: a leading LF belongs to that line end
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if self._at_start:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer  # maybe a BOM split across reads; wait for the rest
                return []
            buffer = self._strip_bom(buffer)
        # Everything up to the last line break is complete lines, decoded in one go (a multi-byte
        # character never contains a line-break byte); the rest waits for the next read.
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
        self._buffer = buffer[end:]
        if len(self._buffer) > self.max_line_bytes:
            self._too_long()
        if not end:
            return []
        if end == len(buffer) and buffer[end - 1] == _CR:
            self._skip_lf = True  # a CRLF may be split across reads
        complete = buffer[:end]
        if end > self.max_line_bytes:
            self._check_line_lengths(complete)
        text = _decode(complete)
        events: list[SSEEvent] = []
        lines = text.split("\n") if "\r" not in text else _EOL_TEXT.split(text)
        lines.pop()  # "" after the last line break
        for line in lines:
            if not line:
                self._dispatch(events)
            elif line.startswith("data:"):  # the common line, without the general field parsing
                self._data.append(line[6:] if line[5:6] == " " else line[5:])
            else:
                self._line(line)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish an unterminated last line and dispatch a pending event.

        The spec discards an event without its closing blank line; servers do end streams with
        `data: [DONE]` and no newline, and that must count as the end of a complete stream.
        """
        events: list[SSEEvent] = []
        if self._buffer:
            raw, self._buffer = self._strip_bom(self._buffer), b""
            if raw:
                self._line(_decode(raw))
        self._dispatch(events)
        return events

    # ------------------------------------------------------------------------------------------
    def _strip_bom(self, buffer: bytes) -> bytes:
        if self._at_start:
            self._at_start = False
            if buffer.startswith(_BOM):
                return buffer[len(_BOM) :]
        return buffer

    def _too_long(self) -> None:
        raise ProviderResponseError(
            "The provider sent a stream line longer than the allowed maximum.",
            details={"reason": "sse_line_too_long", "max_line_bytes": self.max_line_bytes},
        )

    def _check_line_lengths(self, complete: bytes) -> None:
        start = 0
        for match in _EOL.finditer(complete):
            if match.start() - start > self.max_line_bytes:
                self._too_long()
            start = match.end()

    def _line(self, line: str) -> None:
        """One non-empty line other than the blank line that dispatches."""
        if line[0] == ":":
            self.comments += 1
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        # any other field name is ignored, as the spec says

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event or "message", self._last_id, self._retry))
        self._data = []
        self._event = ""
        self._retry = None
