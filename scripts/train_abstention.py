"""Fit the abstention model (retrieval/abstention.py) on SQuAD 2.0 and write retrieval/abstention.json.

Half of the SQuAD 2.0 dev-half titles are indexed (sorted, alternating). Questions fall in three
groups: (a) answerable on indexed titles, (b) SQuAD's unanswerable ones on indexed titles, (c) any
question on titles not indexed. A logistic regression on (dense, coverage) is fitted to tell (a)
from (c) on half the questions and reported on the other half; (b) is reported as a curve.
Usage: python scripts/train_abstention.py [--data DIR] [--limit N] [--index-dir DIR] [--dry-run]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import numpy as np

from _training import training_main  # also puts the repository on sys.path
SQUAD_PARTS = [Path("qa") / f"squad_v2.0_cs224n_dev.part{i:02d}.jsonl" for i in (1, 2, 3)]
SEED = 0


def question_groups(questions, indexed: set[str], limit: int) -> dict[str, list]:
    """A seeded sample of at most `limit` questions from each group."""
    groups = {"answerable": [], "unanswerable": [], "off_topic": []}
    for q in questions:
        name = "off_topic" if q.article_id not in indexed else "unanswerable" if q.impossible else "answerable"
        groups[name].append(q)
    rng = random.Random(SEED)
    return {name: rng.sample(rows, min(limit, len(rows))) for name, rows in groups.items()}


def features(pipeline, question: str) -> tuple[float, float]:
    """(best dense score, coverage) exactly as the answerer computes them."""
    vector = pipeline.encoder.encode([question])[0]
    candidates = pipeline.retriever.run(pipeline.index, question, vector)
    if not candidates:
        return 0.0, 0.0
    evidence = pipeline.answerer.evidence(pipeline.index, question, vector, candidates)
    return float(evidence.dense.max()), evidence.coverage


def fit(train: dict[str, np.ndarray]):
    """Logistic regression: answerable (a) = 1 against off-topic (c) = 0."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([train["answerable"], train["off_topic"]])
    y = np.r_[np.ones(len(train["answerable"])), np.zeros(len(train["off_topic"]))]
    model = LogisticRegression().fit(X, y)
    return {"bias": float(model.intercept_[0]), "w_dense": float(model.coef_[0][0]),
            "w_coverage": float(model.coef_[0][1])}


def answered_rates(weights: dict, test: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """Share of each group the model would answer at P(answerable) >= threshold."""
    from retrieval.abstention import AnswerabilityModel

    model = AnswerabilityModel(**weights)
    return {name: round(float(np.mean([model.probability(d, c) >= threshold for d, c in rows])), 4)
            for name, rows in test.items()}


def run(data: Path, limit: int, index_dir: Path) -> dict:
    """Index half the titles, compute features for every sampled question, fit and evaluate."""
    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer
    from retrieval.evaluate import read_qa
    from retrieval.pipeline import Pipeline

    articles, questions = read_qa([data / part for part in SQUAD_PARTS])
    indexed = set(sorted(a.id for a in articles)[0::2])
    encoder = make_encoder()
    Indexer(index_dir, encoder, show_progress=False).run([a for a in articles if a.id in indexed])
    pipeline = Pipeline(index_dir, encoder)
    groups = question_groups(questions, indexed, limit)
    feats = {name: np.array([features(pipeline, q.question) for q in rows]) for name, rows in groups.items()}
    train = {name: rows[: len(rows) // 2] for name, rows in feats.items()}
    test = {name: rows[len(rows) // 2 :] for name, rows in feats.items()}
    weights = fit(train)
    curve = [{"min_confidence": t, **answered_rates(weights, test, t)} for t in np.round(np.arange(0.1, 0.95, 0.1), 2)]
    return {"weights": weights, "trained_on": {
        "data": "SQuAD 2.0 dev half (CS224n), " + ", ".join(p.name for p in SQUAD_PARTS),
        "indexed_titles": sorted(indexed), "questions_per_group": {n: len(r) for n, r in groups.items()},
        "split": "first half of each seeded sample fits, second half tests", "date": dt.date.today().isoformat()},
        "held_out_at_0.5": answered_rates(weights, test, 0.5), "held_out_curve": curve}


def main(argv: list[str] | None = None) -> int:
    return training_main(__doc__, SQUAD_PARTS, run, "abstention.json", default_limit=600, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
