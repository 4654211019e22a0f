"""Which stored sentences can answer: questions, link teasers, captions and bylines stay in the text but are marked."""

from __future__ import annotations

import re

STATEMENT = "statement"

_TEASER = re.compile(
    r"^(?:[➤►▶→»•]|read\s+(?:more|also)\b|also\s+read\b|related\b|click\s+here\b|watch\b|listen\b|"
    r"sign\s+up\b|subscribe\b|here'?s\s+(?:when|what|why|how|where|who)\b|see\s+also\b|more\s+on\s+this\b)",
    re.IGNORECASE,
)
_NAME = r"[A-Z][\w.'-]*"
_BYLINE = re.compile(
    rf"^(?:(?i:by)\s+{_NAME}(?:\s+(?:{_NAME}|and|&))*(?:\s*[,|·-]\s*{_NAME}(?:\s+{_NAME})*)?\.?$"
    r"|(?i:(?:reporting|writing|editing|additional\s+reporting)\s+by)\b)",
)
_CAPTION = re.compile(
    r"^(?:photo|picture|image|video|pictured|file\s+photo)\s*[:(]|\((?:photo|picture|image)[^)]*\)\s*$"
    r"|(?:photo|picture|image)\s*(?:credit)?\s*:\s*\S+(?:\s+\S+){0,5}$"
    r"|/\s*(?:getty(?:\s+images)?|ap|afp|reuters|epa)\s*$",
    re.IGNORECASE,
)


def classify(text: str) -> str:
    """"question", "teaser", "byline", "caption", or "statement" for a sentence that may answer."""
    text = text.strip()
    if _TEASER.match(text):
        return "teaser"
    if _BYLINE.match(text):
        return "byline"
    if _CAPTION.search(text):
        return "caption"
    if text.rstrip("\"'”’)»").endswith("?"):
        return "question"
    return STATEMENT
