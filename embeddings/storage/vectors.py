"""One kind of vectors (sentences or passages) spread over the segments of a generation, read as one index.

A segment's FAISS files never change once written and ids are unique across segments, so a lookup goes to
the segment holding the id and a search asks every segment and keeps the best k overall. The vectors of
deleted rows stay in their segment until a merge rewrites it: every search and lookup skips them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embeddings.storage import passage_graph

NOTHING = -np.finfo(np.float32).max  # the score FAISS gives the empty places of a result
# A filtered search walks the graph only past this many allowed vectors in a part: below it an exact scan of
# those (FAISS checks a bitmap per vector, scores only the allowed) costs less and misses nothing. At 200,000
# articles (scripts/bench_filtered.py) a filter allowing 10% of a 456,000-passage segment took 33 ms along the
# graph (efSearch 2,048; recall@20 0.90) and 10 ms scanned.
EXACT_UNDER = 100_000
# A graph stores its passages as 8-bit codes (passage_graph.py): its best this many are re-scored exactly.
RESCORED = 40
# The graph walk widens as the filter narrows (it passes over vectors it may not return): efSearch grows
# with 1 / allowed share, up to this.
MAX_EF = 2048


@dataclass
class Part:
    """One segment's exact vectors (an IndexIDMap2, or a file's StoredVectors), its ids sorted, its HNSW graph
    in a large segment, and for passages the article of each id (in the order of `ids`; None where the segment
    predates them)."""

    exact: object
    graph: object = None
    articles: np.ndarray | None = None
    ids: np.ndarray = field(init=False)

    def __post_init__(self):
        stored = getattr(self.exact, "sorted_ids", None)
        self.ids = stored if stored is not None else np.sort(passage_graph.ids_of(self.exact))


Keep = Callable[[Part], np.ndarray]  # a filter: which of a part's `ids` a search may return (a boolean mask)


class Vectors:
    """The parts of one kind of vectors with the ids deleted since they were written, behind the calls the
    readers make of a FAISS index: `ntotal`, `d`, `reconstruct_batch` and `search`."""

    def __init__(self, parts: list[Part], dim: int, deleted: np.ndarray | None = None):
        self.parts, self.d = parts, dim
        self.deleted = np.unique(np.asarray([] if deleted is None else deleted, dtype=np.int64))  # sorted
        # Per part: the ids it must never return (deleted rows; in an old graph also tombstones, passage_graph.py).
        deleted_here = [_held(p.ids, self.deleted) for p in parts]
        self._skip = [np.union1d(mine, passage_graph.tombstones(p.graph, p.exact)).astype(np.int64)
                      if p.graph is not None and p.graph.ntotal > p.exact.ntotal else mine
                      for p, mine in zip(parts, deleted_here)]
        self.ntotal = sum(len(p.ids) for p in parts) - sum(len(mine) for mine in deleted_here)

    @property
    def skipped(self) -> int:
        """How many stored vectors searches skip: deleted rows, and graph tombstones."""
        return sum(len(skip) for skip in self._skip)

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        """The stored vector of each id, in the order given (every id must be held and not deleted)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.d), dtype=np.float32)
        found = np.zeros(len(ids), dtype=bool)
        for part in self.parts:
            mine = _member(part.ids, ids) & ~found
            if mine.any():
                out[mine] = part.exact.reconstruct_batch(ids[mine])
                found |= mine
        missing = ~found | _member(self.deleted, ids)
        if missing.any():
            raise KeyError(f"no stored vector for ids {ids[missing][:5].tolist()}")
        return out

    def search(self, query: np.ndarray, k: int, keep: Keep | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each of shape (1, k), of the k vectors nearest `query` (only those `keep` allows, if
        given), best first; empty places have id -1 as in FAISS."""
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        found = [_search_part(part, skip, query, k, keep) for part, skip in zip(self.parts, self._skip)]
        if len(found) == 1:
            return found[0]
        scores = np.concatenate([s[0] for s, _ in found] + [np.full(k, NOTHING, dtype=np.float32)])
        ids = np.concatenate([i[0] for _, i in found] + [np.full(k, -1, dtype=np.int64)])
        best = np.argsort(-scores, kind="stable")[:k]
        return scores[best][None, :], ids[best][None, :]


    def best_scores(self, queries: np.ndarray) -> np.ndarray:
        """The best score of each row of `queries` (as `search(q, 1)` gives it), from one FAISS call per part
        for all of them: a scan of a part's vectors serves every query at once."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.d)
        best = np.full(len(queries), NOTHING, dtype=np.float32)
        for part, skip in zip(self.parts, self._skip):
            best = np.maximum(best, _search_part(part, skip, queries, 1, None)[0][:, 0])
        return best


def _member(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of `wanted` the sorted `ids` hold: a binary search each, never a sort of `ids` (millions), so a
    question's ~70 lookups cost the same at any size."""
    at = np.searchsorted(ids, wanted)
    hit = at < len(ids)
    hit[hit] = ids[at[hit]] == wanted[hit]
    return hit


def _held(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The ids of `wanted` that the sorted `ids` hold."""
    return wanted[_member(ids, wanted)]


def _search_part(part: Part, skip: np.ndarray, query: np.ndarray, k: int, keep: Keep | None):
    """One part's best k, never an id in `skip`: through its graph when it has one, else exactly."""
    import faiss

    if keep is not None:
        return _search_filtered(part, skip, query, k, keep)
    batch = faiss.IDSelectorBatch(skip) if len(skip) else None  # kept alive while FAISS uses it
    without = faiss.IDSelectorNot(batch) if batch is not None else None
    if part.graph is not None:
        return _walk(part, query, k, faiss.SearchParametersHNSW(efSearch=passage_graph.EF_SEARCH, sel=without))
    if without is None:
        return part.exact.search(query, k)
    return part.exact.search(query, k, params=faiss.SearchParameters(sel=without))


def _search_filtered(part: Part, skip: np.ndarray, query: np.ndarray, k: int, keep: Keep):
    """One part's best k among the ids `keep` allows: a bitmap over ids (a bit test per vector visited, however
    many are allowed), searched exactly when few are allowed, else through the graph with a wider walk."""
    import faiss

    allowed = part.ids[np.asarray(keep(part), dtype=bool)]
    allowed = allowed[~_member(skip, allowed)] if len(skip) else allowed
    if not len(allowed):
        return np.full((1, k), NOTHING, dtype=np.float32), np.full((1, k), -1, dtype=np.int64)
    bits = np.zeros(int(part.ids[-1]) + 1, dtype=bool)
    bits[allowed] = True
    bitmap = np.packbits(bits, bitorder="little")  # kept alive while FAISS reads it
    only = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    if part.graph is None or len(allowed) < EXACT_UNDER:
        return part.exact.search(query, k, params=faiss.SearchParameters(sel=only))
    ef = min(MAX_EF, int(passage_graph.EF_SEARCH * len(part.ids) / len(allowed)))
    return _walk(part, query, k, faiss.SearchParametersHNSW(efSearch=ef, sel=only))


def _walk(part: Part, queries: np.ndarray, k: int, params):
    """A part's best k for each row of `queries` through its graph: the graph's best RESCORED (its scores come
    from 8-bit codes) re-scored from the exact vectors, best first."""
    _, found = part.graph.search(queries, max(k, RESCORED), params=params)
    scores = np.full((len(queries), k), NOTHING, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, near) in enumerate(zip(queries, found)):
        near = near[near >= 0]
        if len(near):
            exact = part.exact.reconstruct_batch(near) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, :len(best)], ids[row, :len(best)] = exact[best], near[best]
    return scores, ids
