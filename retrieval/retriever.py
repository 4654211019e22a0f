"""Question → candidate sentences: those of the nearest passages (FAISS) and the best BM25 matches (FTS5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.storage import database
from embeddings.storage.reader import IndexReader
from retrieval.filters import Filters
from retrieval.words import query_terms

@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer, with its best passage score and its BM25 rank (None if unmatched)."""

    sentence_id: int
    article_rowid: int
    index: int
    paragraph: int
    start: int
    end: int
    text: str
    kind: str
    passage_score: float
    lexical_rank: int | None = None


def allowed_articles(index: IndexReader, filters: Filters) -> np.ndarray:
    """The articles `filters` let through, as a mask by row id: by their dates alone when only dates bound
    them ("what happened last year" lets half a million through at a million articles), else through SQL."""
    if filters.source is None and filters.articles is None:
        return index.articles_dated(filters.since, filters.until, filters.undated)
    return index.articles_where(filters.sql())


class HybridRetriever:
    """Dense passages plus lexical sentences: BM25 catches exact names and numbers the dense model blurs."""

    def __init__(self, top_passages: int = 20, top_lexical: int = 50):
        self.top_passages, self.top_lexical = top_passages, top_lexical

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray,
            filters: Filters | None = None) -> list[Candidate]:
        """Candidates from both searches, one per sentence, only from articles that pass `filters`."""
        where = filters.sql() if filters and not filters.is_empty() else None
        allowed = allowed_articles(index, filters) if where else None
        if index.passage_vectors.ntotal == 0 or (allowed is not None and not allowed.any()):
            return []
        best = self._dense(index, question_vector, allowed)
        lexical = index.lexical_search(query_terms(question), self.top_lexical, where, allowed)
        ranks = {sentence_id: rank for rank, sentence_id in enumerate(lexical)}
        missing = [i for i in lexical if i not in best]
        if missing:
            best |= self._with_passage_scores(index, question_vector, database.sentences_by_id(index.db, missing))
        return [Candidate(**{**c.__dict__, "lexical_rank": ranks.get(c.sentence_id)}) for c in best.values()]

    def _dense(self, index: IndexReader, question_vector: np.ndarray,
               allowed: np.ndarray | None) -> dict[int, Candidate]:
        """Sentences of the top passages (of the `allowed` articles only, searched inside FAISS); overlaps keep the
        best score."""
        scores, ids = index.search_passages(question_vector, self.top_passages, allowed)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        rows = database.passages_by_id(index.db, [i for i, _ in found])
        best: dict[int, Candidate] = {}
        for passage_id, score in found:
            article_rowid, first, last = rows[passage_id]
            for row in database.sentences_in_range(index.db, article_rowid, first, last):
                if row[0] not in best or best[row[0]].passage_score < score:
                    best[row[0]] = Candidate(*row, passage_score=score)
        return best

    def _with_passage_scores(self, index: IndexReader, question_vector: np.ndarray,
                             rows: list[tuple]) -> dict[int, Candidate]:
        """Lexical-only sentences get the score of their best passage, so both kinds rank alike."""
        out = {}
        for row in rows:
            passage_ids = database.passages_containing(index.db, row[1], row[2])
            vectors = index.passage_vectors.reconstruct_batch(np.array(passage_ids, dtype=np.int64))
            out[row[0]] = Candidate(*row, passage_score=float((vectors @ question_vector).max()))
        return out
