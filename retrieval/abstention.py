"""Should this question be answered at all? A small logistic model over evidence that keeps its meaning
whatever the size of the index.

Per question, in FEATURES order:
- top_dense, best_dense: the dense score of the ranker's first choice, and the best over all candidates;
- top_focus, best_focus: the same for the question's focus (ranker.py: the question less its story's
  headline words): a near miss ("how much is a monthly tram pass") finds its story but no sentence
  about what it asks of it;
- dense_excess: the best passage score minus what unrelated questions (unrelated_questions.txt) score on
  this same index: in a large index everything finds some sentence that sounds alike, in a small one
  nothing does, and the difference is what the question itself earns;
- coverage: the share of the question's content words (weighted by rarity in English) found anywhere in
  the index ("chess", "opera": a question about a missing story names things the articles never mention);
- missing, unsupported: how rare in English the rarest question word is that the index holds nowhere,
  and that the first choice with its neighbours and headline lacks ("chess" in a question about a
  chess championship, asked of articles about a rowing one): one rare word missing weighs more than
  its share of the question says;
- top_window, best_window: that share in the first choice with its neighbours and headline, and the best
  such share over the candidates: a question about a missing story may find a sentence that sounds
  alike, but no place in the articles that names what it asks about;
- top_score, margin: the ranker's logit for its first choice and its lead over the second;
- with the trained scorer reading the first candidates (retrieval/reading.py), a second model joins this one's
  logit ("answerable") with the scorer's best logit ("best_reader"): a near miss finds its story but no
  sentence that reads as an answer. It is fitted on questions the scorer never read (the reader questions'
  calibrate part): on those it was trained on, its logits separate answerable from not far better than on new
  ones (AUC 0.93 against 0.71 on the chat questions), and a model fitted there trusts it too much.
The weights are fitted by scripts/train_abstention.py on indexes of many sizes and shipped in
abstention.json beside this file, which records the data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from embeddings.storage import database
from retrieval.words import query_terms, rarity, stem, stems

WEIGHTS_FILE = Path(__file__).with_name("abstention.json")
UNRELATED_FILE = Path(__file__).with_name("unrelated_questions.txt")
FEATURES = ("top_dense", "best_dense", "top_focus", "best_focus", "dense_excess", "coverage", "missing", "top_window",
            "best_window", "unsupported", "top_score", "margin")
READING_FEATURES = ("answerable", "best_reader")


def coverage(db, question: str) -> tuple[float, float]:
    """The rarity-weighted share of the question's content words that some sentence of the index holds
    (1.0 without any), and the rarity of the rarest word it holds nowhere (0.0 when none is missing)."""
    terms = query_terms(question)
    found = database.document_frequencies(db, terms, cap=1)
    total = sum(rarity(t) for t in terms)
    share = sum(rarity(t) for t in terms if found[t]) / total if total > 0 else 1.0
    return share, max((rarity(t) for t in terms if not found[t]), default=0.0)


def unsupported(question: str, support: str) -> float:
    """The rarity of the rarest content word of the question that `support` (a sentence with its neighbours
    and headline) lacks, stems compared; 0.0 when it lacks none."""
    held = stems(support)
    return max((rarity(t) for t in query_terms(question) if stem(t) not in held), default=0.0)


def unrelated_questions() -> list[str]:
    """Questions no news collection is about: what they score on an index is its level of chance similarity."""
    return [line.strip() for line in UNRELATED_FILE.read_text().splitlines() if line.strip()]


def chance_score(index, vectors: np.ndarray) -> float:
    """The median best passage score of the unrelated questions' `vectors` on `index` (0 when it is empty)."""
    if index.passage_vectors.ntotal == 0:
        return 0.0
    return float(np.median(index.passage_vectors.best_scores(vectors)))


@dataclass(frozen=True)
class AnswerabilityModel:
    """P(answerable) = sigmoid(bias + weights · evidence), the evidence named by FEATURES."""

    bias: float
    weights: tuple[float, ...]
    features: tuple[str, ...] = FEATURES

    def logit(self, evidence: dict[str, float]) -> float:
        return self.bias + sum(w * evidence[name] for w, name in zip(self.weights, self.features))

    def probability(self, evidence: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.logit(evidence)))))


@lru_cache(maxsize=2)
def shipped_model(reading: bool = False) -> AnswerabilityModel:
    """The weights learned by scripts/train_abstention.py (see abstention.json for where they came from); with
    `reading`, the model that joins their logit with the scorer's (abstention.json "reading")."""
    saved = json.loads(WEIGHTS_FILE.read_text())
    if not reading:
        return AnswerabilityModel(saved["bias"], tuple(saved["weights"][name] for name in FEATURES))
    if "reading" not in saved:
        raise RuntimeError(f"{WEIGHTS_FILE.name} holds no weights fitted with the scorer: run train_abstention.py --reading")
    saved = saved["reading"]
    return AnswerabilityModel(saved["bias"], tuple(saved["weights"][name] for name in READING_FEATURES),
                              READING_FEATURES)
