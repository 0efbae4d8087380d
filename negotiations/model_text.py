"""WHAT: `clean_text(raw)`: what a model wrote, reduced to the one or two sentences the agent said.
WHY: small models wrap their answer in tags, speaker labels, invented salutations and quotes, and run
     on into the other side's lines; the public message should be just the agent's words, short.
HOW: pure string functions (no LLM, no database), used on every text a model writes: the `narrate`
     sentence and the message of an `llm`-mode proposal (negotiations/proposals.py).
"""
from __future__ import annotations

import re

from negotiations.guardrails import MAX_TEXT_CHARS

__all__ = ["clean_text"]

_LABEL = re.compile(r"^\s*(?:seller|buyer|assistant|me|you|message|players?)\s*:\s*", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,40}>")
# Small models open with an invented addressee ("Hi Rebekka,"); it carries nothing.
_SALUTATION = re.compile(r"^(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening|day))\b[^.!?,]{0,25}[,!.]\s*", re.IGNORECASE)
MIN_TEXT_CHARS = 40
MAX_SENTENCES = 2


def clean_text(raw: str) -> str:
    """What a model wrote, reduced to its first one or two sentences: tags, speaker labels, an opening
    salutation and wrapping quotes removed; stops where the model starts writing the other side's lines."""
    lines = [line.strip() for line in _TAG.sub(" ", raw).splitlines() if line.strip()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        if index and _LABEL.match(line):
            break
        kept.append(_LABEL.sub("", line))
        if len(" ".join(kept)) >= MIN_TEXT_CHARS:
            break
    text = re.sub(r"\s+", " ", " ".join(kept)).strip()
    stripped = _SALUTATION.sub("", text)
    if stripped and stripped != text:
        text = stripped[:1].upper() + stripped[1:]
    text = " ".join(re.split(r"(?<=[.!?])\s+", text)[:MAX_SENTENCES])
    text = text.strip().strip('"“”\'').strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text
