"""Vector search by index size: exact inner product up to millions of vectors, and HNSW / IVF beside it.

    python scripts/bench_faiss.py [--limit MAX_VECTORS] [--ann-sizes 100000,300000] [--json]

Exact search (IndexFlatIP, what newsdesk uses) is timed on one growing index of random unit vectors
(384 dims) at each size up to --limit (default 5,000,000: 7.7 GB of RAM). HNSW and IVF are built at
--ann-sizes and reported with recall@20 against exact search. Random vectors have no cluster structure,
so the ANN recall here is a lower bound; the real sentence vectors of the cached benchmark index, when
present, give the realistic figure. One query at a time, as `ask` searches.
"""

from __future__ import annotations

import numpy as np

import _bench

DIM, K = 384, 20
SIZES = (100_000, 300_000, 1_000_000, 2_000_000, 5_000_000)


def unit_vectors(count: int, seed: int) -> np.ndarray:
    """Random float32 vectors of length one."""
    rows = np.random.default_rng(seed).standard_normal((count, DIM), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def latency(index, queries: np.ndarray) -> dict:
    """p50/p95 milliseconds of single-query searches (one thread, as newsdesk searches), and the results."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    times, found = [], []
    for query in queries:
        seconds, (_, ids) = _bench.timed(index.search, query.reshape(1, -1), K)
        times.append(seconds * 1000)
        found.append(ids[0])
    faiss.omp_set_num_threads(threads)
    return {"p50 ms": _bench.percentile(times, 50), "p95 ms": _bench.percentile(times, 95), "ids": found}


def row(kind: str, size: int, timing: dict, exact: list | None, **extra) -> dict:
    """One table row; recall@K against the exact results when given."""
    overlaps = [len(set(a) & set(b)) / K for a, b in zip(timing["ids"], exact or [])]
    recall = float(np.mean(overlaps)) if exact is not None else None
    return {"index": kind, "vectors": size, "p50 ms": timing["p50 ms"], "p95 ms": timing["p95 ms"],
            "recall@20": recall, **extra}


def exact_by_size(limit: int, queries: np.ndarray) -> list[dict]:
    """Grow one flat index through SIZES up to `limit`, timing exact search at each size."""
    import faiss

    index, rows, seed = faiss.IndexFlatIP(DIM), [], 1
    for size in [s for s in SIZES if s < limit] + [limit]:
        while index.ntotal < size:
            index.add(unit_vectors(min(500_000, size - index.ntotal), seed))
            seed += 1
        rows.append(row("flat (exact)", size, latency(index, queries[: 100 if size <= 1_000_000 else 30]), None,
                        **{"MB": size * DIM * 4 / 2**20}))
    return rows


def ann(vectors: np.ndarray, queries: np.ndarray, label: str) -> list[dict]:
    """HNSW and IVF over `vectors`: build seconds, latency and recall@20 against exact search."""
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    exact = latency(flat, queries)["ids"]
    hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    build, _ = _bench.timed(hnsw.add, vectors)
    hnsw.hnsw.efSearch = 64
    rows = [row(f"HNSW32 ef64 {label}", len(vectors), latency(hnsw, queries), exact, **{"build s": build})]
    nlist = int(4 * np.sqrt(len(vectors)))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    build, _ = _bench.timed(lambda: (ivf.train(vectors[:100_000]), ivf.add(vectors)))
    for nprobe in (16, 64):
        ivf.nprobe = nprobe
        rows.append(row(f"IVF{nlist} nprobe{nprobe} {label}", len(vectors), latency(ivf, queries), exact,
                        **{"build s": build}))
    return rows


def real_vectors() -> np.ndarray | None:
    """The sentence vectors of the cached full benchmark index (every segment's), if it has been built."""
    from embeddings.storage.reader import IndexReader
    from embeddings.storage.store import IndexNotFound

    try:
        reader = IndexReader.open(_bench.index_dir("onnx", None))
    except IndexNotFound:
        return None
    return np.concatenate([part.exact.reconstruct_batch(part.ids) for part in reader.sentence_vectors.parts])


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "largest exact index, in vectors (default 5,000,000)")
    p.add_argument("--ann-sizes", default="100000,300000", help="sizes to build HNSW and IVF at (comma-separated)")
    args = p.parse_args()
    queries = unit_vectors(200, seed=0)
    rows = exact_by_size(args.limit or SIZES[-1], queries)
    for size in map(int, args.ann_sizes.split(",")):
        rows += ann(unit_vectors(size, seed=99), queries, "random")
    real = real_vectors()
    if real is not None:
        picked = np.random.default_rng(0).choice(len(real), 200, replace=False)
        rows += ann(real, real[picked], "news sentences")
    _bench.emit("bench_faiss", rows, args.json, dim=DIM, k=K, target_ms="p50 <= 50 for the whole ask")


if __name__ == "__main__":
    main()
