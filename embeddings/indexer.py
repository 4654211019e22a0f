"""Bring the index in line with a set of articles: embed only what is new or changed, drop what is gone."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.encoder import Encoder
from embeddings.storage.writer import IndexWriter
from embeddings.loaders import Problem
from embeddings.models import Article, Passage, Sentence
from embeddings.segment import make_passages, split_sentences

if TYPE_CHECKING:
    from embeddings.ray_build import RayEmbedder


@dataclass
class IndexReport:
    """What one indexing run did, for the summary line and for `--json`."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    sentences: int = 0
    seconds: float = 0.0
    generation: str | None = None

    def summary(self) -> str:
        """One line a person reads at the end of `newsdesk index`."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged, {len(self.problems)} skipped; "
            f"{self.sentences} sentences embedded in {self.seconds:.1f}s"
        )


class Indexer:
    """Article stream → index on disk, one atomic generation per run; constructor arguments are the config."""

    def __init__(self, root: Path, encoder: Encoder, passage_size: int = 4, passage_overlap: int = 1,
                 chunk_articles: int = 1024, show_progress: bool = True, cluster: "RayEmbedder | None" = None):
        """`cluster` splits and embeds on a Ray cluster instead of here (embeddings/ray_build.py); `encoder`
        then only names the model the index is built with."""
        self.root, self.encoder, self.cluster = Path(root), encoder, cluster
        self.passage_size, self.passage_overlap = passage_size, passage_overlap
        self.chunk_articles, self.show_progress = chunk_articles, show_progress

    def run(self, items: Iterable[Article | Problem], prune: Iterable[Path] = (), rebuild: bool = False,
            also: Callable[[IndexWriter], None] | None = None) -> IndexReport:
        """Index `items`; articles previously read from under a `prune` path and not seen now are removed.
        `also` makes further changes (e.g. feed state, articles retired) in the same commit, which it forces."""
        began = time.perf_counter()
        report = IndexReport()
        articles = _unique_articles(items, report)
        with IndexWriter(self.root, self.encoder.name, self.encoder.dim, backend=self.encoder.backend,
                         fresh=rebuild) as writer:
            todo = self._plan(writer, articles, [str(p.resolve()) for p in prune], report, rebuild)
            if also is not None:
                also(writer)
            if todo or report.removed or report.updated or (rebuild and articles) or also is not None:
                self._embed_and_add(writer, todo, report)
                report.generation = writer.commit()
        report.seconds = time.perf_counter() - began
        return report

    def _plan(self, writer: IndexWriter, articles: dict[str, Article], prune: list[str],
              report: IndexReport, rebuild: bool) -> list[Article]:
        """Decide what to add, replace and remove by comparing content hashes; remove the stale rows."""
        known = {} if rebuild else writer.known_articles(articles, prune)
        todo = []
        for article in articles.values():
            stored = known.get(article.id)
            if stored and stored[0] == article.content_hash:
                report.unchanged += 1
                continue
            if stored:
                writer.remove(article.id)
                report.updated.append(article.id)
            else:
                report.added.append(article.id)
            todo.append(article)
        for article_id, (_, origin) in known.items():
            if article_id not in articles and any(_is_under(origin, root) for root in prune):
                writer.remove(article_id)
                report.removed.append(article_id)
        return todo

    def _embed_and_add(self, writer: IndexWriter, todo: list[Article], report: IndexReport) -> None:
        """Split, embed and store the articles in chunks, so memory stays bounded on big corpora.

        The model runs in this thread; a second one stores the previous chunk and splits the next
        meanwhile. Both are mostly pure Python and the model releases the GIL while it computes, so on
        two cores the work around the model costs little more than the model itself.
        """
        if self.cluster is not None:
            self._embed_on_cluster(writer, todo, report)
            return
        self.encoder.load()
        progress = Progress(len(todo), self.show_progress)
        chunks = _chunks(todo, self.chunk_articles)
        stored = None
        with ThreadPoolExecutor(max_workers=1, initializer=_background_priority) as pool:
            for split in _one_ahead(pool, _split_all, chunks):
                texts = [s.text for _, sentences in split for s in sentences]
                vectors = self.encoder.encode(texts, progress=progress.sentences_done)
                if stored is not None:
                    stored.result()  # re-raises a failed write; and keeps one chunk in flight, not all
                stored = pool.submit(self._store, writer, split, vectors, report, progress)
            if stored is not None:
                stored.result()
        progress.close()

    def _embed_on_cluster(self, writer: IndexWriter, todo: list[Article], report: IndexReport) -> None:
        """The cluster splits and embeds; each batch is stored here as it comes back (nothing to embed: the
        cluster is not contacted)."""
        if not todo:
            return
        progress = Progress(len(todo), self.show_progress)
        for split, vectors in self.cluster.embed(todo):
            progress.note = f"{self.cluster.actors} actors"
            progress.sentences_done(len(vectors))
            self._store(writer, split, vectors, report, progress)
        progress.close()

    def _store(self, writer: IndexWriter, split: list[tuple[Article, list[Sentence]]], vectors: np.ndarray,
               report: IndexReport, progress: "Progress") -> None:
        """Write one embedded chunk: each article with its slice of the vectors."""
        offset = 0
        for article, sentences in split:
            self._add_article(writer, article, sentences, vectors[offset : offset + len(sentences)], report)
            offset += len(sentences)
        progress.articles_done(len(split))
        report.sentences += offset

    def _add_article(self, writer: IndexWriter, article: Article, sentences: list[Sentence],
                     vectors: np.ndarray, report: IndexReport) -> None:
        """Store one article; an article with no sentences is reported, not indexed."""
        if not sentences:
            report.problems.append(Problem(article.origin or article.id, f"article {article.id!r} has no sentences"))
            return
        passages = make_passages(article, sentences, self.passage_size, self.passage_overlap)
        writer.add(article, sentences, passages, vectors, passage_vectors(passages, vectors))


def _background_priority() -> None:
    """Run this thread only on cycles the model leaves idle: on two cores, a thread competing with the
    model's two stalls them both (each parallel step waits for its slowest thread)."""
    if sys.platform.startswith("linux"):  # where a thread id names one thread to setpriority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _chunks(articles: list[Article], size: int, first: int = 16) -> list[list[Article]]:
    """Chunks of `size` articles, ramping up (16, 32, 64 ...) at the start and down at the end: the first
    chunk is split before the model starts and the last one stored after it stops, so both are kept small."""
    head, tail, low, high, step = [], [], 0, len(articles), min(first, size)
    while low < high:
        head.append(articles[low : min(low + step, high)])
        low += len(head[-1])
        if low < high:
            tail.append(articles[max(high - step, low) : high])
            high -= len(tail[-1])
        step = min(step * 2, size)
    return head + tail[::-1]


