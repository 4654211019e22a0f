"""Vectors spread over segments answer exactly as one FAISS index holding the same vectors would."""

import faiss
import numpy as np
import pytest

from embeddings.storage.vectors import Part, Vectors

DIM = 8


def flat(vectors: np.ndarray, ids: np.ndarray):
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    index.add_with_ids(vectors, ids)
    return index


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((60, DIM)).astype(np.float32)
    ids = rng.permutation(1000)[:60].astype(np.int64)  # ids unique across parts, in no order
    return vectors, ids


def split(vectors, ids, cuts=(10, 35)):
    bounds = [0, *cuts, len(ids)]
    return [Part(flat(vectors[a:b], ids[a:b])) for a, b in zip(bounds, bounds[1:])]


def test_search_over_parts_equals_one_index_without_the_deleted(data):
    vectors, ids = data
    deleted = ids[[3, 20, 50]]
    keep = ~np.isin(ids, deleted)
    whole = flat(vectors[keep], ids[keep])
    spread = Vectors(split(vectors, ids), DIM, deleted)
    assert spread.ntotal == whole.ntotal == 57 and spread.skipped == 3
    for query in np.random.default_rng(1).standard_normal((5, DIM)).astype(np.float32):
        (s1, i1), (s2, i2) = spread.search(query, 12), whole.search(query[None, :], 12)
        assert i1.tolist() == i2.tolist() and np.allclose(s1, s2)
        allowed = ids[::3].tolist()
        (s1, i1) = spread.search(query, 70, lambda part: np.isin(part.ids, allowed))
        (s2, i2) = whole.search(query[None, :], 70, params=faiss.SearchParameters(sel=faiss.IDSelectorBatch(
            np.setdiff1d(allowed, deleted))))
        assert i1.tolist() == i2.tolist(), "a filtered search pads with -1 as FAISS does"


def test_lookup_finds_each_id_in_its_part_in_the_order_asked(data):
    vectors, ids = data
    spread = Vectors(split(vectors, ids), DIM)
    order = np.array([ids[40], ids[2], ids[59], ids[11]])
    assert np.array_equal(spread.reconstruct_batch(order), vectors[[40, 2, 59, 11]])


def test_lookup_of_a_deleted_or_unknown_id_fails(data):
    vectors, ids = data
    spread = Vectors(split(vectors, ids), DIM, ids[[5]])
    with pytest.raises(KeyError):
        spread.reconstruct_batch(ids[[4, 5]])
    with pytest.raises(KeyError):
        spread.reconstruct_batch(np.array([5000]))


def test_a_graph_from_before_segments_never_returns_its_tombstones(data):
    """An old index's graph still holds passages its exact vectors dropped: searches skip them."""
    vectors, ids = data
    exact = flat(vectors[1:], ids[1:])
    graph = faiss.IndexIDMap(faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT))
    graph.add_with_ids(vectors, ids)  # ids[0] is a tombstone
    spread = Vectors([Part(exact, graph)], DIM)
    assert spread.skipped == 1 and spread.ntotal == 59
    _, found = spread.search(vectors[0], 10)
    assert ids[0] not in found[0].tolist() and len(found[0][found[0] >= 0]) == 10


def test_a_filtered_search_through_the_graph_finds_what_an_exact_one_finds(monkeypatch):
    """Past EXACT_UNDER allowed vectors a part's graph is walked with the filter inside (and a wider walk);
    below it the allowed vectors are scanned exactly. Either way the best allowed ones come back."""
    import embeddings.storage.vectors as module

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, DIM)).astype(np.float32)
    ids = np.arange(1, 3001, dtype=np.int64)
    graph = faiss.IndexIDMap(faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT))
    graph.add_with_ids(vectors, ids)
    spread = Vectors([Part(flat(vectors, ids), graph)], DIM, ids[:30])  # the first 30 deleted
    allowed = set(rng.choice(ids, 1000, replace=False).tolist())
    keep = lambda part: np.isin(part.ids, list(allowed))  # noqa: E731
    expected = [i for i in np.argsort(-(vectors @ vectors[500])) + 1 if i in allowed and i > 30][:10]
    monkeypatch.setattr(module, "EXACT_UNDER", 10**6)
    assert spread.search(vectors[500], 10, keep)[1][0].tolist() == expected  # exact
    monkeypatch.setattr(module, "EXACT_UNDER", 100)
    walked = spread.search(vectors[500], 10, keep)[1][0].tolist()
    assert set(walked) <= allowed - set(range(31)) and len(set(walked) & set(expected)) >= 9


def test_best_scores_of_many_queries_at_once_equal_one_search_each(data):
    vectors, ids = data
    spread = Vectors(split(vectors, ids), DIM, ids[[3, 20, 50]])
    queries = np.random.default_rng(2).standard_normal((6, DIM)).astype(np.float32)
    assert np.array_equal(spread.best_scores(queries), [spread.search(q, 1)[0][0][0] for q in queries])
