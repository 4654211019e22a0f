"""Should this question be answered at all? A small logistic model over two pieces of evidence.

- dense: how similar the best candidate sentence is to the question (the answerer's dense score);
- coverage: the IDF-weighted share of the question's content words that occur anywhere in the index.
  A question about a missing story names things ("chess", "opera") the articles never mention.

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
    """P(answerable) = sigmoid(bias + w_dense · dense + w_coverage · coverage)."""

    bias: float
    w_dense: float
    w_coverage: float

    def probability(self, dense: float, coverage: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self.bias + self.w_dense * dense + self.w_coverage * coverage)))

    def min_dense(self, coverage: float, min_confidence: float) -> float:
        """The dense score a sentence needs for P(answerable) >= min_confidence, given the coverage."""
        logit = math.log(min_confidence / (1.0 - min_confidence))
        return (logit - self.bias - self.w_coverage * coverage) / self.w_dense


@lru_cache(maxsize=1)
def shipped_model() -> AnswerabilityModel:
    """The weights learned on SQuAD 2.0 (see abstention.json for where they came from)."""
    weights = json.loads(WEIGHTS_FILE.read_text())["weights"]
    return AnswerabilityModel(**weights)
