"""The SQLite half of the index: articles, sentences and passages with their offsets."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable, Iterator

import numpy as np

from embeddings.models import Article, Passage, Sentence
from embeddings.sentence_kinds import classify
from embeddings.storage import manifest

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    date TEXT,
    url TEXT,
    source TEXT,
    author TEXT,
    origin TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dup_group INTEGER  -- rowid of the first article of its near-duplicate group; NULL when it has none
);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    paragraph INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'statement'  -- embeddings.sentence_kinds: only statements are offered first
);
CREATE INDEX IF NOT EXISTS articles_by_group ON articles(dup_group);
CREATE INDEX IF NOT EXISTS articles_by_origin ON articles(origin);
-- Date and source filters (retrieval/filters.py) list their articles without reading every article's text.
CREATE INDEX IF NOT EXISTS articles_by_date ON articles(date);
CREATE INDEX IF NOT EXISTS articles_by_source ON articles(lower(source));
CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_rowid, idx);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_article ON passages(article_rowid);
-- MinHash of each article's word shingles, for grouping near-duplicate stories (embeddings/storage/duplicates.py).
CREATE TABLE IF NOT EXISTS article_signatures (
    article_rowid INTEGER PRIMARY KEY REFERENCES articles(rowid) ON DELETE CASCADE,
    signature BLOB NOT NULL
);
-- Its LSH bands (a 64-bit key per slice of the signature): the candidates a new article is compared with.
CREATE TABLE IF NOT EXISTS article_bands (
    band INTEGER NOT NULL,
    key INTEGER NOT NULL,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    PRIMARY KEY (band, key, article_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bands_by_article ON article_bands(article_rowid);
-- Followed RSS/Atom feeds (embeddings/feeds.py): one JSON FeedState per URL, committed with the articles.
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
-- Full-text index over sentences (Porter stems: "urge" finds "urged"), kept in step by triggers.
CREATE VIRTUAL TABLE IF NOT EXISTS sentences_fts
    USING fts5(text, content='sentences', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS sentences_fts_insert AFTER INSERT ON sentences BEGIN
    INSERT INTO sentences_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS sentences_fts_delete AFTER DELETE ON sentences BEGIN
    INSERT INTO sentences_fts(sentences_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""

_ARTICLE_COLUMNS = "id, title, text, date, url, source, author, origin"
_SENTENCE_COLUMNS = "id, article_rowid, idx, paragraph, start, end, text, kind"
# Columns added after the first release: (table, column, definition); writers add them, readers require them.
_ADDED_COLUMNS = [("articles", "dup_group", "INTEGER"), ("sentences", "kind", "TEXT NOT NULL DEFAULT 'statement'")]


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    """Open the database; readers open it read-only so they can never change a committed index."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    if readonly and not os.access(os.path.dirname(path) or ".", os.W_OK):
        # A read-only place (a mount, a backup medium): no writer can change it, and SQLite could not create
        # the shared-memory file its write-ahead log needs, so it is read as immutable.
        uri += "&immutable=1"
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    db.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        db.execute("PRAGMA journal_mode = WAL")  # readers keep their snapshot while the writer changes the file
        db.execute("PRAGMA synchronous = FULL")  # a committed generation survives a power cut
        # The log is folded back into the database as readers move on; past this size it is then cut back.
        db.execute("PRAGMA journal_size_limit = 67108864")
        _migrate(db)
        db.executescript(SCHEMA + manifest.SCHEMA)
    return db


def missing_columns(db: sqlite3.Connection) -> list[str]:
    """The columns of the current schema that an index written by an older newsdesk lacks."""
    return [f"{table}.{column}" for table, column, _ in _ADDED_COLUMNS
            if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}]


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older index up to the current schema: add the new columns and classify the stored sentences."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sentences'").fetchone():
        return
    missing = missing_columns(db)
    for table, column, definition in _ADDED_COLUMNS:
        if f"{table}.{column}" in missing:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    if "sentences.kind" in missing:
        rows = db.execute("SELECT id, text FROM sentences").fetchall()
        db.executemany("UPDATE sentences SET kind = ? WHERE id = ?", [(classify(text), id_) for id_, text in rows])


def article_from_row(row: tuple) -> Article:
    """Rebuild an Article from the columns in `_ARTICLE_COLUMNS` order."""
    id_, title, text, date, url, source, author, origin = row
    return Article(
        id=id_,
        title=title,
        text=text,
        date=dt.date.fromisoformat(date) if date else None,
        url=url,
        source=source,
        author=author,
        origin=origin,
    )


