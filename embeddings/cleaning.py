"""Turn the text a scraper saved from a news page into a clean article: title, date, source, body.

Scraped pages mix the article with page furniture: skip links, media-player lines, photo
captions and credits, "Read more" teasers, share and newsletter prompts, agency sign-offs.
Each kind is recognised by a general rule (`_RULES`), never by a page's own wording; what is
left is grouped into paragraphs, and only paragraphs that end a sentence make the body.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from dateutil import parser as date_parser
from pydantic import BaseModel


class CleanedPage(BaseModel):
    """An article recovered from a page: body paragraphs joined by a blank line, plus metadata."""

    title: str
    date: dt.date | None
    source: str | None
    text: str
    url: str | None = None
    author: str | None = None


_FINAL_MARKS, _CJK_FINAL_MARKS = ".!?…", "。！？"  # CJK sentences are not followed by a space
_CLOSERS = "\"'”’»)\\]」』"
_SENTENCE_END = re.compile(f"[{_FINAL_MARKS}{_CJK_FINAL_MARKS}][{_CLOSERS}]*$")
_SENTENCE_BREAK = re.compile(f"[{_FINAL_MARKS}][{_CLOSERS}]*(?:\\s|$)|[{_CJK_FINAL_MARKS}]")
_PERIOD_END = re.compile(f"[.。][{_CLOSERS}]*$")
_BULLET = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•·▪►])\s+")
_YEAR = re.compile(r"\b\d{4}\b")
_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.")  # 12.03.2021 is day-first wherever dots are used
_DATE_LABEL = re.compile(r"^(?:published|updated|posted|last updated|date)(?: on)?\s*:?\s*", re.IGNORECASE)
_DATE_DEFAULTS = (dt.datetime(1901, 1, 1), dt.datetime(1902, 2, 2))
_PLATFORMS = frozenset(
    "Facebook Twitter X Instagram WhatsApp LinkedIn YouTube TikTok Telegram Reddit Pinterest "
    "Email E-mail RSS Threads Bluesky Mastodon Flipboard".split()
)


def ends_sentence(text: str) -> bool:
    """Whether text ends with sentence-final punctuation, the mark of prose rather than a label."""
    return bool(_SENTENCE_END.search(text))


def has_sentence(text: str) -> bool:
    """Whether text ends a sentence anywhere (a final mark before a space or at the end): prose, not labels."""
    return bool(_SENTENCE_BREAK.search(text))


@dataclass(frozen=True)
class _Rule:
    """One kind of page furniture: a pattern, how long such a line can be, and what it tells us."""

    name: str
    pattern: re.Pattern[str]
    max_words: int = 60
    chrome: bool = False  # the site's own navigation wording, where its name tends to recur
    unpunctuated: bool = False  # applies only to lines that end no sentence

    def matches(self, line: str) -> bool:
        """Whether the line is furniture of this kind."""
        if len(line.split()) > self.max_words or (self.unpunctuated and ends_sentence(line)):
            return False
        return bool(self.pattern.search(line))


def _rule(
    name: str, pattern: str, flags: int = re.IGNORECASE, max_words: int = 60, chrome: bool = False,
    unpunctuated: bool = False,
) -> _Rule:
    """A furniture rule with its pattern compiled (case-insensitive unless told otherwise)."""
    return _Rule(name, re.compile(pattern, flags), max_words, chrome, unpunctuated)


_BYLINE = _rule(
    "byline", r"^(?:By|BY)\s+(?P<author>[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})", flags=0, max_words=12,
    chrome=True, unpunctuated=True,
)
_RULES = (
    _rule("skip link", r"^(?:skip|jump|go|back)\s+(?:to|next)\b", max_words=12, chrome=True, unpunctuated=True),
    _rule(
        "media player",
        r"\b(?:browser|device) does(?: not|n't) support\b|\bplayback is(?: not| un)supported\b"
        r"|\benable javascript\b|^(?:play|watch|listen)(?: (?:video|audio|now|live))?$",
        max_words=25,
    ),
    _rule("duration", r"\b\d{1,2}:\d{2}(?::\d{2})?\b", max_words=4, unpunctuated=True),
    _rule(
        "teaser",
        r"^(?:read more|read also|also read|more on this(?: story)?|more|related(?: \w+)?|see also"
        r"|recommended|watch|listen)\s*[:|–—]",
        max_words=30,
    ),
    _rule(
        "credit",
        r"^\(?(?:image|photo|picture|photograph|foto|credit|graphic|illustration|video|source)s?"
        r"(?: credit| source)?\s*:|\bgetty images\b|^\(?(?:photo|picture|image) by\b|©|^\(c\)",
        max_words=15,
    ),
    _rule("sign-off", r"^[a-z]{1,4}(?:/[a-z]{1,4})*\s*\((?:[\w.&' -]+,\s*)*[\w.&' -]+\)$", flags=0),
    _BYLINE,
    _rule(
        "cookie banner",
        r"^(?=.*\bcookies?\b)(?=.*\b(?:accept|consent|policy|settings|preferences|browse|browsing|website|site"
        r"|experience)\b)",
        chrome=True,
    ),
    _rule(
        "newsletter prompt",
        r"^(?=.*\bnewsletters?\b)(?=.*\b(?:sign up|subscribe|inbox|delivered)\b)|^(?:sign up|subscribe|register)\b",
        max_words=30,
        chrome=True,
    ),
    _rule(
        "paywall",
        r"\b(?:log ?in|sign ?in|subscribe)\b.*\bto (?:continue reading|keep reading|read (?:this|the full|more)"
        r"|access this)\b"
        r"|\balready (?:a subscriber|a member|have an account)\b|\bfor (?:subscribers|members) only\b"
        r"|\bforgot(?:ten)? (?:your )?password\b",
        max_words=40,
    ),
    _rule("share", r"^(?:share|print|e-?mail|tweet|copy link|comments?)\b", max_words=10, chrome=True,
          unpunctuated=True),
    _rule("follow", r"^[Ff]ollow (?:us|[A-Z]\S*(?: [A-Z]\S*){0,3}) on [A-Z]\w*", flags=0, max_words=8, chrome=True),
)


def furniture_rule(line: str) -> str | None:
    """The name of the furniture kind a line is (e.g. "teaser", "credit"), or None for article text."""
    core = _BULLET.sub("", line, count=1).strip()
    for rule in _RULES:
        if rule.matches(core):
            return rule.name
    if core != line.strip() and not _PERIOD_END.search(core):
        return "link list"  # a list item that is not a full-stop sentence is a link (headlines end in "?" or nothing)
    return None


def strip_furniture(paragraphs: list[str]) -> list[str]:
    """Another extractor's paragraphs minus furniture; list items stay, as the extractor kept them as body."""
    return [p for p in paragraphs if furniture_rule(p) in (None, "link list")]


