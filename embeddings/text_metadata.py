"""What a plain-text or Markdown article says about itself: YAML front matter, and a date in its opening.

Static site generators (Jekyll, Hugo, Eleventy) open a file with `---`, YAML fields, `---`; newsdesk reads
`title`, `date`, `url`, `source` and `author` from there. Files without a date anywhere else get the first
full date (day, month and year) of their first paragraph, as found by dateparser: a news story's opening
sentence usually says when it happened ("... said on 7 October 2025").
"""

from __future__ import annotations

import datetime as dt
import re

import yaml
from pydantic import BaseModel, ValidationError

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_YEAR = re.compile(r"\b(1[89]|2\d)\d\d\b")  # a found date must name its year, not be "two days ago"
_SEARCH = {"REQUIRE_PARTS": ["day", "month", "year"], "STRICT_PARSING": True, "RETURN_AS_TIMEZONE_AWARE": False}


class FrontMatter(BaseModel):
    """The fields of a file's front matter that become the article's; others are ignored."""

    title: str | None = None
    date: dt.date | None = None
    url: str | None = None
    source: str | None = None
    author: str | None = None


class FrontMatterError(ValueError):
    """Front matter that is not a YAML mapping of the fields above."""


def split_front_matter(text: str) -> tuple[FrontMatter, str]:
    """The front matter of `text` (empty if it has none) and the text after it."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return FrontMatter(), text
    try:
        fields = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(fields, dict):
        raise FrontMatterError("front matter is not a list of `field: value` lines")
    known = {k: _plain(k, v) for k, v in fields.items() if k in FrontMatter.model_fields and v is not None}
    try:
        return FrontMatter(**known), text[match.end():]
    except ValidationError as exc:
        error = exc.errors()[0]
        raise FrontMatterError(f"front matter {error['loc'][0]}: {error['msg']}") from None


def _plain(field: str, value):
    """A YAML value as the article keeps it: the day of a timestamp, a written date parsed, other fields as text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if field != "date":
        return str(value)
    if isinstance(value, str):
        import dateparser

        parsed = dateparser.parse(value, languages=["en"], settings=_SEARCH)
        return parsed.date() if parsed else value
    return value


def opening_date(text: str) -> dt.date | None:
    """The first full date (day, month, year) in the first paragraph of `text`, or None."""
    from dateparser.search import search_dates

    first = text.strip().split("\n\n", 1)[0]
    for words, when in search_dates(first, languages=["en"], settings=_SEARCH) or []:
        if _YEAR.search(words):
            return when.date()
    return None
