"""Should this question be answered at all? A small logistic model over three pieces of evidence.

- dense: how similar the best candidate sentence is to the question (the answerer's dense score);
- coverage: the IDF-weighted share of the question's content words found anywhere in the index
  ("chess", "opera": a question about a missing story names things the articles never mention);
- window: the largest IDF-weighted share of the question's words that one candidate sentence and its
  neighbours hold (the ranker's "window" feature). A question about a missing story may find a
  sentence that sounds alike, but no place in the articles that names what it asks about.

The weights are learned by scripts/train_abstention.py and shipped in abstention.json beside this file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from embeddings import database

WEIGHTS_FILE = Path(__file__).with_name("abstention.json")


def term_idf(db, terms: list[str], sentence_count: int) -> tuple[dict[str, float], dict[str, int]]:
    """Each term's IDF over the index's sentences, and how many sentences hold it."""
    frequencies = database.document_frequencies(db, terms)
    return {t: math.log((sentence_count + 1) / (frequencies[t] + 0.5)) for t in terms}, frequencies


def term_coverage(idf: dict[str, float], frequencies: dict[str, int]) -> float:
    """IDF-weighted fraction of the terms found in the index (1.0 when the question has no content words)."""
    total = sum(idf.values())
    return sum(v for t, v in idf.items() if frequencies[t] > 0) / total if total > 0 else 1.0


@dataclass(frozen=True)
class AnswerabilityModel:
    """P(answerable) = sigmoid(bias + w_dense · dense + w_coverage · coverage + w_window · window)."""

    bias: float
    w_dense: float
    w_coverage: float
    w_window: float

    def probability(self, dense: float, coverage: float, window: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self._logit_without_dense(coverage, window) + self.w_dense * dense)))

    def min_dense(self, coverage: float, window: float, min_confidence: float) -> float:
        """The dense score a sentence needs for P(answerable) >= min_confidence, given the other evidence."""
        logit = math.log(min_confidence / (1.0 - min_confidence))
        return (logit - self._logit_without_dense(coverage, window)) / self.w_dense

    def _logit_without_dense(self, coverage: float, window: float) -> float:
        return self.bias + self.w_coverage * coverage + self.w_window * window


@lru_cache(maxsize=1)
def shipped_model() -> AnswerabilityModel:
    """The weights learned by scripts/train_abstention.py (see abstention.json for where they came from)."""
    weights = json.loads(WEIGHTS_FILE.read_text())["weights"]
    return AnswerabilityModel(**weights)
