"""Fit the abstention model (retrieval/abstention.py) on indexes of many sizes and write retrieval/abstention.json.

The same question must get the same decision whether its article sits in an index of one article or of
thousands, so the model is fitted on settings of many sizes (scripts/_fitting.py for the data):
- SQuAD 2.0 train's 10 articles: each alone, 3 of them, 5 of them, all 10. In each, the answerable
  questions of indexed articles should be answered; those of the other articles (off-corpus) and the
  unanswerable questions of indexed ones should not.
- The chat questions' fit half: over the whole chat corpus (2,241 articles; its off-corpus questions should
  be refused), over the sample articles alone and over the seed page alone (questions about articles
  not indexed should be refused).
The SQuAD settings together weigh as much as the chat settings together (as in train_ranker.py: the chat
questions are the ones the product is for), each setting of a kind the same, and within a setting the
answerable questions weigh half, the near misses (SQuAD 2.0's unanswerable questions, the chat set's
off-corpus ones) a quarter and the questions about articles not indexed a quarter.
Printed and saved: the held-out curve of answered-in-corpus against answered-off-corpus over the
threshold, on the chat test half in the same three chat settings (never fitted).
With --reading, the trained scorer reads the first candidates (ranker.json's "reading" weights order them) and a
second model joins the first one's logit with the scorer's best logit (abstention.READING_FEATURES), fitted on the
reader questions' calibrate part, which the scorer never read: over the 400 articles the reader questions are
about (answerable questions and near misses) and over the chat corpus, which holds none of their articles.
Saved as abstention.json's "reading" part with the held-out curve of the chat test half (as above) and of the
reader questions' test part in the same two settings.
Usage: python scripts/train_abstention.py [--data DIR] [--limit N] [--index-dir DIR] [--dry-run] [--reading]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from _fitting import (NEEDED, Setting, chat_articles, chat_corpus, chat_questions, every_kth, open_pipeline,
                      reader_questions, reader_setting, squad2_train)
from _training import training_main

PER_SETTING = 300  # questions of each kind asked per SQuAD setting (an even sample)


def squad_settings(data: Path, limit: int | None) -> list[Setting]:
    """SQuAD 2.0 train's articles indexed alone, 3, 5 and 10 at a time, each with its questions."""
    articles, questions = squad2_train(data)
    articles = sorted(articles, key=lambda a: a.id)
    groups = [[a] for a in articles] + [articles[0::3][:3], articles[1::2], articles]
    settings = []
    for group in groups:
        ids = {a.id for a in group}
        inside = [q for q in questions if q.article_id in ids]
        outside = [q for q in questions if q.article_id not in ids]
        asked = every_kth(inside, limit or PER_SETTING) + every_kth(outside, limit or PER_SETTING)
        settings.append(Setting(f"squad2-train-{'-'.join(sorted(a.id[:12] for a in group))[:80]}", group, asked))
    return settings


def chat_settings(data: Path, half: str) -> list[Setting]:
    """The chat questions of one half over the whole chat corpus, the sample alone and the seed page alone."""
    corpus, questions = chat_corpus(data), chat_questions(half)
    everything = [a for part in corpus.values() for a in part]
    return [Setting("chat", everything, questions), Setting("chat-sample", corpus["sample"], questions),
            Setting("chat-seed", corpus["seed"], questions)]


ANSWER, NEAR, AWAY = 0, 1, 2
# Within a setting: the questions to answer weigh half; those to refuse the other half, split evenly
# between near misses (about an indexed story, which does not say) and questions about stories not indexed.
KIND_SHARE = {ANSWER: 0.5, NEAR: 0.25, AWAY: 0.25}


def kind(question, setting: Setting) -> int:
    """ANSWER (its article is indexed and holds the answer), NEAR (no article answers it: SQuAD 2.0's
    unanswerable questions, the chat set's off-corpus ones) or AWAY (its article is not indexed)."""
    if question.impossible or not question.spans:
        return NEAR
    return ANSWER if question.article_id in setting.indexed else AWAY


