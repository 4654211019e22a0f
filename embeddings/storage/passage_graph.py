"""Passage search by segment size: exact while it meets the latency target, an HNSW graph beyond.

The exact passage vectors (passages.faiss) stay the record: they give exact scores and build the graph. A
segment of GRAPH_FROM passages or more is written with an HNSW graph over them (passages.hnsw,
store.GRAPH_FILE). Passages deleted later stay in it and are skipped by searches (embeddings/storage/vectors.py)
until a merge rewrites the segment (embeddings/storage/merge.py). Measurements and the choice: docs/scaling.md.
"""

from __future__ import annotations

import numpy as np

# `ask` takes 35 ms at p50 over 55,839 passages and exact search adds 12 ms per 100,000 more
# (bench_latency.py, bench_faiss.py): the 50 ms target is crossed near 180,000; switch before it.
GRAPH_FROM = 150_000
# HNSW32, 200 SQuAD questions over the 55,839 news passages' graph: recall@20 of the exact top 20 is
# 0.87 at efSearch 64, 0.94 at 128, 0.97 at 256 (0.67 ms a search: still nothing beside the model).
NEIGHBOURS, EF_SEARCH = 32, 256


def ids_of(index) -> np.ndarray:
    """The external ids an IndexIDMap (or a file's StoredVectors) holds, in row order."""
    import faiss

    if isinstance(getattr(index, "id_map", None), np.ndarray):
        return index.id_map
    return faiss.vector_to_array(index.id_map)


def tombstones(graph, exact) -> np.ndarray:
    """Ids a graph holds that its exact vectors do not: in an index from before segments, whose exact vectors
    took deletes while its graph could not."""
    return np.setdiff1d(ids_of(graph), ids_of(exact))


def stores_floats(path) -> bool:
    """Whether the graph file at `path` keeps float32 copies of its passages (written before graphs stored
    8-bit codes): FAISS names an index's type by four bytes near the start of its file."""
    with open(path, "rb") as f:
        return b"IHNf" in f.read(64)


def build(exact):
    """An HNSW graph over a segment's exact passage vectors, stored as 8-bit codes (a quarter of float32's
    pages to keep in memory; search re-scores its best from the exact vectors), or None below GRAPH_FROM."""
    import faiss

    if exact.ntotal < GRAPH_FROM:
        return None
    graph = faiss.IndexIDMap(faiss.IndexHNSWSQ(exact.d, faiss.ScalarQuantizer.QT_8bit, NEIGHBOURS,
                                               faiss.METRIC_INNER_PRODUCT))
    ids = ids_of(exact)
    vectors = exact.reconstruct_batch(ids)
    graph.train(vectors)
    graph.add_with_ids(vectors, ids)
    return graph
