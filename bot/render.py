"""Answer → text for a terminal, Telegram HTML messages, or JSON; one place decides how citations read."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import textwrap

from embeddings.models import Article
from retrieval.models import Answer, AnswerSentence, Citation

NOT_COVERED = "The articles don't cover this question."
TELEGRAM_LIMIT = 4096  # characters (UTF-16 code units) in one Telegram message
BUTTON_CHARS = 40
MIN_WIDTH = 24  # a narrower terminal still gets words on each line, not one letter
LEAD_CHARS = 160  # the lead-in (title: previous sentence) shown above a quote is clipped to this


def _details(source: str | None, date: dt.date | None) -> list[str]:
    """The known parts of "Source · 2017-06-22"."""
    return [part for part in (source, date and date.isoformat()) if part]


def citation_line(number: int, citation: Citation) -> str:
    """"[1] Title · Source · 2017-06-22 · URL" with the parts that are known."""
    parts = [citation.title or citation.article_id, *_details(citation.source, citation.date), citation.url]
    return f"[{number}] " + " · ".join(p for p in parts if p)


def source_numbers(answer: Answer) -> dict[str, int]:
    """Article id → its citation number, in order of first citation."""
    return {c.article_id: n for n, c in enumerate(answer.sources(), start=1)}


def lead_in(sentence: AnswerSentence, chars: int = LEAD_CHARS) -> str | None:
    """"Title: …end of the sentence before" — what the quote leans on, clipped to `chars` at a word boundary."""
    context = sentence.context
    if context is None:
        return None
    title = context.title.strip()
    if not context.previous:
        return title or None
    previous = last_words(context.previous, max(chars - len(title) - 2, 20))
    return f"{title}: {previous}" if title else previous


def last_words(text: str, chars: int) -> str:
    """The end of `text` in at most `chars` characters, "…" marking a cut, which falls between words."""
    if len(text) <= chars:
        return text
    tail = text[len(text) - chars + 1:]
    if not text[len(text) - chars].isspace() and " " in tail:
        tail = tail.split(" ", 1)[1]  # the cut fell inside a word: start at the next one
    return "…" + tail.lstrip()


def also_reported(sentence: AnswerSentence) -> str | None:
    """"also reported by: Title (Source, date); …" for a sentence repeated in duplicate stories."""
    if not sentence.also_reported_by:
        return None
    names = []
    for c in sentence.also_reported_by:
        details = ", ".join(_details(c.source, c.date))
        names.append(f"{c.title or c.article_id} ({details})" if details else c.title or c.article_id)
    return "also reported by: " + "; ".join(names)


def undated_note(answer: Answer) -> list[str]:
    """["12 articles without a date were not searched."] when a date filter left some out, else []."""
    n = answer.undated_left_out
    if not n:
        return []
    return [f"{n} article without a date was not searched." if n == 1 else
            f"{n} articles without a date were not searched."]


def to_text(answer: Answer, colour: bool = False, width: int | None = None) -> str:
    """Quotes grouped under their article's [n] headline, each after the sentence before it, then the sources,
    and a line on the articles a date filter left out for having no date.

    With `width`, lines wrap between words to that many columns; a word (a URL) is never broken.
    """
    note = undated_note(answer)
    if not answer.answered:
        return "\n".join([NOT_COVERED, *note])
    numbers = source_numbers(answer)
    dim, bold, reset = ("\x1b[2m", "\x1b[1m", "\x1b[0m") if colour else ("", "", "")
    lines = []
    for citation, sentences in _by_article(answer):
        lines += _wrapped(f"[{numbers[citation.article_id]}] {citation.title or citation.article_id}", width,
                          bold, reset)
        quoted = {s.text for s in sentences}  # a lead-in that is itself quoted here is not repeated
        for sentence in sentences:
            lines += _quote_lines(sentence, quoted, width, (dim, bold, reset))
    lines.append("")
    lines.append(f"{bold}Sources{reset}")
    for citation in answer.sources():
        lines += _wrapped(citation_line(numbers[citation.article_id], citation), width)
        lines += _wrapped(f"id: {citation.article_id}", width, dim, reset, indent="    ")
    return "\n".join(lines + note)


def _by_article(answer: Answer) -> list[tuple[Citation, list[AnswerSentence]]]:
    """The quotes grouped by article, articles in order of first quote, quotes in answer order within each."""
    groups: dict[str, tuple[Citation, list[AnswerSentence]]] = {}
    for sentence in answer.sentences:
        groups.setdefault(sentence.citation.article_id, (sentence.citation, []))[1].append(sentence)
    return list(groups.values())


def _quote_lines(sentence: AnswerSentence, quoted: set[str], width: int | None, style: tuple[str, str, str]) \
        -> list[str]:
    """One quote: the sentence before it (unless quoted in this group), the quote with its place, who else
    reported it."""
    dim, bold, reset = style
    c, lines = sentence.citation, []
    previous = sentence.context.previous if sentence.context else None
    if previous and previous not in quoted:
        lines += _wrapped(last_words(previous, LEAD_CHARS), width, dim, reset, indent="    ")
    rows = _wrapped(f"“{sentence.text}”", width, indent="    ")
    details = f"(chars {c.start}–{c.end}, score {sentence.score:.2f})"
    lines += [f"{bold}{row}{reset}" for row in rows]
    if width is None or len(rows[-1]) + 1 + len(details) <= max(width, MIN_WIDTH):
        lines[-1] += f" {dim}{details}{reset}"  # where it was quoted, after the quote's end
    else:
        lines += _wrapped(details, width, dim, reset, indent="    ")
    also = also_reported(sentence)
    if also:
        lines += _wrapped(also, width, dim, reset, indent="      ")
    return lines


def _wrapped(text: str, width: int | None, start: str = "", end: str = "", indent: str = "") -> list[str]:
    """`text` as lines of at most `width` columns (one line when None), each styled start…end; lines after the
    first hang under `indent`, or four spaces in when there is none."""
    if width is None:
        rows = [indent + text]
    else:
        rows = textwrap.wrap(text, max(width, MIN_WIDTH), initial_indent=indent, subsequent_indent=indent or "    ",
                             break_long_words=False, break_on_hyphens=False) or [indent]
    return [f"{start}{row}{end}" for row in rows]


def to_json(answer: Answer, **extra) -> str:
    """One line of JSON: {"question", "answered", "sentences": [...]} plus any `extra` keys (e.g. an id)."""
    return json.dumps({**extra, **answer.model_dump(mode="json")}, ensure_ascii=False)


# ---- Telegram: HTML parse mode, every piece of article text escaped, messages within the limit ----

def _size(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _escape(text: str) -> str:
    """Text for Telegram HTML: <, > and & escaped (quotes need no escaping outside attributes)."""
    return html.escape(text, quote=False)


def _linked_title(title: str, url: str | None) -> str:
    """The escaped title, as a link when the article has a web address."""
    if url and re.match(r"https?://", url):
        return f'<a href="{html.escape(url, quote=True)}">{_escape(title)}</a>'
    return _escape(title)


def citation_html(number: int, citation: Citation) -> str:
    """"[1] <a href=URL>Title</a> · Source · 2017-06-22" for Telegram."""
    parts = [_linked_title(citation.title or citation.article_id, citation.url),
             *map(_escape, _details(citation.source, citation.date))]
    return f"[{number}] " + " · ".join(parts)


def _fit(text: str, room: int) -> int:
    """How many leading characters of `text` fit in `room` once escaped."""
    used = 0
    for count, char in enumerate(text):
        used += _size(_escape(char))
        if used > room:
            return count
    return len(text)


def _cut(text: str, room: int) -> list[str]:
    """Plain `text` in chunks that fit `room` once escaped, broken between words where possible."""
    chunks = []
    while _fit(text, room) < len(text):
        cut = max(_fit(text, room), 1)
        space = max(text.rfind(" ", 0, cut + 1), text.rfind("\n", 0, cut + 1))
        cut = space if space > 0 else cut
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*chunks, text]


def _pack(units: list[str], limit: int) -> list[str]:
    """Join formatted lines into as few messages of at most `limit` as keep them whole."""
    pieces: list[str] = []
    for unit in units:
        if pieces and _size(pieces[-1]) + 1 + _size(unit) <= limit:
            pieces[-1] += "\n" + unit
        else:
            pieces.append(unit)
    return pieces


def _source_units(answer: Answer) -> list[str]:
    """The "Sources" heading and one numbered citation per cited article."""
    return ["<b>Sources</b>", *(citation_html(n, c) for n, c in enumerate(answer.sources(), start=1))]


def answer_html(answer: Answer, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """An answer as Telegram HTML messages: quotes with [n], then the sources.

    Splitting happens on the plain sentences, before any markup, so no message is cut inside a tag:
    messages break between sentences, and a sentence too long for one message breaks between words.
    """
    note = [f"<i>{_escape(line)}</i>" for line in undated_note(answer)]
    if not answer.answered:
        return _pack([_escape(NOT_COVERED), *note], limit)
    numbers = source_numbers(answer)
    units = []
    for sentence in answer.sentences:
        mark = f" [{numbers[sentence.citation.article_id]}]\n"
        room = limit - _size(mark) - 2  # the quotation marks
        units += [f"<i>{_escape(extra)}</i>" for extra in [lead_in(sentence)] if extra]
        units += [f"“{_escape(chunk)}”{mark}" for chunk in _cut(sentence.text, room)]
        units += [f"<i>{_escape(_clip_end(extra, room))}</i>\n" for extra in [also_reported(sentence)] if extra]
    return _pack(units + _source_units(answer) + note, limit)


def sources_html(answer: Answer, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The numbered sources of an answer, for /sources."""
    return _pack(_source_units(answer), limit)