def evidence_rows(work: Path, settings: list[Setting], encoder, features: tuple[str, ...],
                  **options) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each setting, the abstention evidence (`features`) of its questions and the kind of each (ANSWER,
    NEAR, AWAY); `options` go to the pipeline (a reading)."""
    out = []
    for setting in settings:
        pipeline = open_pipeline(work, setting, encoder, **options)
        rows, labels = [], []
        for question in setting.questions:
            found = pipeline.judge(question.question)
            rows.append([found[1].answerability[f] for f in features] if found else [0.0] * len(features))
            labels.append(kind(question, setting))
        out.append((np.array(rows), np.array(labels)))
    return out


def kind_weights(kinds: np.ndarray) -> np.ndarray:
    """Weights giving each kind of question of one setting its KIND_SHARE (shared out when a kind is absent)."""
    weights = np.zeros(len(kinds))
    for value, share in KIND_SHARE.items():
        chosen = kinds == value
        weights[chosen] = share / chosen.sum() if chosen.any() else 0.0
    return weights / weights.sum()


def curve(model, rows: list[tuple[np.ndarray, np.ndarray]], names: list[str]) -> list[dict]:
    """Answered-in-corpus and answered-off-corpus per held-out setting, over the confidence threshold."""
    out = []
    for threshold in np.round(np.arange(0.1, 0.95, 0.1), 2):
        point = {"min_confidence": float(threshold)}
        for name, (X, kinds) in zip(names, rows):
            y = kinds == ANSWER
            answered = np.array([model.probability(dict(zip(model.features, x))) >= threshold for x in X])
            point[name] = {"in_corpus": round(float(answered[y].mean()), 4) if y.any() else None,
                           "off_corpus": round(float(answered[~y].mean()), 4) if (~y).any() else None}
        out.append(point)
    return out


def fit(rows: list[tuple[np.ndarray, np.ndarray]], share: list[float], features: tuple[str, ...]):
    """One logistic model over the settings' evidence, each setting weighing its `share`, its kinds KIND_SHARE."""
    from sklearn.linear_model import LogisticRegression

    from retrieval.abstention import AnswerabilityModel

    X = np.vstack([x for x, _ in rows])
    y = np.concatenate([kinds == ANSWER for _, kinds in rows])
    weights = np.concatenate([kind_weights(kinds) * w for (_, kinds), w in zip(rows, share)])
    fitted = LogisticRegression(C=1.0, max_iter=5000).fit(X, y, sample_weight=weights * len(X) / weights.sum())
    return AnswerabilityModel(float(fitted.intercept_[0]), tuple(map(float, fitted.coef_[0])), features)


def run(data: Path, limit: int | None, work: Path, reading: bool = False) -> dict:
    """Gather evidence in every fitting setting, fit one logistic model, and draw the held-out curve."""
    from embeddings.encoder import make_encoder
    from retrieval.abstention import FEATURES

    if reading:
        return run_reading(data, work)
    encoder = make_encoder()
    fitting = squad_settings(data, limit) + chat_settings(data, "fit")
    rows = evidence_rows(work, fitting, encoder, FEATURES)
    chat = [s.name.startswith("chat") for s in fitting]
    model = fit(rows, [0.5 / (sum(chat) if is_chat else len(chat) - sum(chat)) for is_chat in chat], FEATURES)
    held_out = chat_settings(data, "test")
    return {"bias": model.bias, "weights": dict(zip(FEATURES, model.weights)),
            "held_out_curve": curve(model, evidence_rows(work, held_out, encoder, FEATURES),
                                    [s.name for s in held_out]),
            "trained_on": {"data": "SQuAD 2.0 train (first 10 articles; CC BY-SA 4.0) indexed 1, 3, 5 and 10 at a "
                                   "time, and the fit half of this project's chat questions over the chat corpus, "
                                   "the sample alone and the seed page alone",
                           "not_fitted_on": "SQuAD v1.1 dev, SQuAD 2.0 dev, WikiQA, TrecQA, the chat test half",
                           "settings": {s.name: len(s.questions) for s in fitting},
                           "ranker": "retrieval/ranker.json as of this fit (its scores are evidence here)",
                           "date": dt.date.today().isoformat()}}


def reader_settings(data: Path, half: str) -> list[Setting]:
    """A part of the reader questions over their 400 articles, and over the chat corpus (none of them there)."""
    return [reader_setting(data, half), Setting("chat", chat_articles(data), reader_questions(half))]


def run_reading(data: Path, work: Path) -> dict:
    """Fit the model joining the abstention model's logit with the scorer's best one on the calibrate part."""
    from embeddings.encoder import make_encoder
    from retrieval.abstention import READING_FEATURES, AnswerabilityModel
    from retrieval.reading import DEPTH, shipped_reading

    if shipped_reading() is None:
        raise SystemExit("train_abstention: --reading needs retrieval/scorer.onnx and ranker.json's \"reading\" "
                         "weights: run scripts/train_scorer.py and scripts/train_ranker.py --reading first")
    encoder, features = make_encoder(), READING_FEATURES
    options = {"reading": shipped_reading(), "abstention": AnswerabilityModel(0.0, (0.0,) * len(features), features)}
    rows = evidence_rows(work, reader_settings(data, "calibrate"), encoder, features, **options)
    model = fit([(np.vstack([x for x, _ in rows]), np.concatenate([k for _, k in rows]))], [1.0], features)
    held_out = chat_settings(data, "test") + reader_settings(data, "test")
    names = [s.name for s in held_out[:3]] + ["reader-test", "reader-test-over-chat"]
    return {"bias": model.bias, "weights": dict(zip(features, model.weights)), "read_per_question": DEPTH,
            "held_out_curve": curve(model, evidence_rows(work, held_out, encoder, features, **options), names),
            "trained_on": {"data": "the calibrate part of this project's reader questions (never read by the "
                                   "scorer) over the 400 articles of all reader questions and over the chat corpus",
                           "not_fitted_on": "everything else: the chat questions, the reader questions' fit and "
                                            "test parts, SQuAD, WikiQA, TrecQA",
                           "questions": len(reader_questions("calibrate")),
                           "date": dt.date.today().isoformat()}}


def main(argv: list[str] | None = None) -> int:
    return training_main(__doc__, NEEDED, run, "abstention.json", default_limit=None, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
