"""Fit the answer ranker (retrieval/ranker.py) on half of SQuAD v1.1 dev and write retrieval/ranker.json.

Every article of SQuAD v1.1 dev is indexed (the ReQA setting: every sentence is a candidate). The
questions of every other article (sorted by title) fit a listwise logistic model: a softmax over each
question's candidates whose cross-entropy against "this candidate holds the gold answer" is minimised
(L-BFGS, small L2 penalty); the other half is held out. The script prints P@1 and MRR on the held-out
half for the learned ranker and for the reciprocal-rank fusion it replaces.
Usage: python scripts/train_ranker.py [--data DIR] [--limit N] [--index-dir DIR] [--dry-run]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from _training import question_evidence, training_main  # also puts the repository on sys.path
SQUAD_PARTS = [Path("qa") / f"squad_v1.1_dev.part{i:02d}.jsonl" for i in (1, 2, 3, 4)]
RRF_K = 60
L2 = 1e-3


def question_rows(pipeline, question) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Features, gold labels and the RRF baseline score of one question's candidates."""
    found = question_evidence(pipeline, question.question)
    if found is None:
        return None
    candidates, evidence = found
    gold_rowid = pipeline.index.db.execute("SELECT rowid FROM articles WHERE id = ?", (question.article_id,)).fetchone()[0]
    labels = np.array([c.article_rowid == gold_rowid and any(c.start <= a and b <= c.end for a, b in question.spans)
                       for c in candidates], dtype=float)
    dense_rank = np.empty(len(candidates))
    dense_rank[np.argsort(-evidence.dense, kind="stable")] = np.arange(len(candidates))
    rrf = 1 / (RRF_K + dense_rank) + np.array([1 / (RRF_K + c.lexical_rank) if c.lexical_rank is not None else 0.0
                                                for c in candidates])
    return evidence.features, labels, rrf


def ranks(groups: list[tuple], scores_of) -> dict[str, float]:
    """P@1 and MRR over questions, ranking each question's candidates by `scores_of(group)`."""
    reciprocal = [0.0] * len(groups)
    for i, group in enumerate(groups):
        order = np.argsort(-scores_of(group), kind="stable")
        hits = np.flatnonzero(group[1][order] == 1)
        reciprocal[i] = 1.0 / (hits[0] + 1) if len(hits) else 0.0
    return {"P@1": round(float(np.mean([r == 1.0 for r in reciprocal])), 4), "MRR": round(float(np.mean(reciprocal)), 4),
            "questions": len(groups)}


def fit_listwise(groups: list[tuple]) -> np.ndarray:
    """Weights maximising the softmax probability of the gold candidates, question by question."""
    from scipy.optimize import minimize

    lists = [(rows, labels / labels.sum()) for rows, labels, _ in groups if labels.sum() > 0]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = L2 * (w @ w), 2 * L2 * w
        for rows, target in lists:
            logits = rows @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            total -= (target * np.log(p + 1e-12)).sum() / len(lists)
            gradient -= rows.T @ (target - p) / len(lists)
        return total, gradient

    return minimize(loss, np.zeros(lists[0][0].shape[1]), jac=True, method="L-BFGS-B").x


def run(data: Path, limit: int | None, index_dir: Path) -> dict:
    """Index SQuAD v1.1 dev, compute features for the questions, fit on one half and test on the other."""
    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer
    from retrieval.evaluate import read_qa
    from retrieval.pipeline import Pipeline
    from retrieval.ranker import FEATURES, LearnedRanker

    articles, questions = read_qa([data / part for part in SQUAD_PARTS])
    encoder = make_encoder()
    Indexer(index_dir, encoder, show_progress=False).run(articles)
    pipeline = Pipeline(index_dir, encoder)
    train_titles = set(sorted(a.id for a in articles)[0::2])
    questions = questions[::max(1, len(questions) // limit)] if limit else questions
    groups = {True: [], False: []}
    for question in questions:
        rows = question_rows(pipeline, question)
        if rows is not None:
            groups[question.article_id in train_titles].append(rows)
    weights = fit_listwise(groups[True])
    ranker = LearnedRanker(tuple(weights))
    held_out = groups[False]
    return {"weights": dict(zip(FEATURES, map(float, weights))),
            "held_out": {"learned": ranks(held_out, lambda g: ranker.scores(g[0])),
                         "rank_fusion": ranks(held_out, lambda g: g[2])},
            "trained_on": {"data": "SQuAD v1.1 dev: questions of every other article (sorted by title)",
                           "questions": len(groups[True]), "date": dt.date.today().isoformat()}}


def main(argv: list[str] | None = None) -> int:
    return training_main(__doc__, SQUAD_PARTS, run, "ranker.json", default_limit=None, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
