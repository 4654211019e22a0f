"""Answer → text for a terminal, or JSON; one place decides how citations read."""

from __future__ import annotations

import json

from retrieval.models import Answer, Citation

NOT_COVERED = "The articles don't cover this question."


def citation_line(number: int, citation: Citation) -> str:
    """"[1] Title · Source · 2017-06-22 · URL" with the parts that are known."""
    parts = [citation.title or citation.article_id, citation.source, citation.date and citation.date.isoformat(),
             citation.url]
    return f"[{number}] " + " · ".join(p for p in parts if p)


def source_numbers(answer: Answer) -> dict[str, int]:
    """Article id → its citation number, in order of first citation."""
    return {c.article_id: n for n, c in enumerate(answer.sources(), start=1)}


def to_text(answer: Answer, colour: bool = False) -> str:
    """Quoted sentences with citation numbers and offsets, then the numbered sources."""
    if not answer.answered:
        return NOT_COVERED
    numbers = source_numbers(answer)
    dim, bold, reset = ("\x1b[2m", "\x1b[1m", "\x1b[0m") if colour else ("", "", "")
    lines = []
    for sentence in answer.sentences:
        c = sentence.citation
        lines.append(f"{bold}“{sentence.text}”{reset} [{numbers[c.article_id]}] "
                     f"{dim}(chars {c.start}–{c.end}, score {sentence.score:.2f}){reset}")
    lines.append("")
    lines.append(f"{bold}Sources{reset}")
    for citation in answer.sources():
        lines.append(citation_line(numbers[citation.article_id], citation))
        lines.append(f"    {dim}id: {citation.article_id}{reset}")
    return "\n".join(lines)


def to_json(answer: Answer, **extra) -> str:
    """One line of JSON: {"question", "answered", "sentences": [...]} plus any `extra` keys (e.g. an id)."""
    return json.dumps({**extra, **answer.model_dump(mode="json")}, ensure_ascii=False)
