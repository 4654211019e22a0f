"""Fit the answer ranker (retrieval/ranker.py) and write retrieval/ranker.json.

Fitted on SQuAD 2.0 train (its first 10 articles, all indexed, the answerable questions) and on the fit
half of the chat questions over the chat corpus (scripts/_fitting.py): a listwise logistic model, a
softmax over each question's candidates whose cross-entropy against "this candidate is a gold
sentence" is minimised (L-BFGS, small L2 penalty). The chat questions are few but are the questions
the product is for, so together they carry CHAT_SHARE of the loss (a half: the best of 0, 1/3, 1/2 and
4/5 in two-fold cross-validation by article within the chat fit half). Printed and saved with the weights:
P@1 and MRR on the chat test half (never fitted) for the learned ranker, plain dense cosine and
reciprocal-rank fusion of the dense and BM25 ranks.
With --reading, the trained scorer (retrieval/scorer.onnx) reads the ranker's first candidates and the weights
of the ranker's evidence plus the scorer's logit are fitted the same way, on the candidates it read, with the
fit half of the reader questions joining the chat questions' share; written as ranker.json's "reading" part.
Usage: python scripts/train_ranker.py [--data DIR] [--limit N] [--index-dir DIR] [--dry-run] [--reading]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from _fitting import (NEEDED, Setting, chat_articles, chat_questions, every_kth, gold_labels, open_pipeline,
                      squad2_train)
from _training import training_main
from retrieval.ranker import rank_positions

RRF_K = 60
L2 = 1e-3
CHAT_SHARE = 1 / 2


def question_rows(pipeline, question) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Features, gold labels, dense scores and the RRF baseline of one question's candidates (with a reading:
    the candidates the scorer read, the scorer's logit as the last feature)."""
    found = pipeline.judge(question.question)
    if found is None:
        return None
    candidates, judgement = found
    evidence, reading = judgement.evidence, judgement.reading
    dense_rank = rank_positions(evidence.dense)
    rrf = 1 / (RRF_K + dense_rank) + np.array([1 / (RRF_K + c.lexical_rank) if c.lexical_rank is not None else 0.0
                                                for c in candidates])
    labels = np.array(gold_labels(pipeline, question, candidates), dtype=float)
    if reading is None:
        return evidence.features, labels, evidence.features[:, 0], rrf
    rows = np.column_stack([evidence.features, reading.logits])[reading.read]
    return rows, labels[reading.read], rows[:, 0], rrf[reading.read]


def ranks(groups: list[tuple], scores_of) -> dict[str, float]:
    """P@1 and MRR over questions, ranking each question's candidates by `scores_of(group)`."""
    reciprocal = [0.0] * len(groups)
    for i, group in enumerate(groups):
        order = np.argsort(-scores_of(group), kind="stable")
        hits = np.flatnonzero(group[1][order] == 1)
        reciprocal[i] = 1.0 / (hits[0] + 1) if len(hits) else 0.0
    return {"P@1": round(float(np.mean([r == 1.0 for r in reciprocal])), 4), "MRR": round(float(np.mean(reciprocal)), 4),
            "questions": len(groups)}


