"""QA files (SQuAD schema) → an index of their contexts → every question asked → P@1, R@5, MRR, abstention.

The ReQA protocol: every sentence of the corpus is a candidate; a question is answered right when
the gold sentence (the one holding an annotator's answer span) ranks first and is cited to the right
article.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.models import Article

RANK_DEPTH = 100


@dataclass
class Question:
    """A question with its gold article and answer spans mapped into that article's text."""

    id: str
    question: str
    article_id: str
    spans: list[tuple[int, int]]
    impossible: bool
    question_date: dt.date | None = None


def read_qa(paths: Iterable[Path]) -> tuple[list[Article], list[Question]]:
    """Join paragraphs with the same context_title into one article, in order; map answers into it.

    A record without a "context" is about an article of a separate corpus (`newsdesk eval --articles`):
    its context_title is that article's id and its answer offsets point into the article's text.
    """
    paragraphs: dict[str, dict[str, int]] = {}
    records = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    for record in records:
        if "context" not in record:
            continue
        title_paragraphs = paragraphs.setdefault(record["context_title"], {})
        if record["context"] not in title_paragraphs:
            offset = sum(len(p) + 2 for p in title_paragraphs)
            title_paragraphs[record["context"]] = offset
    articles = [Article(id=title, title=title, text="\n\n".join(paras), origin="qa")
                for title, paras in paragraphs.items()]
    questions = [_question(record, paragraphs[record["context_title"]][record["context"]] if "context" in record else 0)
                 for record in records]
    return articles, questions


def _question(record: dict, offset: int) -> Question:
    """One QA record; each annotator's answer becomes a [start, end) span in the joined article."""
    starts = record.get("answer_starts") or ([record["answer_start"]] if record.get("answer_start") is not None else [])
    spans = [(offset + s, offset + s + len(a)) for s, a in zip(starts, record.get("answers") or [])]
    asked_on = record.get("question_date")
    return Question(id=str(record["id"]), question=record["question"], article_id=record["context_title"],
                    spans=spans, impossible=bool(record.get("is_impossible")),
                    question_date=dt.date.fromisoformat(asked_on[:10]) if asked_on else None)


@dataclass
class Scores:
    """Running totals over the questions asked."""

    answerable: int = 0
    p_at_1: int = 0
    r_at_5: int = 0
    reciprocal_ranks: float = 0.0
    right_article: int = 0
    answered_answerable: int = 0
    impossible: int = 0
    answered_impossible: int = 0
    off_corpus: int = 0
    answered_off_corpus: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def report(self) -> dict:
        """The figures `newsdesk eval` prints."""
        n, lat = max(self.answerable, 1), sorted(self.latencies_ms) or [0.0]
        asked = self.answerable + self.impossible + self.off_corpus
        return {
            "questions": asked, "answerable": self.answerable,
            "P@1": round(self.p_at_1 / n, 4), "R@5": round(self.r_at_5 / n, 4),
            "MRR": round(self.reciprocal_ranks / n, 4), "citation_accuracy": round(self.right_article / n, 4),
            "answered_when_answerable": round(self.answered_answerable / n, 4),
            "impossible": self.impossible,
            "answered_when_impossible": round(self.answered_impossible / max(self.impossible, 1), 4),
            "off_corpus": self.off_corpus,
            "answered_when_off_corpus": round(self.answered_off_corpus / max(self.off_corpus, 1), 4),
            "questions_per_s": round(asked / max(self.seconds, 1e-9), 1),
            "latency_ms_p50": round(lat[len(lat) // 2], 1), "latency_ms_p95": round(lat[int(len(lat) * 0.95)], 1),
        }


def gold_rank(question: Question, answer) -> int | None:
    """1-based rank of the first returned sentence that holds an answer span in the gold article."""
    for rank, sentence in enumerate(answer.sentences, start=1):
        c = sentence.citation
        if c.article_id == question.article_id and any(c.start <= a and b <= c.end for a, b in question.spans):
            return rank
    return None


def evaluate(pipeline, questions: list[Question], min_confidence: float, filters=None,
             indexed: set[str] | None = None, progress=None, as_of: dt.date | None = None) -> Scores:
    """Ask every question (ranked, no abstention) and score ranks and the abstention decision.

    A question whose article is not in `indexed` (when given) is off-corpus: the right outcome is
    to abstain. Time words are resolved against each question's `question_date`, else `as_of`.
    """
    scores = Scores()
    began = time.perf_counter()
    for question in questions:
        asked = time.perf_counter()
        answer = pipeline.ask(question.question, top=RANK_DEPTH, abstain=False, filters=filters,
                              as_of=question.question_date or as_of)
        scores.latencies_ms.append((time.perf_counter() - asked) * 1000)
        answered = answer.confidence is not None and answer.confidence >= min_confidence
        if indexed is not None and question.article_id not in indexed:
            scores.off_corpus += 1
            scores.answered_off_corpus += answered
        elif question.impossible or not question.spans:
            scores.impossible += 1
            scores.answered_impossible += answered
        else:
            _score_answerable(scores, question, answer, answered)
        if progress:
            progress()
    scores.seconds = time.perf_counter() - began
    return scores


def _score_answerable(scores: Scores, question: Question, answer, answered: bool) -> None:
    """Add one answerable question's rank, first citation and abstention outcome."""
    rank = gold_rank(question, answer)
    scores.answerable += 1
    scores.p_at_1 += rank == 1
    scores.r_at_5 += rank is not None and rank <= 5
    scores.reciprocal_ranks += 1 / rank if rank else 0.0
    scores.right_article += bool(answer.sentences) and answer.sentences[0].citation.article_id == question.article_id
    scores.answered_answerable += answered