def button_label(number: int, citation: Citation) -> str:
    """"[1] Title", shortened to fit an inline button."""
    label = f"[{number}] {citation.title or citation.article_id}"
    return label if len(label) <= BUTTON_CHARS else label[:BUTTON_CHARS - 1].rstrip() + "…"


def _clip_start(text: str, room: int) -> str:
    """The end of `text` that fits `room` once escaped, "…" marking a cut."""
    return _clip_end(text[::-1], room)[::-1]


def _clip_end(text: str, room: int) -> str:
    """The start of `text` that fits `room` once escaped, cut between words, "…" marking the cut."""
    if _fit(text, room) == len(text):
        return text
    kept = text[:_fit(text, room - 1)]
    words = kept.rpartition(" ")[0].rstrip()
    return (words or kept) + "…" if room > 0 else ""


def context_html(article: Article, start: int, end: int, paragraph: tuple[int, int],
                 limit: int = TELEGRAM_LIMIT) -> str:
    """The paragraph around a quoted sentence, the quote in bold, under the article's title and link."""
    details = " · ".join(_details(article.source, article.date))
    head = f"<b>{_linked_title(article.title or article.id, article.url)}</b>\n"
    head += f"{_escape(details)}\n\n" if details else "\n"
    room = limit - _size(head) - len("<b></b>")
    quote = _clip_end(article.text[start:end], room)
    room -= _size(_escape(quote))
    before = _clip_start(article.text[paragraph[0]:start], room // 2)
    after = _clip_end(article.text[end:paragraph[1]], room - _size(_escape(before)))
    return f"{head}{_escape(before)}<b>{_escape(quote)}</b>{_escape(after)}"


_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
_TAG = re.compile(r"</?[a-z][^>]*>")


def html_to_plain(markup: str) -> str:
    """The plain-text twin of our own HTML (links become "title (URL)"), for when Telegram rejects it."""
    return html.unescape(_TAG.sub("", _LINK.sub(lambda m: f"{m[2]} ({m[1]})", markup)))
