"""Candidate sentences → the best few: dense and lexical evidence fused, weak answers withheld."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from embeddings import database
from embeddings.index import IndexReader
from retrieval.abstention import AnswerabilityModel, shipped_model, term_coverage, term_idf
from retrieval.calibration import MIN_CONFIDENCE
from embeddings.sentence_kinds import STATEMENT
from retrieval.filters import Filters
from retrieval.models import Answer, AnswerSentence, Citation, Context
from retrieval.ranker import FEATURES, LearnedRanker, features, shipped_ranker
from retrieval.retriever import Candidate, query_terms
from retrieval.stories import Quote, collapse, recency_ranks

RRF_K = 60
# Soft preferences, in the ranker's logit units: enough to reorder close candidates, never enough to
# lift a weak sentence over one the ranker clearly prefers (its gaps run to several logits).
FOLLOW_UP_BONUS = RECENCY_BONUS = 2.0
WINDOW = FEATURES.index("window")


class ExtractiveAnswerer:
    """Rank with a learned ranker over dense, lexical and answer-shape evidence; abstain with a learned model.

    dense = (cos(question, sentence) + w · cos(question, passage)) / (1 + w): the passage term lets a
    sentence that leans on its neighbours ("He said ...") rank, the sentence term keeps the quote on topic.
    It is each sentence's `score`. A sentence is offered only if the abstention model, given its dense
    score, how much of the question the index holds at all and the best share of the question's words
    around any one candidate, puts P(answerable) >= `min_confidence`.
    """

    def __init__(self, min_confidence: float = MIN_CONFIDENCE, passage_weight: float = 0.5,
                 model: AnswerabilityModel | None = None, ranker: LearnedRanker | None = None):
        self.min_confidence, self.passage_weight = min_confidence, passage_weight
        self.model = model or shipped_model()
        self.ranker = ranker or shipped_ranker()

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
            top: int = 3, abstain: bool = True, prefer: frozenset[int] = frozenset(),
            searched: str | None = None, recent: dt.date | None = None, filters: Filters | None = None) -> Answer:
        """The `top` best sentences with citations, or an unanswered Answer when the model says abstain.

        Sentences of the articles in `prefer` (row ids; the article a follow-up refers to) get a bonus,
        and so, with `recent` (a vague "latest"), do articles nearer that date. `searched` is the text
        actually searched for (a follow-up widened with the previous turn's subject); the evidence for
        answering is measured on it.
        Questions, teasers, captions and bylines come after every statement; a sentence repeated in
        duplicate stories is quoted once (`filters` bound which copies may be quoted).
        """
        searched = searched or question
        if not candidates:
            return Answer(question=question, searched=searched, answered=False, confidence=0.0)
        evidence = self.evidence(index, searched, question_vector, candidates)
        # A follow-up takes its subject from the previous turn, which found it in the articles: the
        # window evidence (some place names what is asked) is given; its own words and dense score decide.
        dense, coverage, window = evidence.dense, evidence.coverage, 1.0 if prefer else evidence.best_window
        confidence = self.model.probability(float(dense.max()), coverage, window)
        floor = self.model.min_dense(coverage, window, self.min_confidence) if abstain else -np.inf
        order = self._order(index, candidates, evidence, prefer, recent)
        ranked = [(candidates[i], float(dense[i])) for i in order if dense[i] >= floor]
        where = filters.sql() if filters and not filters.is_empty() else None
        quotes = collapse(index.db, ranked, top, where)
        if not quotes:
            return Answer(question=question, searched=searched, answered=False, confidence=confidence)
        rowids = [q.candidate.article_rowid for q in quotes] + [c[0] for q in quotes for c in q.copies]
        articles = database.get_articles_by_rowid(index.db, rowids)
        sentences = [_answer_sentence(index, quote, articles) for quote in quotes]
        return Answer(question=question, searched=searched, answered=True, sentences=sentences,
                      confidence=confidence)

    def _order(self, index: IndexReader, candidates: list[Candidate], evidence: "Evidence",
               prefer: frozenset[int], recent: dt.date | None) -> np.ndarray:
        """Candidate positions, best first: statements before other sentences, then by learned score plus
        the soft preferences (the article a follow-up refers to, closeness to a vague "latest")."""
        scores = self.ranker.scores(evidence.features)
        scores += FOLLOW_UP_BONUS * np.array([c.article_rowid in prefer for c in candidates])
        if recent is not None:
            scores += RECENCY_BONUS * _unit(recency_ranks(index.db, candidates, recent, RRF_K))
        return np.lexsort((-scores, [c.kind != STATEMENT for c in candidates]))

    def evidence(self, index: IndexReader, question: str, question_vector: np.ndarray,
                 candidates: list[Candidate]) -> "Evidence":
        """Each candidate's dense score and ranking features, and how much of the question the index covers."""
        ids = np.array([c.sentence_id for c in candidates], dtype=np.int64)
        sentence_scores = index.sentence_vectors.reconstruct_batch(ids) @ question_vector
        passage_scores = np.array([c.passage_score for c in candidates])
        dense = (sentence_scores + self.passage_weight * passage_scores) / (1 + self.passage_weight)
        idf, frequencies = term_idf(index.db, query_terms(question), index.manifest["sentences"])
        windows = database.sentence_windows(index.db, [(c.article_rowid, c.index) for c in candidates])
        rows = features(question, [c.text for c in candidates], [windows[c.article_rowid, c.index] for c in candidates],
                        sentence_scores, passage_scores, [c.lexical_rank for c in candidates], dense, idf)
        return Evidence(dense, term_coverage(idf, frequencies), rows)


@dataclass(frozen=True)
class Evidence:
    """What the answerer knows about the candidates of one question."""

    dense: np.ndarray
    coverage: float
    features: np.ndarray

    @property
    def best_window(self) -> float:
        """The largest share of the question's words found around any one candidate."""
        return float(self.features[:, WINDOW].max())


def _unit(values: np.ndarray) -> np.ndarray:
    """Values rescaled to [0, 1] over the candidates (all 0 when they are equal)."""
    spread = values.max() - values.min()
    return (values - values.min()) / spread if spread > 0 else np.zeros_like(values)


def _citation(article, start: int, end: int) -> Citation:
    """Where a quote sits in an article."""
    return Citation(article_id=article.id, title=article.title, date=article.date, url=article.url,
                    source=article.source, start=start, end=end)


def _answer_sentence(index: IndexReader, quote: Quote, articles: dict) -> AnswerSentence:
    """Quote the sentence exactly as stored, cite it and its copies, and give the title and sentence before it."""
    c = quote.candidate
    article = articles[c.article_rowid]
    context = Context(title=article.title, previous=database.previous_sentence(index.db, c.article_rowid, c.index))
    return AnswerSentence(text=c.text, score=round(quote.score, 4), citation=_citation(article, c.start, c.end),
                          context=context, sentence_id=c.sentence_id,
                          also_reported_by=[_citation(articles[rowid], start, end) for rowid, start, end in quote.copies])