def parse_date_line(line: str) -> dt.date | None:
    """The date a line states when the whole line is one full date (day, month, four-digit year)."""
    text = _DATE_LABEL.sub("", line.strip())
    if len(text) > 40 or not _YEAR.search(text):
        return None
    try:
        first, second = (
            date_parser.parse(text, default=d, dayfirst=bool(_DOTTED_DATE.match(text)), fuzzy=False, ignoretz=True)
            for d in _DATE_DEFAULTS
        )
    except (ValueError, OverflowError):
        return None
    return first.date() if first.date() == second.date() else None


def _classify(lines: list[str]) -> list[str]:
    """Label each line "blank", "text", "date", "caption", "tail" or a furniture kind, for grouping."""
    kinds: list[str] = []
    for line in lines:
        if not line:
            kinds.append("blank")
        elif parse_date_line(line):
            kinds.append("date")
        else:
            kinds.append(furniture_rule(line) or "text")
        if kinds[-1] == "credit" and len(kinds) > 1 and kinds[-2] == "text":
            kinds[-2] = "caption"  # the line right above a photo credit is the photo's caption
    if "sign-off" in kinds:  # the agency sign-off ends the article; what follows is the page's tail
        end = len(kinds) - kinds[::-1].index("sign-off")
        kinds[end:] = ["tail" if kind == "text" else kind for kind in kinds[end:]]
    return kinds


