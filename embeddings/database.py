"""The SQLite half of the index: articles, sentences and passages with their offsets."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable

from embeddings.models import Article, Passage, Sentence

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
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    paragraph INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
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


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    """Open the database; readers open it read-only so they can never change a committed index."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    db.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        db.executescript(SCHEMA)
    return db


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


def article_hashes(db: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """id → (content hash, origin) of every stored article: what the indexer compares against."""
    return {id_: (h, origin) for id_, h, origin in db.execute("SELECT id, content_hash, origin FROM articles")}


def insert_article(
    db: sqlite3.Connection, article: Article, sentences: list[Sentence], passages: list[Passage]
) -> tuple[list[int], list[int]]:
    """Store an article with its sentences and passages; return the new sentence and passage ids."""
    cursor = db.execute(
        f"INSERT INTO articles ({_ARTICLE_COLUMNS}, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (article.id, article.title, article.text, article.date.isoformat() if article.date else None,
         article.url, article.source, article.author, article.origin, article.content_hash),
    )
    rowid = cursor.lastrowid
    sentence_ids = [
        db.execute(
            "INSERT INTO sentences (article_rowid, idx, paragraph, start, end, text) VALUES (?, ?, ?, ?, ?, ?)",
            (rowid, s.index, s.paragraph, s.start, s.end, s.text),
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
    return sentence_ids, passage_ids


def delete_article(db: sqlite3.Connection, article_id: str) -> tuple[list[int], list[int]]:
    """Remove an article (cascading to its rows); return the sentence and passage ids it freed."""
    row = db.execute("SELECT rowid FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        return [], []
    sentence_ids = [r[0] for r in db.execute("SELECT id FROM sentences WHERE article_rowid = ?", row)]
    passage_ids = [r[0] for r in db.execute("SELECT id FROM passages WHERE article_rowid = ?", row)]
    db.execute("DELETE FROM articles WHERE rowid = ?", row)
    return sentence_ids, passage_ids


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """How many articles, sentences and passages are stored."""
    return {
        table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("articles", "sentences", "passages")
    }


def sentences_in_range(db: sqlite3.Connection, article_rowid: int, first: int, last: int) -> list[tuple]:
    """(id, article_rowid, idx, paragraph, start, end, text) of an article's sentences first..last."""
    return db.execute(
        "SELECT id, article_rowid, idx, paragraph, start, end, text FROM sentences"
        " WHERE article_rowid = ? AND idx BETWEEN ? AND ? ORDER BY idx",
        (article_rowid, first, last),
    ).fetchall()


def lexical_search(db: sqlite3.Connection, terms: list[str], limit: int,
                   where: tuple[str, list] | None = None) -> list[int]:
    """Ids of the sentences that best match any of `terms` by BM25, best first, among articles `a` matching `where`."""
    if not terms:
        return []
    query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
    clause, params = where or ("1", [])
    rows = db.execute(
        "SELECT f.rowid FROM sentences_fts f JOIN sentences s ON s.id = f.rowid JOIN articles a"
        f" ON a.rowid = s.article_rowid WHERE sentences_fts MATCH ? AND {clause} ORDER BY bm25(sentences_fts) LIMIT ?",
        (query, *params, limit),
    )
    return [row[0] for row in rows]


def passage_ids_where(db: sqlite3.Connection, where: tuple[str, list]) -> list[int]:
    """Ids of the passages of the articles `a` matching a filter clause."""
    clause, params = where
    rows = db.execute(f"SELECT p.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid WHERE {clause}",
                      params)
    return [row[0] for row in rows]


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
    """(id, article_rowid, idx, paragraph, start, end, text) of the given sentences."""
    marks = ",".join("?" * len(ids))
    return db.execute(
        f"SELECT id, article_rowid, idx, paragraph, start, end, text FROM sentences WHERE id IN ({marks})", ids
    ).fetchall()


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
