"""What a passage graph over 8-bit codes gives up: recall@20 against exact search, beside a float32 graph.

On one segment of an index kept by bench_scale.py (its passages.faiss and its float32 graph passages.hnsw,
written before graphs stored codes), a graph as newsdesk now builds it (passage_graph.build: HNSW over
8-bit scalar-quantised codes) is built beside the old one, and bench_scale's chat questions about real
articles search both: the old graph's top 20 as it was, the new one's top RESCORED re-scored from the exact
vectors (vectors.RESCORED) and at other depths. Printed: file sizes, the build time, recall@20 of each.
Usage: python scripts/bench_graph_codes.py --segment DIR [--questions 150] [--json]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import _bench
import bench_scale
import numpy as np

from embeddings.encoder import make_encoder
from embeddings.storage import passage_graph, store, vectors

DEPTHS = (20, vectors.RESCORED, 80)


def rescored(exact, graph, queries: np.ndarray, depth: int) -> list[np.ndarray]:
    """Each query's top 20 as a reader searches the segment: the graph's best `depth`, re-scored exactly."""
    searched, saved = vectors.Vectors([vectors.Part(exact, graph)], exact.d), vectors.RESCORED
    vectors.RESCORED = depth
    try:
        return [searched.search(query, 20)[1][0] for query in queries]
    finally:
        vectors.RESCORED = saved


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)])), 4)


def main() -> None:
    import faiss

    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--segment", type=Path, required=True, help="a segment folder with passages.faiss and .hnsw")
    p.add_argument("--questions", type=int, default=150)
    args = p.parse_args()
    exact = faiss.read_index(str(args.segment / "passages.faiss"), faiss.IO_FLAG_MMAP)
    old = faiss.read_index(str(args.segment / store.GRAPH_FILE), faiss.IO_FLAG_MMAP)
    seconds, new = _bench.timed(passage_graph.build, exact)
    with tempfile.TemporaryDirectory() as scratch:
        faiss.write_index(new, str(Path(scratch) / "new.hnsw"))
        new_bytes = (Path(scratch) / "new.hnsw").stat().st_size
    encoder = make_encoder(args.backend)
    queries = encoder.encode(bench_scale.real_questions(args.questions))
    _, truth = exact.search(queries, 20)
    _, flat = old.search(queries, 20, params=faiss.SearchParametersHNSW(efSearch=passage_graph.EF_SEARCH))
    rows = [{"graph": "float32 (before)", "MB": round((args.segment / store.GRAPH_FILE).stat().st_size / 2**20),
             "recall@20": recall(list(flat), truth)}]
    rows += [{"graph": f"8-bit codes, best {depth} re-scored", "MB": round(new_bytes / 2**20), "build s": round(seconds),
              "recall@20": recall(rescored(exact, new, queries, depth), truth)} for depth in DEPTHS]
    _bench.emit("bench_graph_codes", rows, args.json, segment=str(args.segment), passages=exact.ntotal,
                questions=len(queries))


if __name__ == "__main__":
    main()
