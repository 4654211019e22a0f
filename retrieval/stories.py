"""Reading candidates as news: favour recent articles when asked vaguely, quote a repeated story once."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field, replace

import numpy as np

from embeddings.storage import database
from retrieval.retriever import Candidate

# A version of a story at least this share of its longest version's length counts as complete.
COMPLETE_SHARE = 0.9
# Articles dated after the reference date are this much farther from it than ones before it.
FUTURE_PENALTY = 3


@dataclass
class Quote:
    """A ranked sentence to quote, its dense score, and (article rowid, start, end) of its other copies."""

    candidate: Candidate
    score: float
    copies: list[tuple[int, int, int]] = field(default_factory=list)


def recency_ranks(db: sqlite3.Connection, candidates: list[Candidate], recent: dt.date, k: int) -> np.ndarray:
    """A rank-fusion term 1/(k + rank of the article's distance from `recent`); undated articles get the
    mean term, so they are neither favoured nor dropped."""
    facts = database.article_facts(db, [c.article_rowid for c in candidates])
    days = [_distance(facts[c.article_rowid][0], recent) for c in candidates]
    rank = {d: r for r, d in enumerate(sorted({d for d in days if d is not None}))}
    term = np.array([np.nan if d is None else 1.0 / (k + rank[d]) for d in days])
    return np.nan_to_num(term, nan=float(np.nanmean(term)) if rank else 0.0)


def _distance(date: dt.date | None, recent: dt.date) -> int | None:
    """Days between an article's date and the reference date; later articles count as farther."""
    if date is None:
        return None
    return (recent - date).days if date <= recent else FUTURE_PENALTY * (date - recent).days


def collapse(db: sqlite3.Connection, ranked: list[tuple[Candidate, float]], top: int,
             where: tuple[str, list] | None = None) -> list[Quote]:
    """The first `top` distinct quotes: a sentence repeated across a duplicate group is kept once, at its
    best rank, quoted from the group's earliest complete version, with its other copies listed."""
    groups = database.duplicate_groups(db, [c.article_rowid for c, _ in ranked]) if ranked else {}
    seen, quotes = set(), []
    for candidate, score in ranked:
        group = groups.get(candidate.article_rowid)
        key = (group, candidate.text) if group else candidate.sentence_id
        if key in seen:
            continue
        seen.add(key)
        quotes.append(_from_group(db, Quote(candidate, score), group, where) if group else Quote(candidate, score))
        if len(quotes) == top:
            break
    return quotes


def _from_group(db: sqlite3.Connection, quote: Quote, group: int, where: tuple[str, list] | None) -> Quote:
    """The quote moved to the preferred copy of its sentence among the group's articles that pass `where`."""
    rows = database.same_sentence_in_group(db, group, quote.candidate.text, where)
    if len(rows) < 2:
        return quote
    facts = database.article_facts(db, [row[1] for row in rows])
    longest = max(length for _, length in facts.values())

    def preference(row: tuple) -> tuple:
        date, length = facts[row[1]]
        return length < COMPLETE_SHARE * longest, date is None, date or dt.date.min, row[1]

    best = min(rows, key=preference)
    chosen = replace(quote.candidate, **dict(zip(("sentence_id", "article_rowid", "index", "paragraph",
                                                   "start", "end", "text", "kind"), best)))
    return Quote(chosen, quote.score, [(row[1], row[4], row[5]) for row in rows if row is not best])
