"""Fit the abstention model (retrieval/abstention.py) on SQuAD v1.1 dev and write retrieval/abstention.json.

The off-corpus split of the quality benchmark: every other title of SQuAD v1.1 dev (sorted) is
indexed, as `newsdesk eval --half` does, and questions about the other titles should get "not
covered". Titles are dealt alternately into two folds, among the indexed and among the missing
ones; a logistic regression of "its article is indexed" on (best dense score, coverage, best window share) is
fitted on the questions of fold 0 and reported on fold 1, articles it never saw, as a curve of
answered-in-corpus against answered-off-corpus over the confidence threshold.
Usage: python scripts/train_abstention.py [--data DIR] [--limit N] [--index-dir DIR] [--dry-run]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from _training import question_evidence, training_main  # also puts the repository on sys.path
SQUAD_PARTS = [Path("qa") / f"squad_v1.1_dev.part{i:02d}.jsonl" for i in (1, 2, 3, 4)]


def features(pipeline, question: str) -> tuple[float, float, float]:
    """(best dense score, coverage, best window share) as the answerer computes them; zeros without candidates."""
    found = question_evidence(pipeline, question)
    if found is None:
        return 0.0, 0.0, 0.0
    evidence = found[1]
    return float(evidence.dense.max()), evidence.coverage, evidence.best_window


def folds(titles: list[str], indexed: set[str]) -> dict[str, int]:
    """Fold 0 or 1 for each title, alternating separately among indexed and missing titles."""
    fold = {t: k % 2 for k, t in enumerate(sorted(indexed))}
    return fold | {t: k % 2 for k, t in enumerate(sorted(set(titles) - indexed))}


def answered_rates(weights: dict, X: np.ndarray, in_corpus: np.ndarray, threshold: float) -> dict[str, float]:
    """Share of in-corpus and of off-corpus questions the model would answer at P(answerable) >= threshold."""
    from retrieval.abstention import AnswerabilityModel

    model = AnswerabilityModel(**weights)
    answered = np.array([model.probability(*row) >= threshold for row in X])
    return {"in_corpus": round(float(answered[in_corpus].mean()), 4),
            "off_corpus": round(float(answered[~in_corpus].mean()), 4)}


def run(data: Path, limit: int | None, index_dir: Path) -> dict:
    """Index half the titles, compute features for the questions, fit on fold 0 and evaluate on fold 1."""
    from sklearn.linear_model import LogisticRegression

    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer
    from retrieval.evaluate import read_qa
    from retrieval.pipeline import Pipeline

    articles, questions = read_qa([data / part for part in SQUAD_PARTS])
    indexed = {a.id for a in sorted(articles, key=lambda a: a.id)[0::2]}
    encoder = make_encoder()
    Indexer(index_dir, encoder, show_progress=False).run([a for a in articles if a.id in indexed])
    pipeline = Pipeline(index_dir, encoder)
    questions = questions[::max(1, len(questions) // limit)] if limit else questions
    fold = folds([a.id for a in articles], indexed)
    X = np.array([features(pipeline, q.question) for q in questions])
    in_corpus = np.array([q.article_id in indexed for q in questions])
    fit_rows = np.array([fold[q.article_id] == 0 for q in questions])
    model = LogisticRegression().fit(X[fit_rows], in_corpus[fit_rows])
    weights = {"bias": float(model.intercept_[0]), "w_dense": float(model.coef_[0][0]),
               "w_coverage": float(model.coef_[0][1]), "w_window": float(model.coef_[0][2])}
    held_out = X[~fit_rows], in_corpus[~fit_rows]
    curve = [{"min_confidence": t, **answered_rates(weights, *held_out, t)} for t in np.round(np.arange(0.1, 0.95, 0.1), 2)]
    return {"weights": weights, "trained_on": {
        "data": "SQuAD v1.1 dev, " + ", ".join(p.name for p in SQUAD_PARTS), "indexed_titles": sorted(indexed),
        "questions": {"fit": int(fit_rows.sum()), "held_out": int((~fit_rows).sum())},
        "split": "titles dealt alternately into two folds (indexed and missing separately); fold 0 fits, fold 1 tests",
        "date": dt.date.today().isoformat()}, "held_out_curve": curve}


def main(argv: list[str] | None = None) -> int:
    return training_main(__doc__, SQUAD_PARTS, run, "abstention.json", default_limit=None, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
