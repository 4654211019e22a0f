"""bench_incremental.py --sizes: what one small write costs as the index grows.

At each size an index of synthetic articles (scripts/synthetic_corpus.py) is built once and cached; then,
five times each, in this process with the model loaded: one real BBC article added (through the Indexer, so
embedding included) and deleted again, and one synthetic article re-indexed with a sentence added. Reported:
the median seconds of each, and the bytes the process handed to write() per add (SQLite's log and database,
the new segment).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _bench
import synthetic_corpus

from embeddings.indexer import Indexer
from embeddings.models import Article
from embeddings.storage import database
from embeddings.storage.reader import IndexReader, committed_db
from embeddings.storage.writer import IndexWriter

REPEATS = 5


def synthetic_index(size: int, encoder, data: Path) -> Path:
    """The cached synthetic index of `size` articles, built on first use."""
    root = _bench.CACHE / f"synthetic-{encoder.backend}-{size}"
    if not (root / ".built").exists():
        print(f"building {size} synthetic articles at {root} (once)", file=sys.stderr, flush=True)
        synthetic_corpus.build(root, size, encoder, data, chunk=min(size, 10_000))
        (root / ".built").write_text("")
    return root


def written_bytes() -> int:
    """Bytes this process has handed to write() so far (Linux /proc/self/io, wchar)."""
    return int(next(line.split()[1] for line in Path("/proc/self/io").read_text().splitlines()
                    if line.startswith("wchar")))


def real_articles(data: Path, count: int) -> list[Article]:
    """The first `count` BBC articles, with ids of their own so each run adds them anew."""
    path = sorted((data / "articles").glob("bbc_news_2225.part*.jsonl"))[0]
    records = [json.loads(line) for line in path.read_text().splitlines()[:count]]
    return [Article(id=f"bench-add-{r['id']}", title=r.get("title") or "", text=r["text"]) for r in records]


def measure(root: Path, encoder, data: Path) -> dict:
    """Median seconds of an add, a delete and an edit, and the median bytes written per add."""
    indexer = Indexer(root, encoder, show_progress=False)
    adds, deletes, edits, written = [], [], [], []
    for number, article in enumerate(real_articles(data, REPEATS)):
        before = written_bytes()
        seconds, _ = _bench.timed(indexer.run, [article])
        adds.append(seconds)
        written.append(written_bytes() - before)
        deletes.append(_bench.timed(_delete, root, encoder, article.id)[0])
        edits.append(_bench.timed(indexer.run, [_edited(root, number)])[0])
    reader = IndexReader.open(root)
    stats = reader.stats()
    reader.close()
    return {"articles": stats["articles"], "segments": stats["segments"],
            "add s": _bench.median(adds), "delete s": _bench.median(deletes), "edit s": _bench.median(edits),
            "MB written per add": _bench.median(written) / 2**20, "index MB": stats["size_bytes"] / 2**20}


def _delete(root: Path, encoder, article_id: str) -> None:
    with IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend) as writer:
        writer.remove(article_id)
        writer.commit()


def _edited(root: Path, number: int) -> Article:
    """A stored synthetic article with one more sentence (a new content hash: removed and added again)."""
    with committed_db(root) as db:
        article = database.get_article(db, f"synthetic-{number:07d}")
    return article.model_copy(update={"text": article.text + " The story was updated on the wire."})


def run(sizes: list[int], encoder, data: Path) -> list[dict]:
    """One row per size, each printed to stderr as it is measured."""
    rows = []
    for size in sizes:
        row = {"size": size, **measure(synthetic_index(size, encoder, data), encoder, data)}
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return rows
