"""WHAT: `strip_control_chars(raw)`: a model's output without NUL and other control characters, and
     `clean_text(raw)`: what a model wrote, reduced to the one or two sentences the agent said.
WHY: small models wrap their answer in tags, speaker labels, invented salutations and quotes, and run
     on into the other side's lines; the public message should be just the agent's words, short. And
     whatever a model emits ends up in the event log's JSON: PostgreSQL's jsonb rejects "\\u0000" and
     lone surrogates, so one such character would fail the turn's transaction (and the negotiation).
HOW: pure string functions (no LLM, no database). The agent strips control characters from every piece a
     model streams (proposal, live drafts, text); `clean_text`, the last step before public text, again.
"""

from __future__ import annotations

import re

from negotiations.agents.guardrails import MAX_TEXT_CHARS

__all__ = ["clean_text", "strip_control_chars"]

# C0 controls but tab and line breaks (clean_text turns those into spaces), DEL, C1 controls, and lone
# surrogates (a JSON "\ud800" decodes to one; no database encoding accepts it).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

_LABEL = re.compile(r"^\s*(?:seller|buyer|assistant|me|you|message|players?)\s*:\s*", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,40}>")
# Small models open with an invented addressee ("Hi Rebekka,"); it carries nothing.
_SALUTATION = re.compile(
    r"^(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening|day))\b[^.!?,]{0,25}[,!.]\s*", re.IGNORECASE
)
MIN_TEXT_CHARS = 40
MAX_SENTENCES = 2


def strip_control_chars(raw: str) -> str:
    """`raw` without control characters (other than tab, CR and LF) and lone surrogates."""
    return _CONTROL.sub("", raw)


def clean_text(raw: str) -> str:
    """What a model wrote, reduced to its first one or two sentences: tags, speaker labels, an opening
    salutation and wrapping quotes removed; stops where the model starts writing the other side's lines."""
    lines = [line.strip() for line in _TAG.sub(" ", strip_control_chars(raw)).splitlines() if line.strip()]
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
    text = text.strip().strip("\"“”'").strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text
