"""Lexical search, Tantivy against FTS5: recall@20 of the gold sentence on ReQA-SQuAD, and latency on a big index.

Recall: the 48 SQuAD v1.1 dev articles are indexed (a temporary index), and for each of their answerable
questions both engines give their 20 best sentences for the question's words as the retriever asks them;
a question counts when a sentence holding an answer span is among them. Latency (with --index DIR, e.g.
an index kept by bench_scale.py): each engine's milliseconds per search, p50 and p95, over bench_scale's
chat questions about real articles and its 50 questions of common words only, after a warm-up pass.
Usage: python scripts/bench_lexical.py [--index DIR] [--json]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import _bench
import bench_scale

from embeddings.storage import database
from embeddings.storage.reader import IndexReader
from retrieval.evaluate import read_qa
from retrieval.words import query_terms

V1 = "squad_v1.1_dev.part*.jsonl"  # in the data folder's qa/
DEPTH = 20


def engines(reader: IndexReader) -> dict:
    """Each engine's search: terms → the ids of the best `DEPTH` sentences."""
    if reader.lexical is None:
        sys.exit(f"the index at {reader.root} has no lexical index at its generation: any write builds it")
    return {"fts5": lambda terms: database.lexical_search(reader.db, terms, DEPTH),
            "tantivy": lambda terms: reader.lexical.search(terms, DEPTH)}


def recall(data: Path, backend: str) -> list[dict]:
    """Recall@20 of each engine over the ReQA-SQuAD questions, in a temporary index of their articles."""
    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer

    files = sorted(_bench.require(data / "qa").glob(V1))
    articles, questions = read_qa(files)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-lexical-") as scratch:
        Indexer(Path(scratch), make_encoder(backend), show_progress=False).run(articles)
        reader = IndexReader.open(Path(scratch))
        gold = {q.id: _gold_sentences(reader, q) for q in questions if not q.impossible}
        rows = []
        for name, search in engines(reader).items():
            found = [bool(gold[q.id] & set(search(query_terms(q.question)))) for q in questions if q.id in gold]
            rows.append({"engine": name, "questions": len(found),
                         f"recall@{DEPTH}": round(sum(found) / len(found), 4)})
        reader.close()
    return rows


def _gold_sentences(reader: IndexReader, question) -> set[int]:
    """Ids of the sentences of the question's article that hold an answer span."""
    rows = reader.db.execute("SELECT s.id, s.start, s.end FROM sentences s"
                             " JOIN articles a ON a.rowid = s.article_rowid WHERE a.id = ?", (question.article_id,))
    return {i for i, start, end in rows if any(start <= a and b <= end for a, b in question.spans)}


def latency(root: Path) -> list[dict]:
    """Milliseconds per search of each engine over the real and the common-word questions."""
    reader = IndexReader.open(root)
    sets = {"real": bench_scale.real_questions(150), "common words": bench_scale.common_questions()}
    rows = []
    for name, search in engines(reader).items():
        for label, questions in sets.items():
            terms = [query_terms(q) for q in questions]
            for t in terms:  # warm: the page cache, as a serving process has it
                search(t)
            ms = [_bench.timed(search, t)[0] * 1000 for t in terms]
            rows.append({"engine": name, "questions": label, "sentences": reader.stats()["sentences"],
                         **_bench.p50_p95(ms, 1)})
    reader.close()
    return rows


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--index", type=Path, help="also time both engines on this index")
    args = p.parse_args()
    rows = recall(args.data, args.backend) + (latency(args.index) if args.index else [])
    _bench.emit("bench_lexical", rows, args.json, backend=args.backend)


if __name__ == "__main__":
    main()
