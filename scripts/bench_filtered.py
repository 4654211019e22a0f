"""Filtered passage search at scale: the graph walk with the filter inside against an exact scan of the allowed.

On an index kept by bench_scale.py (--index DIR), bench_scale's chat questions about real articles are
embedded and each filter below searches the 20 best passages two ways: as questions do (a bitmap of the
allowed passages, scanned exactly in a segment where under vectors.EXACT_UNDER are allowed, else tested
along the HNSW graph with a wider walk) and exactly in every segment. Recall@20 is the share of the exact
top 20 the first way finds; milliseconds are per search, after a warm-up pass.
Usage: python scripts/bench_filtered.py --index DIR [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import _bench
import bench_scale
import numpy as np

from embeddings.encoder import make_encoder
from embeddings.storage import store, vectors
from embeddings.storage.reader import IndexReader
from retrieval.filters import Filters
from retrieval.retriever import allowed_articles

FILTERS = {  # from narrow to wide, on the real articles' dates and sources and the synthetic ones' dates
    "1-15 March 1987 (Reuters)": Filters(since="1987-03-01", until="1987-03-15"),
    "source BBC": Filters(source="BBC News (2004-2005), D. Greene & P. Cunningham BBC dataset"),
    "Reuters (all of 1987)": Filters(until="1987-12-31"),
    "since July 2025": Filters(since="2025-07-01"),
    "since 2024": Filters(since="2024-01-01"),
}
DEPTH = 20


def searches(reader: IndexReader, questions: np.ndarray, articles: np.ndarray, exact: bool) -> tuple[list, list]:
    """Each question's top ids and milliseconds, searched as questions are or exactly everywhere."""
    saved = vectors.EXACT_UNDER
    vectors.EXACT_UNDER = 10**12 if exact else saved
    try:
        reader.search_passages(questions[0], DEPTH, articles)  # warm: the page cache, the lazy arrays
        timed = [_bench.timed(reader.search_passages, q, DEPTH, articles) for q in questions]
    finally:
        vectors.EXACT_UNDER = saved
    return [set(ids[0][ids[0] >= 0].tolist()) for _, (_, ids) in timed], [s * 1000 for s, _ in timed]


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--index", type=Path, required=True, help="an index kept by bench_scale.py --index")
    p.add_argument("--questions", type=int, default=150)
    args = p.parse_args()
    encoder = make_encoder(args.backend)
    encoder.load()
    questions = encoder.encode(bench_scale.real_questions(args.questions))
    try:
        reader = IndexReader.open(args.index)
    except store.IndexError_ as exc:
        sys.exit(str(exc))
    total = reader.stats()["articles"]
    rows = []
    for name, filters in FILTERS.items():
        articles = allowed_articles(reader, filters)
        walked, walked_ms = searches(reader, questions, articles, exact=False)
        scanned, scanned_ms = searches(reader, questions, articles, exact=True)
        found = [len(w & s) / len(s) for w, s in zip(walked, scanned) if s]
        allowed = int(articles.sum())
        rows.append({"filter": name, "articles allowed": allowed, "share": round(allowed / total, 4),
                     f"recall@{DEPTH}": round(float(np.mean(found)), 4) if found else None,
                     **_bench.p50_p95(walked_ms, 1), **_bench.p50_p95(scanned_ms, 1, "exact ")})
    _bench.emit("bench_filtered", rows, args.json, backend=args.backend, index=str(args.index),
                articles=total, segments=reader.segments)


if __name__ == "__main__":
    main()