def _is_wrapped(lines: list[str]) -> bool:
    """Whether a block of lines is one hard-wrapped paragraph rather than one paragraph per line."""
    if len(lines) < 2:
        return False
    width = max(len(line) for line in lines)
    body = lines[:-1]
    return 50 <= width <= 100 and all(len(line) >= 0.6 * width for line in body) and not all(map(ends_sentence, body))


def _paragraphs(lines: list[str], kinds: list[str]) -> list[tuple[int, str]]:
    """Group consecutive text lines into (first line index, paragraph) pairs, unwrapping wrapped blocks."""
    paragraphs: list[tuple[int, str]] = []
    run: list[int] = []
    for index, kind in enumerate([*kinds, "blank"]):
        if kind == "text":
            run.append(index)
            continue
        texts = [lines[i].strip() for i in run]
        if _is_wrapped(texts):
            paragraphs.append((run[0], " ".join(texts)))
        else:
            paragraphs.extend(zip(run, texts))
        run = []
    return paragraphs


def _is_title_like(text: str) -> bool:
    """Whether a paragraph could be a headline: a few words and no closing full stop."""
    return 2 <= len(text.split()) <= 25 and not _PERIOD_END.search(text)


def _pick_title(paragraphs: list[tuple[int, str]], date_line: int | None) -> tuple[int, str] | None:
    """The headline: the last title-like line above the date line, else the longest one in the page head."""
    head = []
    for paragraph in paragraphs:
        if _PERIOD_END.search(paragraph[1]):
            break
        head.append(paragraph)
    candidates = [p for p in head if _is_title_like(p[1])]
    above_date = [p for p in candidates if date_line is not None and p[0] < date_line]
    if above_date:
        return above_date[-1]
    return max(candidates, key=lambda p: len(p[1].split()), default=None)


def _names(line: str) -> set[str]:
    """Capitalised names in a furniture line; a possessive ends a name, a line's first word counts if an acronym."""
    names: set[str] = set()
    run: list[str] = []
    for position, word in enumerate([*line.split(), ""]):
        bare = word.strip(",.:;!?()[]|\"“”")
        stem = re.sub(r"['’]s$", "", bare)
        capital = stem[:1].isupper() and (position > 0 or sum(c.isupper() for c in stem) > 1)
        if capital and stem not in _PLATFORMS:
            run.append(stem)
        if run and (not capital or stem != bare or stem in _PLATFORMS):
            names.add(" ".join(run))
            run = []
    return names


def infer_source(furniture: list[str]) -> str | None:
    """The publisher: a name that recurs across the site's navigation lines, else None."""
    counts = Counter(name for line in furniture for name in _names(_BULLET.sub("", line, count=1).strip()))
    name, count = next(iter(counts.most_common(1)), ("", 0))
    return name if count >= 2 else None


def _author(lines: list[str], kinds: list[str]) -> str | None:
    """The author named by the first byline, if the page has one."""
    for line, kind in zip(lines, kinds):
        if kind == _BYLINE.name and (match := _BYLINE.pattern.search(line.strip())):
            return match.group("author")
    return None


def normalise_lines(raw: str) -> list[str]:
    """The text's lines with non-breaking spaces made plain and trailing whitespace removed."""
    return [line.replace("\u00a0", " ").rstrip() for line in raw.splitlines()]


def clean_scraped_text(raw: str) -> CleanedPage:
    """Recover title, date, publisher and body paragraphs from text scraped off a news page."""
    lines = normalise_lines(raw)
    kinds = _classify(lines)
    date_line = next((i for i, kind in enumerate(kinds) if kind == "date"), None)
    paragraphs = _paragraphs(lines, kinds)
    title = _pick_title(paragraphs, date_line)
    body = [text for p in paragraphs if p != title and ends_sentence(text := p[1]) and len(text.split()) >= 2]
    chrome = {rule.name for rule in _RULES if rule.chrome}
    return CleanedPage(
        title=title[1] if title else "",
        date=parse_date_line(lines[date_line]) if date_line is not None else None,
        source=infer_source([line for line, kind in zip(lines, kinds) if kind in chrome]),
        text="\n\n".join(body),
        author=_author(lines, kinds),
    )
