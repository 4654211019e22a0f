"""Candidate sentences → the best few: dense and lexical evidence fused, weak answers withheld."""

from __future__ import annotations

import numpy as np

from embeddings import database
from embeddings.index import IndexReader
from retrieval.models import Answer, AnswerSentence, Citation
from retrieval.retriever import Candidate

RRF_K = 60


class ExtractiveAnswerer:
    """Rank by reciprocal-rank fusion of a dense score and the BM25 rank; abstain on the dense score.

    dense = (cos(question, sentence) + w · cos(question, passage)) / (1 + w): the passage term lets a
    sentence that leans on its neighbours ("He said ...") rank, the sentence term keeps the quote on topic.
    It is a similarity in [-1, 1], so it is also what `min_score` and each sentence's `score` are in.
    """

    def __init__(self, min_score: float, passage_weight: float = 0.5):
        self.min_score, self.passage_weight = min_score, passage_weight

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
            top: int = 3, abstain: bool = True) -> Answer:
        """The `top` best sentences with citations, or an unanswered Answer when none scores high enough."""
        if not candidates:
            return Answer(question=question, answered=False)
        dense = self._dense_scores(index, question_vector, candidates)
        order = [i for i in np.argsort(-_fused(dense, candidates), kind="stable")
                 if not abstain or dense[i] >= self.min_score][:top]
        if not order:
            return Answer(question=question, answered=False)
        articles = database.get_articles_by_rowid(index.db, [candidates[i].article_rowid for i in order])
        sentences = [_answer_sentence(candidates[i], float(dense[i]), articles[candidates[i].article_rowid])
                     for i in order]
        return Answer(question=question, answered=True, sentences=sentences)

    def _dense_scores(self, index: IndexReader, question_vector: np.ndarray, candidates: list[Candidate]) -> np.ndarray:
        """Sentence similarity blended with its passage's similarity."""
        ids = np.array([c.sentence_id for c in candidates], dtype=np.int64)
        sentence_scores = index.sentence_vectors.reconstruct_batch(ids) @ question_vector
        passage_scores = np.array([c.passage_score for c in candidates])
        return (sentence_scores + self.passage_weight * passage_scores) / (1 + self.passage_weight)


def _fused(dense: np.ndarray, candidates: list[Candidate]) -> np.ndarray:
    """Reciprocal-rank fusion: 1/(k + dense rank) + 1/(k + BM25 rank), the latter only where BM25 matched."""
    dense_rank = np.empty(len(dense), dtype=np.int64)
    dense_rank[np.argsort(-dense, kind="stable")] = np.arange(len(dense))
    lexical = np.array([1.0 / (RRF_K + c.lexical_rank) if c.lexical_rank is not None else 0.0 for c in candidates])
    return 1.0 / (RRF_K + dense_rank) + lexical


def _answer_sentence(candidate: Candidate, score: float, article) -> AnswerSentence:
    """Quote the sentence exactly as stored and cite where it sits in its article."""
    citation = Citation(article_id=article.id, title=article.title, date=article.date, url=article.url,
                        source=article.source, start=candidate.start, end=candidate.end)
    return AnswerSentence(text=candidate.text, score=round(score, 4), citation=citation,
                          sentence_id=candidate.sentence_id)
