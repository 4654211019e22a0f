"""A committed generation, opened for questions: one read transaction of the database (so every query sees
that generation, whatever writers commit meanwhile) and the vectors of the segments it lists (read by row
from their files; graphs memory-mapped)."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.storage import database, manifest, segment_files, store
from embeddings.storage.lexical import LexicalIndex
from embeddings.storage.manifest import KINDS
from embeddings.storage.vectors import Part, Vectors


@dataclass
class IndexReader:
    """What questions read: the database at one generation, and its sentence and passage vectors."""

    root: Path
    generation: str
    manifest: dict
    db: sqlite3.Connection
    sentence_vectors: Vectors
    passage_vectors: Vectors
    segments: int = 1
    lexical: LexicalIndex | None = None  # None: BM25 by FTS5 (embeddings/storage/lexical.py says when)
    _pointer: str | None = None  # CURRENT as it was just before opening: it changes with every commit
    _overview: dict | None = field(default=None, repr=False)
    _days: np.ndarray | None = field(default=None, repr=False)  # article_days, read at the first date filter

    @classmethod
    def open(cls, root: Path, model: str | None = None, dim: int | None = None,
             backend: str | None = None) -> "IndexReader":
        """Open the committed generation and validate it; retry when a writer committed (and removed files of
        the generation being opened) meanwhile."""
        root = Path(root)
        while True:
            seen = store.current_generation(root)
            try:
                return cls._load(root, model, dim, backend, seen)
            except (store.IndexError_, OSError, RuntimeError, sqlite3.Error):
                if store.current_generation(root) == seen:
                    raise

    @classmethod
    def _load(cls, root: Path, model: str | None, dim: int | None, backend: str | None,
              pointer: str | None) -> "IndexReader":
        db, legacy = store.connect_committed(root)
        try:
            saved = store.read_manifest(legacy) if legacy else manifest.read(db)
            if model is not None:
                store.check_model(saved, model, dim, backend, root)
            _check_schema(db, root)
            paths = [legacy] if legacy else [segment_files.folder(root) / s.name for s in manifest.segments(db)]
            parts = [segment_files.read_parts(path) for path in paths]
            dim = saved.get("dim") or dim
            vectors = {kind: Vectors([p[kind] for p in parts], dim, None if legacy else manifest.deleted(db, kind))
                       for kind in KINDS}
            counts = database.counts(db)
            store.check_counts(counts, {kind: v.ntotal for kind, v in vectors.items()}, root, saved)
        except BaseException:
            db.close()
            raise
        generation = legacy.name if legacy else saved["generation"]
        return cls(root, generation, saved, db, vectors["sentences"], vectors["passages"], len(parts),
                   None if legacy else LexicalIndex.open(root, generation), pointer)

    def search_passages(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None):
        """(scores, ids) of the k passages nearest `vector`, only among the passages of the articles `allowed`
        (a mask by row id, articles_where or articles_dated) if given."""
        if allowed is None:
            return self.passage_vectors.search(vector, k)

        def keep(part: Part) -> np.ndarray:
            if part.articles is None:  # a segment written before passages' articles were stored with it
                part.articles = database.passage_articles(self.db, part.ids)
            of = part.articles
            return np.where(of < len(allowed), allowed[np.minimum(of, len(allowed) - 1)], False)

        return self.passage_vectors.search(vector, k, keep)

    def articles_where(self, where: tuple[str, list]) -> np.ndarray:
        """A mask by row id of the articles `a` matching a filter clause."""
        rowids = database.article_rowids_where(self.db, where)
        allowed = np.zeros((self.db.execute("SELECT max(rowid) FROM articles").fetchone()[0] or 0) + 1, dtype=bool)
        allowed[rowids] = True
        return allowed

    def articles_dated(self, since: dt.date | None, until: dt.date | None, undated: bool = False) -> np.ndarray:
        """A mask by row id of the articles dated from `since` to `until` (and of those without a date when
        `undated`): what the filter's SQL selects, by comparing an array of dates read once per generation
        instead of listing up to millions of row ids from the database at every question."""
        if self._days is None:
            self._days = article_days(self.db)
        days = self._days
        inside = (days != NO_DATE) & (days != NO_ARTICLE)
        if since:
            inside &= days >= (since - EPOCH).days
        if until:
            inside &= days <= (until - EPOCH).days
        return inside | (days == NO_DATE) if undated else inside

    def lexical_search(self, terms: list[str], limit: int, where: tuple[str, list] | None = None,
                       allowed: np.ndarray | None = None) -> list[int]:
        """Ids of the sentences that best match any of `terms` by BM25, best first, among articles `a` matching
        `where` (whose mask by row id is `allowed`, when the caller has it)."""
        if self.lexical is None:
            return database.lexical_search(self.db, terms, limit, where)
        if where and allowed is None:
            allowed = self.articles_where(where)
        share = allowed.mean() if allowed is not None else 0.0
        if share >= POST_FILTER_SHARE:  # a broad filter: the best hits of all, kept if allowed
            wanted = math.ceil(3 * limit / share)
            hits = self.lexical.search(terms, wanted)
            articles = {row[0]: row[1] for row in database.sentences_by_id(self.db, hits)} if hits else {}
            kept = [i for i in hits if articles[i] < len(allowed) and allowed[articles[i]]]
            if len(kept) >= 2 * limit or len(hits) < wanted:  # the allowed ones' best 2 × limit, or all there are
                return kept[:limit]
        return self.lexical.search(terms, limit, allowed)

    def is_stale(self) -> bool:
        """True once a writer has committed since this generation was opened."""
        return store.current_generation(self.root) != self._pointer

    def stats(self) -> dict:
        """What the index holds and where, for `newsdesk stats` and the bot's /start."""
        keys = ("articles", "sentences", "passages", "model", "dim")
        return {key: self.manifest.get(key) for key in keys} | {
            "backend": store.manifest_backend(self.manifest), "generation": self.generation,
            "segments": self.segments, "deleted_sentences": self.sentence_vectors.skipped,
            "deleted_passages": self.passage_vectors.skipped,
            "index": str(self.root), "size_bytes": store.disk_size(self.root)}

    def overview(self, newest: int = 3) -> dict:
        """Sources, date range and newest headlines (database.overview), read once per generation: on a large
        index the query scans every article."""
        if self._overview is None:
            self._overview = database.overview(self.db, newest)
        return self._overview

    def close(self) -> None:
        self.db.close()


