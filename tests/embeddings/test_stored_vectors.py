"""A segment's exact vectors read by row from its FAISS file give what FAISS itself gives."""

import faiss
import numpy as np
import pytest

from embeddings.storage.stored_vectors import StoredVectors, open_exact

DIM = 16


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((500, DIM)).astype(np.float32), rng.permutation(10_000)[:500].astype(np.int64)


def written(tmp_path, inner, vectors, ids, name="v.faiss"):
    index = faiss.IndexIDMap2(inner)
    index.train(vectors)
    index.add_with_ids(vectors, ids)
    faiss.write_index(index, str(tmp_path / name))
    return index, tmp_path / name


@pytest.mark.parametrize("inner", [lambda: faiss.IndexFlatIP(DIM), lambda: faiss.IndexFlatL2(DIM),
                                   lambda: faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16,
                                                                      faiss.METRIC_INNER_PRODUCT)])
def test_rows_read_by_id_equal_faiss_in_any_id_order(tmp_path, data, inner):
    vectors, ids = data
    index, path = written(tmp_path, inner(), vectors, ids)
    stored = open_exact(path)
    assert isinstance(stored, StoredVectors) and (stored.d, stored.ntotal) == (DIM, 500)
    wanted = np.concatenate([ids[[7, 400, 7, 3]], np.sort(ids)[100:300]])  # repeats, and a long contiguous run
    assert np.array_equal(stored.reconstruct_batch(wanted), index.reconstruct_batch(wanted))
    assert stored.sorted_ids.tolist() == sorted(ids.tolist())
    query = vectors[:1] + 0.1
    assert [a.tolist() for a in stored.search(query, 5)] == [a.tolist() for a in index.search(query, 5)]
    with pytest.raises(KeyError):
        stored.reconstruct_batch(np.array([10_001]))


def test_reads_outlive_the_files_removal(tmp_path, data):
    vectors, ids = data
    index, path = written(tmp_path, faiss.IndexFlatIP(DIM), vectors, ids)
    stored = open_exact(path)
    path.unlink()  # a merge removes a segment that readers still hold
    assert np.array_equal(stored.reconstruct_batch(ids[:10]), vectors[:10])
    assert stored.search(vectors[:1], 1)[1].tolist() == [[ids[0]]]  # FAISS loads it only now


def test_other_kinds_of_file_are_left_to_faiss(tmp_path, data):
    vectors, ids = data
    _, path = written(tmp_path, faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_8bit), vectors, ids)
    assert not isinstance(open_exact(path), StoredVectors)
    plain = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))
    plain.add_with_ids(vectors, ids)
    faiss.write_index(plain, str(tmp_path / "plain.faiss"))
    fallback = open_exact(tmp_path / "plain.faiss")
    assert not isinstance(fallback, StoredVectors) and fallback.ntotal == 500
