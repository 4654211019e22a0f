"""What the window reader (scripts/train_window_reader.py) reads: for each question, the windows of article text
around the candidates the product's retriever and ranker put first, mined once per index and kept as JSON lines.

A window is one article's sentences from its first to its last candidate (split where that runs past
MAX_SENTENCES), with the headline: the sentences side by side, so the reader can tell the sentence that names
the subject from the one that holds what was asked. Each window also says which of its sentences are gold and
which were candidates (their place in the ranker's order); the candidates' pair texts are kept too, so the
cross-encoder (retrieval/scorer.py) can read exactly the same candidates for the comparison.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _fitting import Setting, article_rowid, gold_labels, gold_rows, holds_answer, open_pipeline

DEPTH = 10  # candidates per question: what the product reads (retrieval/reading.py)
MAX_SENTENCES = 12  # a window longer than this is split between candidates
GOLD_CONTEXT = 2  # sentences each side of a gold sentence no candidate reached (fitting windows only)


@dataclass
class Window:
    """Consecutive sentences of one article; `gold` and `rank` by sentence (rank: place among the candidates, or -1)."""

    title: str
    sentences: list[str]
    gold: list[bool]
    rank: list[int]


@dataclass
class Mined:
    """One question's candidates (ranker order), their gold labels and pair texts, and the windows holding them."""

    source: str
    question: str
    impossible: bool
    labels: list[bool]
    texts: list[str]
    windows: list[Window] = field(default_factory=list)

    @staticmethod
    def from_json(line: str) -> "Mined":
        raw = json.loads(line)
        return Mined(**{**raw, "windows": [Window(**w) for w in raw["windows"]]})


def runs(indexes: list[int]) -> list[tuple[int, int]]:
    """(first, last) sentence ranges covering `indexes` in order, none longer than MAX_SENTENCES."""
    ranges: list[tuple[int, int]] = []
    for i in sorted(set(indexes)):
        if ranges and i - ranges[-1][0] < MAX_SENTENCES:
            ranges[-1] = (ranges[-1][0], i)
        else:
            ranges.append((i, i))
    return ranges


def windows(pipeline, question, candidates: list, top: list[int], titles: dict[int, str], with_gold: bool) -> list[Window]:
    """The windows over the `top` candidates' articles (`titles`: their headlines by row id); `with_gold` adds one
    around a gold sentence none reached."""
    from embeddings.storage import database

    db = pipeline.index.db
    rank = {(candidates[i].article_rowid, candidates[i].index): r for r, i in enumerate(top)}
    by_article: dict[int, list[int]] = {}
    for rowid, index in rank:
        by_article.setdefault(rowid, []).append(index)
    gold_rowid = article_rowid(db, question.article_id)
    made = [_window(db, rowid, first, last, titles[rowid], rank, question, gold_rowid)
            for rowid, indexes in by_article.items() for first, last in runs(indexes)]
    if with_gold and not question.impossible and not any(any(w.gold) for w in made):
        held = gold_rows(db, question)
        if held:
            title = database.article_titles(db, [gold_rowid])[gold_rowid]
            made.append(_window(db, gold_rowid, max(0, held[0][2] - GOLD_CONTEXT), held[0][2] + GOLD_CONTEXT, title,
                                rank, question, gold_rowid))
    return made


def _window(db, rowid: int, first: int, last: int, title: str, rank, question, gold_rowid) -> Window:
    from embeddings.storage import database

    rows = database.sentences_in_range(db, rowid, first, last)
    gold = [rowid == gold_rowid and not question.impossible and holds_answer(r[4], r[5], question) for r in rows]
    return Window(title, [r[6] for r in rows], gold, [rank.get((rowid, r[2]), -1) for r in rows])


def mined(pipeline, question, source: str, with_gold: bool) -> Mined | None:
    """The question's first DEPTH candidates with their windows, or None when nothing is found."""
    from retrieval.reading import as_read
    from retrieval.words import normalise_question

    found = pipeline.judge(question.question)
    if found is None:
        return None
    candidates, judgement = found
    top = [int(i) for i in judgement.order[:DEPTH]]
    labels = gold_labels(pipeline, question, candidates)
    headlines = judgement.evidence.sentences.titles  # each candidate's, as the ranker read them
    read = as_read(pipeline.index.db, [candidates[i] for i in top], [headlines[i] for i in top])
    titles = {candidates[i].article_rowid: headlines[i] for i in top}
    return Mined(source, normalise_question(question.question), question.impossible, [bool(labels[i]) for i in top],
                 [c.pair_text() for c in read], windows(pipeline, question, candidates, top, titles, with_gold))


def mine(work: Path, setting: Setting, encoder, with_gold: bool) -> list[Mined]:
    """Every question's windows, from `work/<name>-<key>.windows.jsonl` when mined before from the same data."""
    key = hashlib.sha256(json.dumps([setting.name, sorted(a.content_hash for a in setting.articles),
                                     [q.question for q in setting.questions], with_gold, DEPTH, MAX_SENTENCES]
                                    ).encode()).hexdigest()[:16]
    cached = work / f"{setting.name}-{key}.windows.jsonl"
    if cached.is_file():
        return [Mined.from_json(line) for line in cached.read_text().splitlines()]
    pipeline = open_pipeline(work, setting, encoder)
    found = [m for q in setting.questions if (q.spans or q.impossible)
             for m in [mined(pipeline, q, setting.name, with_gold)] if m]
    cached.write_text("".join(json.dumps(asdict(m)) + "\n" for m in found))
    return found
