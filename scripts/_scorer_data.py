"""What the sentence scorer learns from: questions, their gold sentences, and the candidates the product's own
retriever and ranker put first (hard negatives), mined once per index and kept as JSON lines.

Sources (all fitted on; none is reported):
- squad2-train: SQuAD 2.0 train, its first 10 articles (CC BY-SA), unanswerable questions as near misses;
- squad2-dev-half: the CS224n half of SQuAD 2.0 dev (16 articles, all of them also in SQuAD v1.1 dev: so
  ReQA-SQuAD is reported on the other 32 articles of v1.1 dev, REQA_HELD_OUT);
- chat: the fit half of this project's chat questions over the chat corpus (sample, seed page, BBC, Reuters);
- reader: the fit half of the reader questions (tests/data/reader_questions.fit.jsonl) over Reuters, ABC and
  real article pages (no BBC: it is kept for evaluation).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from _fitting import (Setting, chat_articles, chat_questions, gold_labels, gold_rows, open_pipeline,
                      reader_questions, reader_setting, squad2_train)

SQUAD2_DEV_HALF = [Path("qa") / f"squad_v2.0_cs224n_dev.part{i:02d}.jsonl" for i in (1, 2, 3)]
SQUAD1_DEV = [Path("qa") / f"squad_v1.1_dev.part{i:02d}.jsonl" for i in (1, 2, 3, 4)]
DEPTH = 20  # candidates mined per question, in the ranker's order (the product reads reading.DEPTH of them)
HARD = 3  # hard negatives per question: the ranker's best non-gold candidates (two first, one further down)


@dataclass
class Ranked:
    """One question's candidates in the ranker's order, as the scorer reads them, with gold labels."""

    source: str
    question: str
    impossible: bool
    texts: list[str]  # scorer.Candidate.pair_text() of each candidate
    labels: list[bool]
    gold: list[str]  # the gold sentences' pair texts (also when the retriever missed them)


def squad2_dev_half(data: Path) -> tuple[list, list]:
    """The CS224n SQuAD 2.0 dev half: 6,078 questions, 3,168 of them unanswerable, over 16 Wikipedia articles."""
    from retrieval.evaluate import read_qa

    return read_qa([data / p for p in SQUAD2_DEV_HALF])


def reqa_held_out(data: Path) -> set[str]:
    """The SQuAD v1.1 dev articles the scorer never saw (not in the CS224n half): where ReQA-SQuAD is reported."""
    seen = {json.loads(line)["context_title"] for p in SQUAD2_DEV_HALF for line in (data / p).read_text().splitlines()}
    return {json.loads(line)["context_title"] for p in SQUAD1_DEV for line in (data / p).read_text().splitlines()} - seen


def settings(data: Path, names: list[str]) -> list[Setting]:
    """The named sources as indexes with their fitting questions."""
    made = []
    for name in names:
        if name == "squad2-train":
            made.append(Setting(name, *squad2_train(data)))
        elif name == "squad2-dev-half":
            made.append(Setting(name, *squad2_dev_half(data)))
        elif name == "chat":
            made.append(Setting(name, chat_articles(data), chat_questions("fit")))
        elif name == "reader":
            made.append(reader_setting(data, "fit"))
        elif name == "sample":  # the tiny slice: the bundled sample and its chat questions, no shared data
            from embeddings.loaders import load_paths
            from embeddings.models import Article
            from _fitting import REPO

            articles = [a for a in load_paths([REPO / "sample" / "articles"]) if isinstance(a, Article)]
            ids = {a.id for a in articles}
            made.append(Setting(name, articles, [q for q in chat_questions("fit") if q.article_id in ids]))
        else:
            raise ValueError(f"unknown source {name!r}")
    return made


def ranked(pipeline, question, source: str, depth: int = DEPTH) -> Ranked | None:
    """The question's first `depth` candidates in the ranker's order, or None when nothing is found."""
    from retrieval.words import normalise_question

    found = pipeline.judge(question.question)
    if found is None:
        return None
    candidates, judgement = found
    labels = gold_labels(pipeline, question, candidates)
    top = [int(i) for i in judgement.order[:depth]]
    titles = judgement.evidence.sentences.titles
    texts = _pair_texts(pipeline.index.db, [candidates[i] for i in top], [titles[i] for i in top])
    gold = [] if question.impossible else _gold_texts(pipeline, question)
    return Ranked(source, normalise_question(question.question), question.impossible, texts,
                  [bool(labels[i]) for i in top], gold)


def _pair_texts(db, candidates, titles: list[str]) -> list[str]:
    """What the scorer reads of each stored candidate: sentence, headline, the sentence before it."""
    from retrieval.reading import as_read

    return [c.pair_text() for c in as_read(db, candidates, titles)]


def _gold_texts(pipeline, question) -> list[str]:
    """The pair texts of the stored sentences that hold an answer span of the question."""
    from embeddings.storage import database
    from retrieval.retriever import Candidate

    db = pipeline.index.db
    held = [Candidate(*r, passage_score=0.0) for r in gold_rows(db, question)]
    if not held:
        return []
    rowid = held[0].article_rowid
    return _pair_texts(db, held, [database.article_titles(db, [rowid])[rowid]] * len(held))


def mine(work: Path, setting: Setting, encoder, limit: int | None = None) -> list[Ranked]:
    """Every question's ranked candidates, from `work/<name>.mined.jsonl` when mined before from the same data."""
    key = hashlib.sha256(json.dumps([setting.name, sorted(a.content_hash for a in setting.articles),
                                     [q.question for q in setting.questions], limit]).encode()).hexdigest()[:16]
    cached = work / f"{setting.name}-{key}.mined.jsonl"
    if cached.is_file():
        return [Ranked(**json.loads(line)) for line in cached.read_text().splitlines()]
    pipeline = open_pipeline(work, setting, encoder)
    questions = setting.questions[:limit] if limit else setting.questions
    found = [r for q in questions if (q.spans or q.impossible) for r in [ranked(pipeline, q, setting.name)] if r]
    cached.write_text("".join(json.dumps(asdict(r)) + "\n" for r in found))
    return found


def pairs(lists: list[Ranked], seed: int, repeat: dict[str, int]) -> list[tuple[str, str, float]]:
    """(question, text, label) pairs: each gold sentence, HARD of the ranker's best non-gold candidates (for an
    unanswerable question, its best candidates) and one easy negative (another question's gold), shuffled;
    a source's pairs are repeated `repeat[source]` times (the chat-typed sources are few and matter most)."""
    rng = random.Random(seed)
    golds = [g for r in lists for g in r.gold]
    out = []
    for r in lists:
        wrong = [t for t, label in zip(r.texts, r.labels) if not label and t not in r.gold]
        hard = wrong[: HARD - 1] + rng.sample(wrong[HARD - 1:], min(1, len(wrong[HARD - 1:])))
        easy = [rng.choice(golds)] if golds else []
        made = [(r.question, t, 1.0) for t in r.gold] + [(r.question, t, 0.0) for t in hard + easy if t not in r.gold]
        out.extend(made * repeat.get(r.source, 1))
    rng.shuffle(out)
    return out


def file_hashes(data: Path, paths: list[Path]) -> dict[str, str]:
    """sha256 of each data file used, so the weights say exactly what they were fitted on."""
    return {str(p): hashlib.sha256((p if p.is_absolute() else data / p).read_bytes()).hexdigest() for p in paths}