def get_article(db: sqlite3.Connection, article_id: str) -> Article | None:
    """The stored article with this id, or None."""
    row = db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
    return article_from_row(row) if row else None


def article_rowids(db: sqlite3.Connection, article_ids: Iterable[str]) -> frozenset[int]:
    """Row ids of the articles with these ids (unknown ids are left out)."""
    ids = list(article_ids)
    marks = ",".join("?" * len(ids))
    return frozenset(r[0] for r in db.execute(f"SELECT rowid FROM articles WHERE id IN ({marks})", ids))


def get_articles_by_rowid(db: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, Article]:
    """Articles keyed by their row id, fetched in one query."""
    rowids = list(set(rowids))
    marks = ",".join("?" * len(rowids))
    rows = db.execute(f"SELECT rowid, {_ARTICLE_COLUMNS} FROM articles WHERE rowid IN ({marks})", rowids)
    return {row[0]: article_from_row(row[1:]) for row in rows}


def rows_in(db: sqlite3.Connection, query: str, values: Iterable, chunk: int = 500) -> Iterator[tuple]:
    """The rows of `query` (its `IN ({})` filled with placeholders) for all `values`, asked in chunks that stay
    under SQLite's limit on bound parameters."""
    values = list(values)
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        yield from db.execute(query.format(",".join("?" * len(part))), part)


def article_hashes(db: sqlite3.Connection, ids: Iterable[str], under: Iterable[str] = ()) -> dict[str, tuple[str, str]]:
    """id → (content hash, origin) of the stored articles with these ids or read from under these paths: what
    the indexer compares against (looked up by index, so a write of one article reads a few rows)."""
    found = {i: (h, o) for i, h, o in rows_in(db, "SELECT id, content_hash, origin FROM articles WHERE id IN ({})",
                                              ids)}
    for root in under:
        prefix = root.rstrip("/") + "/"  # origins inside it sort between "root/" and "root0"
        found |= {i: (h, o) for i, h, o in db.execute(
            "SELECT id, content_hash, origin FROM articles WHERE origin = ? OR (origin >= ? AND origin < ?)",
            (root, prefix, prefix[:-1] + "0"))}
    return found


def insert_article(
    db: sqlite3.Connection, article: Article, sentences: list[Sentence], passages: list[Passage], signature: bytes
) -> tuple[int, list[int], list[int]]:
    """Store an article with its sentences, passages and MinHash signature; return its row id and the new
    sentence and passage ids."""
    cursor = db.execute(
        f"INSERT INTO articles ({_ARTICLE_COLUMNS}, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (article.id, article.title, article.text, article.date.isoformat() if article.date else None,
         article.url, article.source, article.author, article.origin, article.content_hash),
    )
    rowid = cursor.lastrowid
    sentence_ids = [
        db.execute(
            "INSERT INTO sentences (article_rowid, idx, paragraph, start, end, text, kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rowid, s.index, s.paragraph, s.start, s.end, s.text, classify(s.text)),
        ).lastrowid
        for s in sentences
    ]
    passage_ids = [
        db.execute(
            "INSERT INTO passages (article_rowid, idx, first_sentence, last_sentence, start, end)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (rowid, p.index, p.first_sentence, p.last_sentence, p.start, p.end),
        ).lastrowid
        for p in passages
    ]
    db.execute("INSERT INTO article_signatures (article_rowid, signature) VALUES (?, ?)", (rowid, signature))
    return rowid, sentence_ids, passage_ids


def delete_article(db: sqlite3.Connection, article_id: str) -> tuple[list[int], list[int], int | None] | None:
    """Remove an article (cascading to its rows); return the sentence and passage ids it freed and the
    duplicate group it left, or None when there was no such article."""
    found = db.execute("SELECT rowid, dup_group FROM articles WHERE id = ?", (article_id,)).fetchone()
    if found is None:
        return None
    row = found[:1]
    sentence_ids = [r[0] for r in db.execute("SELECT id FROM sentences WHERE article_rowid = ?", row)]
    passage_ids = [r[0] for r in db.execute("SELECT id FROM passages WHERE article_rowid = ?", row)]
    db.execute("DELETE FROM articles WHERE rowid = ?", row)
    return sentence_ids, passage_ids, found[1]


def clear(db: sqlite3.Connection) -> None:
    """Delete every article (their rows follow) and feed state: a rebuild starts from nothing."""
    db.execute("DELETE FROM articles")
    db.execute("DELETE FROM feeds")


