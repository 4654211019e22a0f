"""Date and source filters, from flags or inline words ("since:2017-06-01 source:DW who ..."), applied inside the search."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel

_INLINE = re.compile(r"(?<!\S)(since|until|source):(\"[^\"]+\"|\S+)", re.IGNORECASE)


class Filters(BaseModel):
    """Which articles a question may be answered from; an unset field does not filter."""

    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = None
    undated: bool = False  # let articles without a date through the date bounds (time words in a question)
    articles: list[str] | None = None  # only these article ids (a standing question asked of new articles)

    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.source and self.articles is None

    def merged(self, other: "Filters") -> "Filters":
        """These filters with `other`'s set fields taking precedence."""
        return self.model_copy(update=other.model_dump(exclude_defaults=True))

    def sql(self) -> tuple[str, list]:
        """A WHERE clause over `articles` (aliased `a`) and its parameters; undated articles fail date bounds
        unless `undated` lets them through."""
        clauses, params = [], []
        if self.since:
            clauses.append("a.date >= ?")
            params.append(self.since.isoformat())
        if self.until:
            clauses.append("a.date <= ?")
            params.append(self.until.isoformat())
        if clauses and self.undated:
            clauses = [f"(a.date IS NULL OR ({' AND '.join(clauses)}))"]
        if self.source:
            clauses.append("lower(a.source) = lower(?)")
            params.append(self.source)
        if self.articles is not None:
            clauses.append(f"a.id IN ({', '.join('?' * len(self.articles))})" if self.articles else "0")
            params.extend(self.articles)
        return " AND ".join(clauses) or "1", params

    def undated_sql(self) -> tuple[str, list] | None:
        """A WHERE clause for the articles left out only for having no date, or None when none can be."""
        if not (self.since or self.until) or self.undated:
            return None
        clause, params = self.model_copy(update={"since": None, "until": None}).sql()
        return f"a.date IS NULL AND {clause}", params


def parse_inline(question: str) -> tuple[str, Filters]:
    """Take `since:`, `until:` and `source:` words out of a question; one whose date does not parse stays in."""
    found = {}

    def take(match: re.Match) -> str:
        key, value = match.group(1).lower(), match.group(2).strip('"')
        try:
            found[key] = value if key == "source" else parse_date(value)
        except ValueError:
            return match.group(0)
        return " "

    rest = _INLINE.sub(take, question)
    return " ".join(rest.split()), Filters(**found)


def parse_date(value: str) -> dt.date:
    """YYYY-MM-DD, YYYY-MM (first of the month) or YYYY (1 January)."""
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD, YYYY-MM or YYYY)")
