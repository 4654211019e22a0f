"""Question vector → the passages nearest to it in the FAISS index, with their sentences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings import database
from embeddings.index import IndexReader


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer, with the best score of a retrieved passage that holds it."""

    sentence_id: int
    article_rowid: int
    index: int
    paragraph: int
    start: int
    end: int
    text: str
    passage_score: float


class DenseRetriever:
    """Nearest passages by cosine similarity; their sentences become the answer candidates."""

    def __init__(self, top_passages: int = 20):
        self.top_passages = top_passages

    def run(self, index: IndexReader, question_vector: np.ndarray) -> list[Candidate]:
        """Candidates from the top passages, one per sentence (overlaps keep the best passage score)."""
        if index.passage_vectors.ntotal == 0:
            return []
        scores, ids = index.passage_vectors.search(question_vector.reshape(1, -1), self.top_passages)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        rows = database.passages_by_id(index.db, [i for i, _ in found])
        best: dict[int, Candidate] = {}
        for passage_id, score in found:
            article_rowid, first, last = rows[passage_id]
            for row in database.sentences_in_range(index.db, article_rowid, first, last):
                if row[0] not in best or best[row[0]].passage_score < score:
                    best[row[0]] = Candidate(*row, passage_score=score)
        return list(best.values())