COUNTED = ("articles", "sentences", "passages")


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """How many articles, sentences and passages are stored."""
    return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in COUNTED}


def count_articles_where(db: sqlite3.Connection, where: tuple[str, list]) -> int:
    """How many articles `a` match a filter clause."""
    clause, params = where
    return db.execute(f"SELECT COUNT(*) FROM articles a WHERE {clause}", params).fetchone()[0]


def overview(db: sqlite3.Connection, newest: int) -> dict:
    """How many distinct sources, the first and last article dates, and the `newest` headlines (newest first)."""
    sources, first, last = db.execute(
        "SELECT COUNT(DISTINCT lower(source)), MIN(date), MAX(date) FROM articles").fetchone()
    titles = db.execute("SELECT title FROM articles WHERE title != '' ORDER BY date IS NULL, date DESC, rowid DESC "
                        "LIMIT ?", (newest,))
    return {"sources": sources, "first_date": first, "last_date": last, "newest": [t for (t,) in titles]}


def sentences_in_range(db: sqlite3.Connection, article_rowid: int, first: int, last: int) -> list[tuple]:
    """(id, article_rowid, idx, paragraph, start, end, text, kind) of an article's sentences first..last."""
    return db.execute(
        f"SELECT {_SENTENCE_COLUMNS} FROM sentences"
        " WHERE article_rowid = ? AND idx BETWEEN ? AND ? ORDER BY idx",
        (article_rowid, first, last),
    ).fetchall()


def lexical_search(db: sqlite3.Connection, terms: list[str], limit: int,
                   where: tuple[str, list] | None = None) -> list[int]:
    """Ids of the sentences that best match any of `terms` by BM25, best first, among articles `a` matching `where`."""
    if not terms:
        return []
    query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
    # Joining every match to its article only when a filter needs it: it costs more than the ranking
    # (p50 22 ms against 9 ms over the 166,000 BBC + Reuters sentences; scripts/bench_latency.py).
    join = " JOIN sentences s ON s.id = f.rowid JOIN articles a ON a.rowid = s.article_rowid" if where else ""
    clause, params = where or ("1", [])
    rows = db.execute(
        f"SELECT f.rowid FROM sentences_fts f{join}"
        f" WHERE sentences_fts MATCH ? AND {clause} ORDER BY bm25(sentences_fts) LIMIT ?",
        (query, *params, limit),
    )
    return [row[0] for row in rows]


def article_rowids_where(db: sqlite3.Connection, where: tuple[str, list]) -> list[int]:
    """Row ids of the articles `a` matching a filter clause."""
    clause, params = where
    return [row[0] for row in db.execute(f"SELECT a.rowid FROM articles a WHERE {clause}", params)]


def passage_articles(db: sqlite3.Connection, ids: np.ndarray) -> np.ndarray:
    """The article row id of each of the sorted passage `ids` (0 for one no longer stored), read by the range
    of ids they span rather than one by one."""
    rows = db.execute("SELECT id, article_rowid FROM passages WHERE id BETWEEN ? AND ? ORDER BY id",
                      (int(ids[0]), int(ids[-1]))).fetchall() if len(ids) else []
    if not rows:
        return np.zeros(len(ids), dtype=np.int64)
    stored = np.array(rows, dtype=np.int64)
    at = np.minimum(np.searchsorted(stored[:, 0], ids), len(stored) - 1)
    return np.where(stored[at, 0] == ids, stored[at, 1], 0)


def document_frequencies(db: sqlite3.Connection, terms: list[str], cap: int = 1000) -> dict[str, int]:
    """How many sentences match each term (stemmed as the FTS index stems), counted up to `cap`."""
    counts = {}
    for term in terms:
        query = '"' + term.replace('"', '""') + '"'
        counts[term] = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM sentences_fts WHERE sentences_fts MATCH ? LIMIT ?)", (query, cap)
        ).fetchone()[0]
    return counts


