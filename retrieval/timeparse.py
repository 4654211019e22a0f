"""Time words in a question ("yesterday", "in March", "latest") → date filters or a recency preference.

Explicit ranges ("in 2017", "in March", "since Monday", "yesterday", "last week") become hard
`Filters`; vague words ("recently", "latest", "this week") only favour articles dated near the
reference date, so an old article that answers well can still win. Phrases are found by pattern;
the date arithmetic ("Monday" before 18 March, "1 month ago") is dateparser's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import dateparser

from retrieval.filters import Filters

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|(?-i:May)|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_YEAR = r"(?:1[89]|20)\d\d"
_SINCE_TARGET = (rf"{_WEEKDAY}|{_MONTH}(?:\s+\d{{1,2}})?(?:,?\s+{_YEAR})?|{_YEAR}"
                 r"|last\s+(?:week|month|year)|yesterday")
VAGUE = re.compile(r"\b(?:the\s+)?(?:latest|newest|most\s+recent(?:ly)?|recently|lately|these\s+days|"
                   r"currently|this\s+week)\b", re.IGNORECASE)


@dataclass(frozen=True)
class TimeQuery:
    """A question with its time words taken out: what to search, the hard range, the date to favour."""

    text: str
    filters: Filters
    recent: dt.date | None = None


def _parse(phrase: str, as_of: dt.date) -> dt.date:
    """dateparser's reading of `phrase` relative to `as_of`, preferring the past ("March" → the last March)."""
    settings = {"RELATIVE_BASE": dt.datetime.combine(as_of, dt.time()), "PREFER_DATES_FROM": "past",
                "PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False}
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    if parsed is None:
        raise ValueError(f"not a date: {phrase!r}")
    return parsed.date()


def _month(day: dt.date) -> Filters:
    """The calendar month that holds `day`."""
    return Filters(since=day.replace(day=1), until=day.replace(day=calendar.monthrange(day.year, day.month)[1]))


def _year(year: int) -> Filters:
    return Filters(since=dt.date(year, 1, 1), until=dt.date(year, 12, 31))


def _week(day: dt.date) -> Filters:
    """Monday to Sunday of the week that holds `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    return Filters(since=monday, until=monday + dt.timedelta(days=6))


def _day(day: dt.date) -> Filters:
    return Filters(since=day, until=day)


def _in_month(match: re.Match, as_of: dt.date) -> Filters:
    """ "in March" is the last March up to `as_of`; "in March 1987" is that one."""
    return _month(_parse(match.group(1), as_of))


# (pattern, resolver(match, as_of) -> Filters), tried in order; each match is taken out of the question.
EXPLICIT: list[tuple[re.Pattern, Callable[[re.Match, dt.date], Filters]]] = [
    (re.compile(rf"\bsince\s+({_SINCE_TARGET})\b", re.I), lambda m, d: Filters(since=_parse(m.group(1), d), until=d)),
    (re.compile(r"\b(?:so\s+far\s+)?this\s+year\b", re.I), lambda m, d: Filters(since=d.replace(month=1, day=1),
                                                                              until=d)),
    (re.compile(r"\blast\s+year\b", re.I), lambda m, d: _year(d.year - 1)),
    (re.compile(r"\bthis\s+month\b", re.I), lambda m, d: Filters(since=d.replace(day=1), until=d)),
    (re.compile(r"\blast\s+month\b", re.I), lambda m, d: _month(_parse("1 month ago", d))),
    (re.compile(r"\blast\s+week\b", re.I), lambda m, d: _week(_parse("1 week ago", d))),
    (re.compile(r"\btoday\b", re.I), lambda m, d: _day(d)),
    (re.compile(r"\byesterday\b", re.I), lambda m, d: _day(_parse("yesterday", d))),
    (re.compile(rf"\b(?:in|during)\s+({_MONTH}(?:\s+{_YEAR})?)\b", re.I), _in_month),
    (re.compile(rf"\b(?:in|during)\s+({_YEAR})\b", re.I), lambda m, d: _year(int(m.group(1)))),
]


def parse_time(question: str, as_of: dt.date | None = None) -> TimeQuery:
    """Take the time words out of `question`, resolved against `as_of` (today by default)."""
    as_of = as_of or dt.date.today()
    filters, rest = Filters(), question
    for pattern, resolve in EXPLICIT:
        match = pattern.search(rest)
        if match:
            try:
                filters = filters.merged(resolve(match, as_of))
            except ValueError:
                continue
            rest = rest[:match.start()] + " " + rest[match.end():]
    if filters.since or filters.until:
        filters = filters.model_copy(update={"undated": True})  # undated articles are neither favoured nor dropped
    vague = VAGUE.search(rest)
    if vague:
        rest = VAGUE.sub(" ", rest)
    rest = " ".join(re.sub(r"\s+([?.!,])", r"\1", rest).split())
    text = rest if re.search(r"\w", rest) else question
    return TimeQuery(text, filters, (filters.until or as_of) if vague else None)
