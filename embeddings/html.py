"""Extract the article from a news web page with trafilatura: body paragraphs, title, date, author, URL.

Trafilatura runs without reader comments and in precision mode (both raise token F1 on the
article extraction benchmark, see scripts/bench_html_extraction.py), falling back to its
default mode when precision mode finds no body; its text then loses the list
markers it adds, a repeat of the headline, and the furniture lines cleaning.py recognises.
Subheadings are kept: in HTML they are marked up as part of the article body.
"""

from __future__ import annotations

import datetime as dt
import re

import trafilatura
from trafilatura.settings import Document

from embeddings.cleaning import CleanedPage, has_sentence, normalise_lines, strip_furniture

_LIST_MARKER = "- "  # how trafilatura's plain-text output renders a list item
# Precision mode first; the default mode's recall when precision finds no body.
_MODES: tuple[dict[str, bool], ...] = ({"favor_precision": True}, {})
_MIN_LIST_WORDS = 30  # a body with no sentence in it still counts when it is this long (a list, a table)
# A body this short that asks the reader to log in or pay is a login wall or paywall, not an article.
_WALL_WORDS = 40
_WALL = re.compile(r"\b(log ?in|sign ?in|subscribe|subscriber|subscription|paywall)\b", re.IGNORECASE)


def _paragraphs(text: str, title: str) -> list[str]:
    """Trafilatura's text as paragraphs, without its list markers or a repeat of the headline."""
    lines = (line.strip().removeprefix(_LIST_MARKER) for line in normalise_lines(text))
    return [line for line in lines if line and line != title]


def _iso_date(value: str | None) -> dt.date | None:
    """Trafilatura's ISO date string as a date; None when it is missing or malformed."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _page(document: Document | None, url: str | None) -> CleanedPage | None:
    """A trafilatura result as a CleanedPage, or None when it holds no article body."""
    if document is None or not document.text:
        return None
    title = " ".join((document.title or "").split())
    body = strip_furniture(_paragraphs(document.text, title))
    if not any(map(has_sentence, body)) and sum(len(p.split()) for p in body) < _MIN_LIST_WORDS:
        return None  # nothing but labels, links or a login prompt
    if sum(len(p.split()) for p in body) < _WALL_WORDS and _WALL.search(document.text):
        return None  # a login wall or paywall
    return CleanedPage(
        title=title,
        date=_iso_date(document.date),
        source=document.sitename or None,
        text="\n\n".join(body),
        url=document.url or url,
        author=document.author or None,
    )


def html_to_page(html: bytes | str, url: str | None = None) -> CleanedPage | None:
    """The article of an HTML page (bytes in any encoding), or None when it has no article body."""
    for mode in _MODES:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, **mode)
        if page := _page(document, url):
            return page
    return None
