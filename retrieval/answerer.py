"""Candidate sentences → the best few, scored against the question in the context of their passage."""

from __future__ import annotations

import numpy as np

from embeddings import database
from embeddings.index import IndexReader
from retrieval.models import Answer, AnswerSentence, Citation
from retrieval.retriever import Candidate


class ExtractiveAnswerer:
    """Score = (cos(question, sentence) + w · cos(question, passage)) / (1 + w); abstain below `min_score`.

    The passage term lets a sentence that leans on its neighbours ("He said ...") still rank,
    while the sentence term keeps the quoted sentence itself on topic.
    """

    def __init__(self, min_score: float, passage_weight: float = 0.5):
        self.min_score, self.passage_weight = min_score, passage_weight

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
            top: int = 3, abstain: bool = True) -> Answer:
        """The `top` best sentences with citations, or an unanswered Answer when none scores high enough."""
        if not candidates:
            return Answer(question=question, answered=False)
        vectors = index.sentence_vectors.reconstruct_batch(np.array([c.sentence_id for c in candidates], dtype=np.int64))
        sentence_scores = vectors @ question_vector
        w = self.passage_weight
        scores = (sentence_scores + w * np.array([c.passage_score for c in candidates])) / (1 + w)
        order = np.argsort(-scores)[:top]
        if abstain:
            order = [i for i in order if scores[i] >= self.min_score]
        if not len(order):
            return Answer(question=question, answered=False)
        articles = database.get_articles_by_rowid(index.db, [candidates[i].article_rowid for i in order])
        sentences = [_answer_sentence(candidates[i], float(scores[i]), articles[candidates[i].article_rowid])
                     for i in order]
        return Answer(question=question, answered=True, sentences=sentences)


def _answer_sentence(candidate: Candidate, score: float, article) -> AnswerSentence:
    """Quote the sentence exactly as stored and cite where it sits in its article."""
    citation = Citation(article_id=article.id, title=article.title, date=article.date, url=article.url,
                        source=article.source, start=candidate.start, end=candidate.end)
    return AnswerSentence(text=candidate.text, score=round(score, 4), citation=citation,
                          sentence_id=candidate.sentence_id)
