"""What the answerer is fitted on, and where each question's evidence comes from.

Fitting data (never SQuAD v1.1 dev, which stays the held-out ReQA-SQuAD figure):
- SQuAD 2.0 train, its first 10 articles (../shared/data/qa/, CC BY-SA), with the unanswerable questions;
- the fit half of this project's chat questions (tests/data/chat_questions.fit.jsonl), asked over the
  chat corpus: the sample articles, the seed page, all 2,225 BBC articles and the Reuters stories the
  chat questions name.
Indexes are built under a work folder and reused (an unchanged article is not embedded again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _training import REPO  # also puts the repository on sys.path

SQUAD2_TRAIN = [Path("qa") / f"squad_v2_train_partial_first10articles.part{i:02d}.jsonl" for i in (1, 2)]
CHAT = REPO / "tests" / "data"
SEED = Path("..") / "seeds" / "000_abd5cfe2a4579f9a.txt"
BBC = [Path("articles") / f"bbc_news_2225.part{i:02d}.jsonl" for i in (1, 2)]
REUTERS = [Path("articles") / f"reuters21578.part{i:02d}.jsonl" for i in range(1, 8)]
NEEDED = [*SQUAD2_TRAIN, *BBC, *REUTERS]


@dataclass
class Setting:
    """An index of `articles` and the questions asked of it; `indexed` says which articles are in it."""

    name: str
    articles: list
    questions: list

    @property
    def indexed(self) -> set[str]:
        return {a.id for a in self.articles}


def chat_questions(half: str) -> list:
    """The chat questions of one half ("fit" or "test"), in the SQuAD schema of retrieval.evaluate."""
    from retrieval.evaluate import read_qa

    return read_qa([CHAT / f"chat_questions.{half}.jsonl"])[1]


def chat_corpus(data: Path) -> dict[str, list]:
    """The articles the chat questions are asked over (both halves share them): "sample", "seed" and "news"
    (all BBC articles and the Reuters stories the chat questions name)."""
    from embeddings.loaders import load_paths
    from embeddings.models import Article

    def load(paths: list[Path]) -> list:
        return [a for a in load_paths(paths) if isinstance(a, Article)]

    named = {q.article_id for half in ("fit", "test") for q in chat_questions(half)}
    return {"sample": load([REPO / "sample" / "articles"]), "seed": load([data / SEED]),
            "news": load([data / p for p in BBC]) + [a for a in load([data / p for p in REUTERS]) if a.id in named]}


def chat_articles(data: Path) -> list:
    """Every article of the chat corpus, its collections together: the one index the chat setting asks."""
    return [a for part in chat_corpus(data).values() for a in part]


def squad2_train(data: Path) -> tuple[list, list]:
    """SQuAD 2.0 train's first 10 articles and their questions (answerable and not)."""
    from retrieval.evaluate import read_qa

    return read_qa([data / part for part in SQUAD2_TRAIN])


def open_pipeline(work: Path, setting: Setting, encoder, **options):
    """A pipeline over the setting's index under `work`, built (or brought up to date) first; `options` go to
    the Pipeline (a reading, an abstention model)."""
    from embeddings.indexer import Indexer
    from retrieval.pipeline import Pipeline

    root = work / setting.name
    Indexer(root, encoder, show_progress=False).run(setting.articles, prune=[])
    return Pipeline(root, encoder, **options)


def article_rowid(db, article_id: str) -> int | None:
    """The row id of an article in an index, or None when it is not there."""
    row = db.execute("SELECT rowid FROM articles WHERE id = ?", (article_id,)).fetchone()
    return row[0] if row else None


def holds_answer(start: int, end: int, question) -> bool:
    """Whether the text from `start` to `end` of the question's article holds one of its answer spans."""
    return any(start <= a and b <= end for a, b in question.spans)


def gold_rows(db, question) -> list[tuple]:
    """The stored sentences (database.sentences_in_range rows) of the question's article that hold an answer."""
    from embeddings.storage import database

    rowid = article_rowid(db, question.article_id)
    rows = [] if rowid is None else database.sentences_in_range(db, rowid, 0, 1 << 30)
    return [r for r in rows if holds_answer(r[4], r[5], question)]


def gold_labels(pipeline, question, candidates) -> list[bool]:
    """Whether each candidate is a gold sentence: in the question's article and holding an answer span."""
    rowid = article_rowid(pipeline.index.db, question.article_id)
    return [rowid is not None and c.article_rowid == rowid and holds_answer(c.start, c.end, question)
            for c in candidates]


def every_kth(items: list, limit: int | None) -> list:
    """An even sample of at most `limit` items (all of them without a limit)."""
    return items[:: max(1, len(items) // limit)][:limit] if limit else items


# The reader questions (tests/data/README.md): "fit" trains the scorer, "calibrate" (questions it never read) fits
# how its logit joins the abstention model, "test" is reported.
READER_QUESTIONS = {half: CHAT / f"reader_questions.{half}.jsonl" for half in ("fit", "calibrate", "test")}
ABC = Path("articles") / "abc_lee_corpus.jsonl"
PAGES = Path("html") / "article_extraction_benchmark"


def reader_corpus(data: Path) -> list:
    """The news the reader's own questions are written over (never BBC, kept for evaluation): Reuters stories,
    the ABC texts and the real article pages of the extraction benchmark (read by the product's HTML reader),
    each page's id "pages/<first 16 hex of its benchmark id>"."""
    import gzip
    import json

    from embeddings.html import html_to_page
    from embeddings.loaders import load_paths
    from embeddings.models import Article

    articles = [a for a in load_paths([data / p for p in (*REUTERS, ABC)]) if isinstance(a, Article)]
    for line in (data / PAGES / "ground_truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        page = html_to_page(gzip.decompress((data / PAGES / row["html_file"]).read_bytes()), row.get("url"))
        if page is not None:
            articles.append(Article(id=f"pages/{row['id'][:16]}", title=page.title, text=page.text, date=page.date,
                                    url=page.url, source=page.source))
    return articles


def reader_questions(half: str) -> list:
    """The reader questions of one part ("fit", "calibrate" or "test"), in the SQuAD schema of retrieval.evaluate."""
    from retrieval.evaluate import read_qa

    return read_qa([READER_QUESTIONS[half]])[1]


def reader_setting(data: Path, half: str, name: str = "reader") -> Setting:
    """The articles every reader question is about (all parts share one index) with the questions of `half`."""
    named = {q.article_id for part in READER_QUESTIONS for q in reader_questions(part)}
    return Setting(name, [a for a in reader_corpus(data) if a.id in named], reader_questions(half))
