"""A learned ranker over answer candidates: a few pieces of evidence per sentence, weighed by logistic regression.

The evidence for each candidate sentence, in FEATURES order:
- sentence, passage: cosine of the question with the sentence and with its best passage;
- focus: cosine with the sentence of the question less the words of its story's headline (the headline
  of the best dense candidate's article): within one story, the lead sentence matches every question
  about the story, and what tells the right sentence is the rest ("did anyone get hurt");
- focus_names: the same with only the headline's names taken out, which keeps a verb the headline
  shares with the question ("what did tillerson urge china to do" under "US urges China to ...");
- in_article: 1 / (1 + rank) of the sentence among the candidates of its own article, by sentence cosine;
- lexical: 1 / (1 + BM25 rank) among the lexical matches, 0 when BM25 did not match it;
- dense_rank: 1 / (1 + rank) by the blended dense score;
- overlap: share of the question's content words (stems, weighted by rarity in English) in the sentence;
- window: the same share in the sentence with its neighbours and its headline, since an answer sentence
  often leaves the question's subject to the sentence before it ("He said ...") or to the headline;
- headline: the same share in the article's title ("who started kestrel robotics" is answered by
  "Kestrel was founded ... by ...", under a headline that names Kestrel Robotics);
- type_name, type_place, type_time, type_number: the question asks for that kind of answer (who,
  where, when, how many) and the sentence holds one beyond the question's words (retrieval/answer_types.py).
No feature counts length, so a short complete answer ("The line cost $310 million to build.") is not sunk.
The weights are fitted by scripts/train_ranker.py and shipped in ranker.json (which records the data):
a softmax over each question's candidates (listwise), since only the order within a question matters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.answer_types import TYPES, expected_type, types_held
from retrieval.words import share, stems, term_weights, words

FEATURES = ("sentence", "passage", "focus", "focus_names", "in_article", "lexical", "dense_rank", "overlap", "window", "headline",
            *(f"type_{kind}" for kind in TYPES))
WEIGHTS_FILE = Path(__file__).with_name("ranker.json")


@dataclass(frozen=True)
class Sentences:
    """The candidates as the ranker reads them, one entry each."""

    texts: list[str]
    windows: list[str]  # the sentence with its neighbours
    titles: list[str]  # its article's headline
    articles: list[int]  # its article's row id
    lexical_ranks: list[int | None]


def features(question: str, sentences: Sentences, scores: "DenseScores") -> np.ndarray:
    """One row of FEATURES per candidate sentence."""
    weights = term_weights(question)
    asked, asked_words = expected_type(question), set(words(question))
    rows = []
    for text, window, title, rank in zip(sentences.texts, sentences.windows, sentences.titles, sentences.lexical_ranks):
        held = types_held(text, asked_words) if asked else set()
        rows.append((1.0 / (1 + rank) if rank is not None else 0.0, share(weights, stems(text)),
                     share(weights, stems(window) | stems(title)), share(weights, stems(title)),
                     *(float(asked == kind and kind in held) for kind in TYPES)))
    extra = np.array(rows, dtype=float).reshape(len(sentences.texts), 4 + len(TYPES))
    within = 1.0 / (1 + _ranks_within(scores.sentence, sentences.articles))
    return np.column_stack([scores.sentence, scores.passage, scores.focus, scores.focus_names, within, extra[:, 0],
                            1.0 / (1 + rank_positions(scores.dense)), extra[:, 1:]])


@dataclass(frozen=True)
class DenseScores:
    """Each candidate's cosines: with the sentence, its best passage, the question's focus, and their blend."""

    sentence: np.ndarray
    passage: np.ndarray
    focus: np.ndarray
    focus_names: np.ndarray
    dense: np.ndarray


def rank_positions(values: np.ndarray) -> np.ndarray:
    """0-based rank of each value, highest first."""
    rank = np.empty(len(values))
    rank[np.argsort(-values, kind="stable")] = np.arange(len(values))
    return rank


def _ranks_within(values: np.ndarray, groups: list[int]) -> np.ndarray:
    """0-based rank of each value among the values of its group, highest first."""
    rank = np.empty(len(values))
    keys = np.array(groups)
    for group in set(groups):
        members = np.flatnonzero(keys == group)
        rank[members] = rank_positions(values[members])
    return rank


@dataclass(frozen=True)
class LearnedRanker:
    """score = weights · features, a logit within one question's candidates; only the order matters."""

    weights: tuple[float, ...]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return rows @ np.array(self.weights)


@lru_cache(maxsize=1)
def shipped_ranker() -> LearnedRanker:
    """The shipped weights (ranker.json says what they were fitted on and what they scored)."""
    saved = json.loads(WEIGHTS_FILE.read_text())
    return LearnedRanker(tuple(saved["weights"][name] for name in FEATURES))