def sentences_by_id(db: sqlite3.Connection, ids: list[int]) -> list[tuple]:
    """(id, article_rowid, idx, paragraph, start, end, text, kind) of the given sentences."""
    marks = ",".join("?" * len(ids))
    return db.execute(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE id IN ({marks})", ids).fetchall()


def previous_sentence(db: sqlite3.Connection, article_rowid: int, index: int) -> str | None:
    """The text of the sentence before sentence `index` of an article, or None for its first sentence."""
    row = db.execute("SELECT text FROM sentences WHERE article_rowid = ? AND idx = ?",
                     (article_rowid, index - 1)).fetchone()
    return row[0] if row else None


def sentence_windows(db: sqlite3.Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """For each (article_rowid, idx): that sentence's text with the sentences before and after it."""
    wanted = sorted({(rowid, idx + step) for rowid, idx in keys for step in (-1, 0, 1)})
    texts: dict[tuple[int, int], str] = {}
    for first in range(0, len(wanted), 300):  # stay under SQLite's limit on bound parameters
        batch = wanted[first : first + 300]
        rows = db.execute(f"WITH k(a, i) AS (VALUES {','.join(['(?, ?)'] * len(batch))}) SELECT s.article_rowid,"
                          " s.idx, s.text FROM k JOIN sentences s ON s.article_rowid = k.a AND s.idx = k.i",
                          [v for key in batch for v in key])
        texts.update({(rowid, idx): text for rowid, idx, text in rows})
    return {(rowid, idx): " ".join(texts.get((rowid, idx + step), "") for step in (-1, 0, 1)).strip()
            for rowid, idx in keys}


def article_facts(db: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, tuple[dt.date | None, int]]:
    """Article rowid → (date, length of its text): what ranking by recency and picking a story's version need."""
    rowids = list(set(rowids))
    marks = ",".join("?" * len(rowids))
    rows = db.execute(f"SELECT rowid, date, length(text) FROM articles WHERE rowid IN ({marks})", rowids)
    return {rowid: (dt.date.fromisoformat(date) if date else None, length) for rowid, date, length in rows}


def article_titles(db: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, str]:
    """Article rowid → its title (headline evidence for ranking)."""
    rowids = list(set(rowids))
    marks = ",".join("?" * len(rowids))
    return dict(db.execute(f"SELECT rowid, title FROM articles WHERE rowid IN ({marks})", rowids).fetchall())


def duplicate_groups(db: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, int]:
    """Article rowid → its near-duplicate group, for those of `rowids` that belong to one."""
    rowids = list(set(rowids))
    marks = ",".join("?" * len(rowids))
    rows = db.execute(f"SELECT rowid, dup_group FROM articles WHERE rowid IN ({marks}) AND dup_group IS NOT NULL",
                      rowids)
    return dict(rows.fetchall())


def same_sentence_in_group(db: sqlite3.Connection, group: int, text: str,
                           where: tuple[str, list] | None = None) -> list[tuple]:
    """Sentence rows with exactly `text` in the articles `a` of a duplicate group that match `where`."""
    clause, params = where or ("1", [])
    columns = ", ".join(f"s.{c.strip()}" for c in _SENTENCE_COLUMNS.split(","))
    return db.execute(f"SELECT {columns} FROM sentences s JOIN articles a ON a.rowid = s.article_rowid"
                      f" WHERE a.dup_group = ? AND s.text = ? AND {clause} ORDER BY s.article_rowid",
                      (group, text, *params)).fetchall()


def passages_containing(db: sqlite3.Connection, article_rowid: int, sentence_index: int) -> list[int]:
    """Ids of the passages that hold a given sentence of an article."""
    rows = db.execute(
        "SELECT id FROM passages WHERE article_rowid = ? AND ? BETWEEN first_sentence AND last_sentence",
        (article_rowid, sentence_index),
    )
    return [row[0] for row in rows]


def passages_by_id(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple]:
    """id → (article_rowid, first_sentence, last_sentence) for the given passages."""
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"SELECT id, article_rowid, first_sentence, last_sentence FROM passages WHERE id IN ({marks})", ids
    )
    return {row[0]: row[1:] for row in rows}


def iter_articles(db: sqlite3.Connection):
    """Every stored article, in insertion order (for rebuilding the vectors from the stored text)."""
    for row in db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY rowid"):
        yield article_from_row(row)


def feed_articles_before(db: sqlite3.Connection, day: dt.date) -> list[str]:
    """Ids of articles that came from a feed (origin "feed:…") dated before `day`."""
    rows = db.execute("SELECT id FROM articles WHERE origin LIKE 'feed:%' AND date IS NOT NULL AND date < ?",
                      (day.isoformat(),))
    return [row[0] for row in rows]


def articles_after(db: sqlite3.Connection, rowid: int) -> tuple[list[str], int]:
    """Ids of the articles stored after row `rowid` (rowids only grow), and the highest rowid now."""
    ids = [row[0] for row in db.execute("SELECT id FROM articles WHERE rowid > ? ORDER BY rowid", (rowid,))]
    top = db.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()[0]
    return ids, max(top, rowid)