@contextlib.contextmanager
def committed_db(root: Path) -> Iterator[sqlite3.Connection | None]:
    """The committed generation's database, read-only, for a quick look without loading the vectors;
    None when there is no index yet."""
    try:
        db, _ = store.connect_committed(root)
    except store.IndexNotFound:
        yield None
        return
    try:
        yield db
    finally:
        db.close()


# A filter letting at least this share of the articles through is applied to the best BM25 hits of all
# (3 × limit / share of them): Tantivy's term set of hundreds of thousands of articles costs far more.
POST_FILTER_SHARE = 0.05
EPOCH = dt.date(1970, 1, 1)
NO_DATE, NO_ARTICLE = np.iinfo(np.int64).min, np.iinfo(np.int64).max  # in article_days


def article_days(db: sqlite3.Connection) -> np.ndarray:
    """Each article's date as days since EPOCH, indexed by row id (NO_DATE for an undated article, NO_ARTICLE
    for a row id no article has)."""
    rows = db.execute("SELECT rowid, date FROM articles").fetchall()
    if not rows:
        return np.full(1, NO_ARTICLE, dtype=np.int64)
    rowids, dates = zip(*rows)
    days = np.full(max(rowids) + 1, NO_ARTICLE, dtype=np.int64)
    days[list(rowids)] = np.array([d or "NaT" for d in dates], dtype="datetime64[D]").astype(np.int64)
    return days


def _check_schema(db, root: Path) -> None:
    """Refuse an index written by an older newsdesk (the next write that changes it also migrates it)."""
    missing = database.missing_columns(db)
    if missing:
        raise store.IndexError_(
            f"the index at {root} was built by an older newsdesk (it lacks {', '.join(missing)}); "
            f"rebuild it with `newsdesk index PATH --index {root} --rebuild`"
        )