def _split_all(articles: list[Article]) -> list[tuple[Article, list[Sentence]]]:
    """Each article with its sentences."""
    return [(article, split_sentences(article)) for article in articles]


def _one_ahead(pool: ThreadPoolExecutor, fn: Callable, items: list) -> Iterator:
    """fn(item) for each item in order, the next one already computing in `pool` while the caller uses this one."""
    if not items:
        return
    pending = pool.submit(fn, items[0])
    for following in items[1:]:
        current, pending = pending.result(), pool.submit(fn, following)
        yield current
    yield pending.result()


def passage_vectors(passages: list[Passage], sentence_vectors: np.ndarray) -> np.ndarray:
    """A passage's vector is the normalised mean of its sentences': no second pass through the model."""
    rows = np.stack([sentence_vectors[p.first_sentence : p.last_sentence + 1].mean(axis=0) for p in passages])
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _unique_articles(items: Iterable[Article | Problem], report: IndexReport) -> dict[str, Article]:
    """Collect articles by id; a repeated id is reported and the first one kept."""
    articles: dict[str, Article] = {}
    for item in items:
        if isinstance(item, Problem):
            report.problems.append(item)
        elif item.id in articles:
            report.problems.append(Problem(item.origin, f"duplicate article id {item.id!r}; kept the one from "
                                                        f"{articles[item.id].origin}"))
        else:
            articles[item.id] = item
    return articles


def _is_under(origin: str, root: str) -> bool:
    """True when `origin` is the path `root` or lies inside it."""
    return origin == root or origin.startswith(root.rstrip("/") + "/")


class Progress:
    """A progress bar on stderr: articles done of all, sentences embedded, sentences per second."""

    def __init__(self, total_articles: int, enabled: bool):
        from tqdm import tqdm

        self.began, self.sentences, self.note = time.perf_counter(), 0, ""
        self.bar = tqdm(total=total_articles, unit="article", desc="indexing", file=sys.stderr,
                        disable=not enabled or total_articles == 0, dynamic_ncols=True)

    def sentences_done(self, count: int) -> None:
        self.sentences += count
        rate = self.sentences / max(time.perf_counter() - self.began, 1e-9)
        self.bar.set_postfix_str(", ".join(filter(None, [f"{self.sentences} sentences", f"{rate:.0f} sentences/s",
                                                         self.note])))

    def articles_done(self, count: int) -> None:
        self.bar.update(count)

    def close(self) -> None:
        self.bar.close()
