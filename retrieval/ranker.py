"""A learned ranker over answer candidates: a few pieces of evidence per sentence, weighed by logistic regression.

The evidence for each candidate sentence, in FEATURES order:
- sentence, passage: cosine of the question with the sentence and with its best passage;
- lexical: 1 / (1 + BM25 rank) among the lexical matches, 0 when BM25 did not match it;
- dense_rank: 1 / (1 + rank) by the blended dense score;
- overlap: IDF-weighted share of the question's content words in the sentence (5-letter prefixes as stems);
- window: the same share in the sentence with its neighbours, since an answer sentence often leaves
  the question's subject to the sentence before it ("He said ...");
- new_number: the sentence holds a number the question does not (an answer to "how many", "when");
- wants_number: new_number, counted only when the question asks for a number or a time;
- length: log(1 + words), since very short sentences rarely answer.
The weights are fitted by scripts/train_ranker.py on half of SQuAD v1.1 dev and shipped in ranker.json:
a softmax over each question's candidates (listwise), since only the order within a question matters.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FEATURES = ("sentence", "passage", "lexical", "dense_rank", "overlap", "window", "new_number", "wants_number",
            "length")
WEIGHTS_FILE = Path(__file__).with_name("ranker.json")
_NUMBER_QUESTION = re.compile(r"\bhow (many|much|long|old|far|often)\b|\bwhat year\b|\bwhen\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def features(question: str, texts: list[str], windows: list[str], sentence_scores: np.ndarray,
             passage_scores: np.ndarray, lexical_ranks: list[int | None], dense: np.ndarray,
             idf: dict[str, float]) -> np.ndarray:
    """One row of FEATURES per candidate sentence (`windows`: each with its neighbours)."""
    dense_rank = np.empty(len(dense))
    dense_rank[np.argsort(-dense, kind="stable")] = np.arange(len(dense))
    total = sum(idf.values()) or 1.0
    asked_words = set(_WORD.findall(question.lower()))
    wants_number = bool(_NUMBER_QUESTION.search(question))
    rows = []
    for text, window, rank in zip(texts, windows, lexical_ranks):
        words = _WORD.findall(text.lower())
        new_number = float(any(any(ch.isdigit() for ch in w) and w not in asked_words for w in words))
        rows.append((1.0 / (1 + rank) if rank is not None else 0.0, _share(idf, words, total),
                     _share(idf, _WORD.findall(window.lower()), total), new_number, new_number * wants_number,
                     math.log1p(len(words))))
    extra = np.array(rows, dtype=float).reshape(len(texts), 6)
    return np.column_stack([sentence_scores, passage_scores, extra[:, 0], 1.0 / (1 + dense_rank), extra[:, 1:]])


def _share(idf: dict[str, float], words: list[str], total: float) -> float:
    """IDF-weighted share of the question's terms among `words`, matching on 5-letter prefixes."""
    stems = {w[:5] for w in words}
    return sum(v for t, v in idf.items() if t[:5] in stems) / total


@dataclass(frozen=True)
class LearnedRanker:
    """score = weights · features, a logit within one question's candidates; only the order matters."""

    weights: tuple[float, ...]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return rows @ np.array(self.weights)


@lru_cache(maxsize=1)
def shipped_ranker() -> LearnedRanker:
    """The weights fitted on SQuAD v1.1 dev (see ranker.json for how and what they scored)."""
    saved = json.loads(WEIGHTS_FILE.read_text())
    return LearnedRanker(tuple(saved["weights"][name] for name in FEATURES))
