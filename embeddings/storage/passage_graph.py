"""Passage search by index size: exact while it meets the latency target, an HNSW graph beyond.

The exact passage vectors (passages.faiss) stay the record: they give exact scores, take deletes and
rebuild the graph. From GRAPH_FROM passages on, each commit also keeps an HNSW graph over them
(passages.hnsw, store.GRAPH_FILE). FAISS's HNSW cannot remove ids, so a deleted passage stays in the graph as a
tombstone (an id the exact vectors no longer hold): searches exclude tombstones, and the graph is
rebuilt once they pass REBUILD_SHARE of it. Measurements and the choice: docs/scaling.md.
"""

from __future__ import annotations

import numpy as np

# `ask` takes 35 ms at p50 over 55,839 passages and exact search adds 12 ms per 100,000 more
# (bench_latency.py, bench_faiss.py): the 50 ms target is crossed near 180,000; switch before it.
GRAPH_FROM = 150_000
# HNSW32, 200 SQuAD questions over the 55,839 news passages' graph: recall@20 of the exact top 20 is
# 0.87 at efSearch 64, 0.94 at 128, 0.97 at 256 (0.67 ms a search: still nothing beside the model).
NEIGHBOURS, EF_SEARCH = 32, 256
REBUILD_SHARE = 0.1


def ids_of(index) -> np.ndarray:
    """The external ids an IndexIDMap holds."""
    import faiss

    return faiss.vector_to_array(index.id_map)


def tombstones(graph, exact) -> np.ndarray:
    """Ids still in the graph whose passages were deleted from the exact vectors."""
    return np.setdiff1d(ids_of(graph), ids_of(exact))


def refresh(exact, graph):
    """The graph for these exact vectors: None below GRAPH_FROM; else `graph` with the new passages added,
    or a new graph when there was none or tombstones passed REBUILD_SHARE of it."""
    import faiss

    if exact.ntotal < GRAPH_FROM:
        return None
    if graph is None or len(tombstones(graph, exact)) > REBUILD_SHARE * graph.ntotal:
        graph = faiss.IndexIDMap(faiss.IndexHNSWFlat(exact.d, NEIGHBOURS, faiss.METRIC_INNER_PRODUCT))
    new = np.setdiff1d(ids_of(exact), ids_of(graph))
    if len(new):
        graph.add_with_ids(exact.reconstruct_batch(new), new)
    return graph

