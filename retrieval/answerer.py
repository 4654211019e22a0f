"""Candidate sentences → the best few: dense and lexical evidence fused, weak answers withheld."""

from __future__ import annotations

import numpy as np

from embeddings import database
from embeddings.index import IndexReader
from retrieval.abstention import AnswerabilityModel, shipped_model, term_coverage
from retrieval.calibration import MIN_CONFIDENCE
from retrieval.models import Answer, AnswerSentence, Citation
from retrieval.retriever import Candidate, query_terms

RRF_K = 60


class ExtractiveAnswerer:
    """Rank by reciprocal-rank fusion of a dense score and the BM25 rank; abstain with a learned model.

    dense = (cos(question, sentence) + w · cos(question, passage)) / (1 + w): the passage term lets a
    sentence that leans on its neighbours ("He said ...") rank, the sentence term keeps the quote on topic.
    It is each sentence's `score`. A sentence is offered only if the abstention model, given its dense
    score and how much of the question the index covers at all, puts P(answerable) >= `min_confidence`.
    """

    def __init__(self, min_confidence: float = MIN_CONFIDENCE, passage_weight: float = 0.5,
                 model: AnswerabilityModel | None = None):
        self.min_confidence, self.passage_weight = min_confidence, passage_weight
        self.model = model or shipped_model()

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
            top: int = 3, abstain: bool = True, prefer: frozenset[int] = frozenset(),
            searched: str | None = None) -> Answer:
        """The `top` best sentences with citations, or an unanswered Answer when the model says abstain.

        Sentences of the articles in `prefer` (row ids; the article a follow-up refers to) rank as if a
        third ranker had put them first. `searched` is the text actually searched for (a follow-up
        widened with the previous turn's subject); the evidence for answering is measured on it.
        """
        searched = searched or question
        if not candidates:
            return Answer(question=question, searched=searched, answered=False, confidence=0.0)
        dense, coverage = self.evidence(index, searched, question_vector, candidates)
        confidence = self.model.probability(float(dense.max()), coverage)
        floor = self.model.min_dense(coverage, self.min_confidence) if abstain else -np.inf
        fused = _fused(dense, candidates) + np.array([c.article_rowid in prefer for c in candidates]) / RRF_K
        order = [i for i in np.argsort(-fused, kind="stable") if dense[i] >= floor][:top]
        if not order:
            return Answer(question=question, searched=searched, answered=False, confidence=confidence)
        articles = database.get_articles_by_rowid(index.db, [candidates[i].article_rowid for i in order])
        sentences = [_answer_sentence(candidates[i], float(dense[i]), articles[candidates[i].article_rowid])
                     for i in order]
        return Answer(question=question, searched=searched, answered=True, sentences=sentences,
                      confidence=confidence)

    def evidence(self, index: IndexReader, question: str, question_vector: np.ndarray,
                 candidates: list[Candidate]) -> tuple[np.ndarray, float]:
        """Each candidate's dense score, and how much of the question the index covers at all."""
        ids = np.array([c.sentence_id for c in candidates], dtype=np.int64)
        sentence_scores = index.sentence_vectors.reconstruct_batch(ids) @ question_vector
        passage_scores = np.array([c.passage_score for c in candidates])
        dense = (sentence_scores + self.passage_weight * passage_scores) / (1 + self.passage_weight)
        return dense, term_coverage(index.db, query_terms(question), index.manifest["sentences"])


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