def fit_listwise(lists: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """Weights maximising the weighted softmax probability of the gold candidates, question by question."""
    from scipy.optimize import minimize

    lists = [(rows, labels / labels.sum(), weight) for rows, labels, weight in lists if labels.sum() > 0]
    total_weight = sum(weight for *_, weight in lists)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = L2 * (w @ w), 2 * L2 * w
        for rows, target, weight in lists:
            logits = rows @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            total -= weight * (target * np.log(p + 1e-12)).sum() / total_weight
            gradient -= weight * rows.T @ (target - p) / total_weight
        return total, gradient

    return minimize(loss, np.zeros(lists[0][0].shape[1]), jac=True, method="L-BFGS-B").x


def groups_of(pipeline, questions) -> list[tuple]:
    """The candidate groups of the answerable questions that have candidates."""
    rows = (question_rows(pipeline, q) for q in questions if q.spans and not q.impossible)
    return [r for r in rows if r is not None]


def run(data: Path, limit: int | None, work: Path, reading: bool = False) -> dict:
    """Gather candidates for the fitting questions, fit, and score the chat test half."""
    from embeddings.encoder import make_encoder
    from retrieval.ranker import FEATURES, LearnedRanker

    if reading:
        return run_reading(data, limit, work)
    encoder = make_encoder()
    squad_articles, squad_questions = squad2_train(data)
    squad = groups_of(open_pipeline(work, Setting("squad2-train", squad_articles, []), encoder),
                      every_kth(squad_questions, limit))
    chat_pipeline = open_pipeline(work, Setting("chat", chat_articles(data), []), encoder)
    chat = groups_of(chat_pipeline, chat_questions("fit"))
    chat_weight = CHAT_SHARE / (1 - CHAT_SHARE) * len(squad) / max(len(chat), 1)
    weights = fit_listwise([(r, l, 1.0) for r, l, *_ in squad] + [(r, l, chat_weight) for r, l, *_ in chat])
    ranker = LearnedRanker(tuple(weights))
    held_out = groups_of(chat_pipeline, chat_questions("test"))
    return {"weights": dict(zip(FEATURES, map(float, weights))),
            "held_out": {"set": "chat questions, test half (tests/data/chat_questions.test.jsonl), chat corpus",
                         "learned": ranks(held_out, lambda g: ranker.scores(g[0])),
                         "dense_cosine": ranks(held_out, lambda g: g[2]),
                         "rank_fusion": ranks(held_out, lambda g: g[3])},
            "fit": {"learned": ranks(squad + chat, lambda g: ranker.scores(g[0]))},
            "trained_on": {"data": "SQuAD 2.0 train (first 10 articles, answerable questions; CC BY-SA 4.0) and "
                                   "the fit half of this project's chat questions (tests/data/chat_questions.fit.jsonl)",
                           "not_fitted_on": "SQuAD v1.1 dev, WikiQA, TrecQA, the chat test half",
                           "questions": {"squad2_train": len(squad), "chat_fit": len(chat)},
                           "chat_share_of_loss": round(CHAT_SHARE, 4), "date": dt.date.today().isoformat()}}


def run_reading(data: Path, limit: int | None, work: Path) -> dict:
    """Fit the weights of the ranker's evidence and the scorer's logit on the candidates the scorer reads."""
    from _fitting import reader_questions, reader_setting
    from embeddings.encoder import make_encoder
    from retrieval.abstention import READING_FEATURES, AnswerabilityModel
    from retrieval.ranker import LearnedRanker, shipped_ranker
    from retrieval.reading import DEPTH, READ_FEATURES, ReadingRanker
    from retrieval.scorer import SentenceScorer, model_card

    encoder, base = make_encoder(), shipped_ranker()
    options = {"reading": ReadingRanker(SentenceScorer(), (*base.weights, 0.0)),  # read in the ranker's order
               "abstention": AnswerabilityModel(0.0, (0.0,) * len(READING_FEATURES), READING_FEATURES)}
    squad_articles, squad_questions = squad2_train(data)
    squad = groups_of(open_pipeline(work, Setting("squad2-train", squad_articles, []), encoder, **options),
                      every_kth(squad_questions, limit))
    chat_pipeline = open_pipeline(work, Setting("chat", chat_articles(data), []), encoder, **options)
    reader_pipeline = open_pipeline(work, reader_setting(data, "fit"), encoder, **options)
    chat = groups_of(chat_pipeline, chat_questions("fit")) + groups_of(reader_pipeline, reader_questions("fit"))
    chat_weight = CHAT_SHARE / (1 - CHAT_SHARE) * len(squad) / max(len(chat), 1)
    weights = fit_listwise([(r, l, 1.0) for r, l, *_ in squad] + [(r, l, chat_weight) for r, l, *_ in chat])
    fitted, alone = LearnedRanker(tuple(weights)), LearnedRanker((*base.weights, 0.0))
    held_out = {"chat": groups_of(chat_pipeline, chat_questions("test")),
                "reader": groups_of(reader_pipeline, reader_questions("test"))}
    return {"weights": dict(zip(READ_FEATURES, map(float, weights))), "depth": DEPTH,
            "held_out": {name: {"with_reading": ranks(groups, lambda g: fitted.scores(g[0])),
                                "ranker_alone": ranks(groups, lambda g: alone.scores(g[0])),
                                "scorer_alone": ranks(groups, lambda g: g[0][:, -1])}
                         for name, groups in held_out.items()},
            "trained_on": {"data": "SQuAD 2.0 train (first 10 articles, answerable questions; CC BY-SA 4.0), the fit "
                                   "halves of this project's chat questions and reader questions",
                           "not_fitted_on": "SQuAD v1.1 dev, WikiQA, TrecQA, the chat and reader test halves",
                           "questions": {"squad2_train": len(squad), "chat_and_reader_fit": len(chat)},
                           "scorer": {"date": model_card().get("date"), "training": model_card().get("training")},
                           "date": dt.date.today().isoformat()}}


def main(argv: list[str] | None = None) -> int:
    return training_main(__doc__, NEEDED, run, "ranker.json", default_limit=None, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
