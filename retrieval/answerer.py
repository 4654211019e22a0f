"""Candidate sentences → the best few: dense and lexical evidence fused, weak answers withheld."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from embeddings.storage import database
from embeddings.storage.reader import IndexReader
from retrieval.abstention import AnswerabilityModel, coverage, shipped_model, unsupported
from retrieval.calibration import MIN_CONFIDENCE
from embeddings.sentence_kinds import STATEMENT
from retrieval.filters import Filters
from retrieval.models import Answer, AnswerSentence, Citation, Context
from retrieval.ranker import FEATURES, DenseScores, LearnedRanker, Sentences, features, shipped_ranker
from retrieval.reading import DEPTH, Reading, ReadingRanker
from retrieval.answer_types import YEAR, expected_type
from retrieval.words import stems, term_weights, without_topic, words
from retrieval.retriever import Candidate
from retrieval.stories import Quote, collapse, recency_ranks

RRF_K = 60
# Soft preferences, in the ranker's logit units: enough to reorder close candidates, never enough to
# lift a weak sentence over one the ranker clearly prefers (its gaps run to several logits).
FOLLOW_UP_BONUS = RECENCY_BONUS = 2.0
# Once a question is answered, a further sentence is quoted only while the ranker gives it at least a
# tenth of the first choice's probability (a logit within ln 10 of it).
RELATIVE_CUT = math.log(10)
WINDOW, FOCUS = FEATURES.index("window"), FEATURES.index("focus")
# How far down the order a sentence holding the question's numbers is looked for: the candidates the reader reads.
NUMBERS_DEPTH = DEPTH


class ExtractiveAnswerer:
    """Rank with a learned ranker over dense, lexical and answer-type evidence; decide once whether to answer.

    dense = (cos(question, sentence) + w · cos(question, passage)) / (1 + w): the passage term lets a
    sentence that leans on its neighbours ("He said ...") rank, the sentence term keeps the quote on topic.
    It is each sentence's `score`. The question is answered when the abstention model puts
    P(answerable) >= `min_confidence`; then the ranker's first choice is the first sentence quoted, and
    the others follow while they stay within RELATIVE_CUT of it. With `reading`, the trained scorer reads the
    ranker's first candidates and its logit joins the evidence of both the order and the abstention model.
    """

    def __init__(self, encoder, min_confidence: float = MIN_CONFIDENCE, passage_weight: float = 0.5,
                 model: AnswerabilityModel | None = None, ranker: LearnedRanker | None = None,
                 reading: ReadingRanker | None = None):
        self.encoder = encoder  # embeds the question's focus (ranker.py)
        self.min_confidence, self.passage_weight = min_confidence, passage_weight
        self.reading = reading
        self.ranker_model = shipped_model()  # what the ranker's evidence says alone; with a reading, one input
        self.model = model or shipped_model(reading=reading is not None)
        self.ranker = ranker or shipped_ranker()

    def run(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
            top: int = 3, abstain: bool = True, prefer: frozenset[int] = frozenset(),
            searched: str | None = None, recent: dt.date | None = None, filters: Filters | None = None,
            chance: float = 0.0, quoted: frozenset[int] = frozenset()) -> Answer:
        """The `top` best sentences with citations, or an unanswered Answer when the model says abstain.

        Sentences of the articles in `prefer` (row ids; the article a follow-up refers to) get a bonus,
        and so, with `recent` (a vague "latest"), do articles nearer that date. `searched` is the text
        actually searched for (a follow-up widened with the previous turn's subject); the evidence is
        measured on it. `chance` is what unrelated questions score on this index (abstention.chance_score).
        Questions, teasers, captions and bylines come after every statement; a sentence repeated in
        duplicate stories is quoted once (`filters` bound which copies may be quoted). With a reading, a sentence
        in `quoted` (ids this conversation already quoted first) is not quoted first again while another reads
        as an answer.
        """
        searched = searched or question
        if not candidates:
            return Answer(question=question, searched=searched, answered=False, confidence=0.0)
        judged = self.assess(index, searched, question_vector, candidates, prefer, recent, chance)
        if abstain and judged.confidence < self.min_confidence:
            return Answer(question=question, searched=searched, answered=False, confidence=judged.confidence)
        order = judged.order
        if quoted and judged.reading is not None:
            order = _not_again(order, candidates, quoted, judged.reading)
        order = _numbers_held_first(order, question, judged.evidence.sentences)
        if abstain:
            order = [i for i in order if judged.scores[i] >= judged.scores[order[0]] - RELATIVE_CUT]
        order = _lead_first(order, candidates, question, judged.evidence.sentences.titles)
        where = filters.sql() if filters and not filters.is_empty() else None
        quotes = collapse(index.db, [(candidates[i], float(judged.evidence.dense[i])) for i in order], top, where)
        rowids = [q.candidate.article_rowid for q in quotes] + [c[0] for q in quotes for c in q.copies]
        articles = database.get_articles_by_rowid(index.db, rowids)
        sentences = [_answer_sentence(index, quote, articles) for quote in quotes]
        return Answer(question=question, searched=searched, answered=True, sentences=sentences,
                      confidence=judged.confidence)

    def assess(self, index: IndexReader, question: str, question_vector: np.ndarray, candidates: list[Candidate],
               prefer: frozenset[int] = frozenset(), recent: dt.date | None = None,
               chance: float = 0.0) -> "Judgement":
        """The candidates' evidence, their order (best first) and P(answerable) for the first choice."""
        evidence = self.evidence(index, question, question_vector, candidates)
        raw = self.ranker.scores(evidence.features)
        preferences = FOLLOW_UP_BONUS * np.array([c.article_rowid in prefer for c in candidates], dtype=float)
        if recent is not None:
            preferences += RECENCY_BONUS * _unit(recency_ranks(index.db, candidates, recent, RRF_K))
        scores = raw + preferences
        order = _order(scores, candidates)
        answerability = evidence.answerability(raw, order, chance)
        reading = self.reading.read(index.db, question, candidates, evidence.sentences.titles, raw) if self.reading \
            else None
        if reading is not None:  # the reading orders; whether to answer is the ranker's evidence with its best logit
            answerability = {**answerability, "answerable": self.ranker_model.logit(answerability),
                             "best_reader": float(reading.logits[reading.read].max())}
            scores = self.reading.scores(evidence.features, reading) + preferences
            order = _order(scores, candidates)
        return Judgement(evidence, scores, order, answerability, self.model.probability(answerability), reading)

    def _focus_scores(self, sentence_vectors: np.ndarray, sentence_scores: np.ndarray, question: str,
                      focus: str) -> np.ndarray:
        """Cosine of each candidate with the question's focus (its sentence score when the focus is the question)."""
        return sentence_scores if focus == question else sentence_vectors @ self.encoder.encode([focus])[0]

    def evidence(self, index: IndexReader, question: str, question_vector: np.ndarray,
                 candidates: list[Candidate]) -> "Evidence":
        """Each candidate's dense score and ranking features, and how much of the question the index covers."""
        ids = np.array([c.sentence_id for c in candidates], dtype=np.int64)
        sentence_vectors = index.sentence_vectors.reconstruct_batch(ids)
        sentence_scores = sentence_vectors @ question_vector
        passage_scores = np.array([c.passage_score for c in candidates])
        dense = (sentence_scores + self.passage_weight * passage_scores) / (1 + self.passage_weight)
        windows = database.sentence_windows(index.db, [(c.article_rowid, c.index) for c in candidates])
        titles = database.article_titles(index.db, [c.article_rowid for c in candidates])
        headline = titles[candidates[int(np.argmax(dense))].article_rowid]
        focus_scores = [self._focus_scores(sentence_vectors, sentence_scores, question, without_topic(question, headline, n))
                        for n in (False, True)]
        scores = DenseScores(sentence_scores, passage_scores, *focus_scores, dense)
        sentences = Sentences([c.text for c in candidates], [windows[c.article_rowid, c.index] for c in candidates],
                              [titles[c.article_rowid] for c in candidates], [c.article_rowid for c in candidates],
                              [c.lexical_rank for c in candidates])
        return Evidence(question, dense, passage_scores, coverage(index.db, question),
                        features(question, sentences, scores), sentences)


@dataclass(frozen=True)
class Evidence:
    """What the answerer knows about the candidates of one question."""

    question: str
    dense: np.ndarray
    passage_scores: np.ndarray
    coverage: tuple[float, float]  # abstention.coverage: share found in the index, rarest word missing
    features: np.ndarray
    sentences: Sentences

    def answerability(self, raw_scores: np.ndarray, order: np.ndarray, chance: float) -> dict[str, float]:
        """The abstention model's evidence (abstention.FEATURES) for the first choice `order[0]`."""
        first = order[0]
        rest = np.delete(raw_scores, first)
        window, focus = self.features[:, WINDOW], self.features[:, FOCUS]
        return {"top_dense": float(self.dense[first]), "best_dense": float(self.dense.max()),
                "top_focus": float(focus[first]), "best_focus": float(focus.max()),
                "dense_excess": float(self.passage_scores.max()) - chance, "coverage": self.coverage[0],
                "missing": self.coverage[1], "unsupported": self._unsupported(first),
                "top_window": float(window[first]), "best_window": float(window.max()),
                "top_score": float(raw_scores[first]),
                "margin": float(raw_scores[first] - rest.max()) if len(rest) else 0.0}

    def _unsupported(self, i: int) -> float:
        """abstention.unsupported for candidate `i`: against its headline, sentence and neighbours."""
        return unsupported(self.question, f"{self.sentences.titles[i]}\n{self.sentences.windows[i]}")


@dataclass(frozen=True)
class Judgement:
    """The answerer's view of one question: evidence, scores with preferences, order and P(answerable)."""

    evidence: Evidence
    scores: np.ndarray
    order: np.ndarray
    answerability: dict[str, float]
    confidence: float
    reading: Reading | None = None


def _not_again(order: np.ndarray, candidates: list[Candidate], quoted: frozenset[int], reading: Reading) -> np.ndarray:
    """The order with a first choice already quoted first in this conversation moved behind the best one not
    quoted that the scorer reads as an answer (logit above 0); without one it is the only answer and stays."""
    if candidates[order[0]].sentence_id not in quoted:
        return order
    fresh = next((i for i in order[1:] if candidates[i].sentence_id not in quoted and reading.read[i]
                  and reading.logits[i] > 0), None)
    if fresh is None:
        return order
    return np.array([fresh, *(i for i in order if i != fresh)])


def _numbers_held_first(order, question: str, sentences: Sentences) -> list[int]:
    """A question that names numbers ("which town opened bridge number 55", "when did terminal 5 open") is not
    answered by a sentence whose story says nothing of them while one of the first NUMBERS_DEPTH candidates does:
    those that hold every number (in the sentence, its neighbours or its headline) go first, each group in its
    order. Years are left out: a story often dates its events by "last year" or its own date alone."""
    asked = {w for w in words(question) if w.isdigit() and not YEAR.match(w)}
    if not asked:
        return list(order)
    head = list(order[:NUMBERS_DEPTH])
    held = [i for i in head if asked <= set(words(sentences.windows[i])) | set(words(sentences.titles[i]))]
    if not held or held[0] == head[0]:
        return list(order)
    return [*held, *(i for i in order if i not in held)]


def _lead_first(order, candidates: list[Candidate], question: str, titles: list[str]) -> list[int]:
    """A question about a story as a whole ("was there a storm", "what happened in storm orla": it asks for no
    kind of answer, and every word it holds beyond function words is in the first choice's headline) is
    answered by the story's lead: its first sentence, when it is a candidate, is quoted first."""
    first = candidates[order[0]]
    terms = term_weights(question)
    if not terms or expected_type(question) is not None or not set(terms) <= stems(titles[order[0]]):
        return list(order)
    lead = next((i for i, c in enumerate(candidates) if c.article_rowid == first.article_rowid and c.index == 0
                 and c.kind == STATEMENT), None)
    return list(order) if lead is None else [lead, *(i for i in order if i != lead)]


def _order(scores: np.ndarray, candidates: list[Candidate]) -> np.ndarray:
    """Best first, statements before questions, teasers, captions and bylines."""
    return np.lexsort((-scores, [c.kind != STATEMENT for c in candidates]))


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
