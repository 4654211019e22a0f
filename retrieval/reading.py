"""The trained scorer's reading joined to the ranker: the ranker's first DEPTH candidates are read as pairs with
the question (retrieval/scorer.py), and the scorer's logit becomes one more piece of evidence, weighed with the
ranker's own by weights fitted on fit data (ranker.json "reading", scripts/train_ranker.py --reading).

The scorer reads only what the ranker puts first, so its cost is fixed whatever the size of the index; the
candidates it did not read follow all those it did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from embeddings.storage import database
from retrieval.ranker import FEATURES, WEIGHTS_FILE
from retrieval.scorer import Candidate, SentenceScorer, shipped_scorer

# Candidates read per question, set by the latency budget (warm p95 150 ms on the full index): the 6-layer
# scorer costs twice the 3-layer one per pair, so it reads 5 (p95 120-126 ms; reading 10 would cost about 50 ms
# more). On the held-out chat half reading 5 puts the gold first for 0.716 with the ranker, 4 for 0.703.
DEPTH = 5
UNREAD = 100.0  # in logits: a candidate the scorer did not read comes after every one it did
READ_FEATURES = (*FEATURES, "reader")


@dataclass(frozen=True)
class Reading:
    """The scorer's logit for each candidate (the lowest read logit for those it did not read), and which it read."""

    logits: np.ndarray
    read: np.ndarray


class ReadingRanker:
    """score = weights · (ranker features, scorer logit) for the candidates read; the others after them."""

    def __init__(self, scorer: SentenceScorer, weights: tuple[float, ...], depth: int = DEPTH):
        self.scorer, self.weights, self.depth = scorer, np.array(weights), depth

    def read(self, db, question: str, candidates: list, titles: list[str], ranker_scores: np.ndarray) -> Reading:
        """Read the `depth` candidates the ranker scores highest (`titles`: each candidate's headline)."""
        top = np.argsort(-ranker_scores, kind="stable")[: self.depth]
        logits = self.scorer.scores(question, as_read(db, [candidates[i] for i in top], [titles[i] for i in top]))
        column = np.full(len(candidates), float(logits.min()))
        column[top] = logits
        read = np.zeros(len(candidates), dtype=bool)
        read[top] = True
        return Reading(column, read)

    def scores(self, features: np.ndarray, reading: Reading) -> np.ndarray:
        return np.column_stack([features, reading.logits]) @ self.weights - UNREAD * ~reading.read


def as_read(db, candidates: list, titles: list[str]) -> list[Candidate]:
    """Stored sentences (anything with article_rowid, index and text) as the scorer reads them: with their
    headline and the sentence before them."""
    return [Candidate(c.text, title, database.previous_sentence(db, c.article_rowid, c.index))
            for c, title in zip(candidates, titles)]


@lru_cache(maxsize=1)
def shipped_reading() -> ReadingRanker | None:
    """The shipped scorer with the shipped reading weights, or None when either is missing."""
    scorer = shipped_scorer()
    saved = json.loads(WEIGHTS_FILE.read_text()).get("reading")
    if scorer is None or saved is None:
        return None
    return ReadingRanker(scorer, tuple(saved["weights"][name] for name in READ_FEATURES))
