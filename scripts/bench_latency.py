"""Query latency, warm and in-process: p50/p95 of `ask` over the full index, split by stage.

    python scripts/bench_latency.py [--limit N] [--questions 200] [--backend onnx|onnx-int8|torch] [--reader] [--json]

Stages: embedding the question; search (FAISS over passages, FTS5 BM25 over sentences, and fetching
the candidates' rows); scoring (dense scores, fusion, abstention, citations), of which reading (the
trained scorer over the first candidates, with --reader). Target: p50 ≤ 50 ms, p95 ≤ 120 ms for the
whole ask (the reader issue's budget with the scorer: p95 ≤ 150 ms).
"""

from __future__ import annotations

import time
from collections import defaultdict

import _bench

from embeddings.encoder import make_encoder
from retrieval.pipeline import Pipeline
from retrieval.reading import shipped_reading

TARGETS_MS = {"p50": 50, "p95": 120}
WARMUP = 20


def clock(target, name: str, timings: dict[str, list[float]], label: str) -> None:
    """Replace `target.name` by a wrapper that adds each call's milliseconds to `timings[label]`."""
    inner = getattr(target, name)

    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timings[label].append((time.perf_counter() - began) * 1000)

    setattr(target, name, wrapper)


def measure(pipeline: Pipeline, questions: list[str]) -> dict[str, list[float]]:
    """Ask every question once; milliseconds per stage and in all, one entry per question."""
    timings: dict[str, list[float]] = defaultdict(list)
    index = pipeline.index
    for target, name, label in ((pipeline.encoder, "encode", "embed"), (pipeline.retriever, "run", "search"),
                                (index.passage_vectors, "search", "faiss"), (index, "lexical_search", "lexical"),
                                (pipeline.answerer, "run", "scoring"),
                                *([(pipeline.answerer.reading.scorer, "scores", "reading")]
                                  if pipeline.answerer.reading else [])):
        clock(target, name, timings, label)
    for question in questions:
        began = time.perf_counter()
        pipeline.ask(question)
        timings["ask"].append((time.perf_counter() - began) * 1000)
    return timings


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "use the index of an N-article sample instead of the full one")
    p.add_argument("--questions", type=int, default=200, help="how many questions to time (default 200)")
    _bench.add_reader_option(p)
    args = p.parse_args()
    root = _bench.cached_index(args.data, args.backend, args.limit)
    pipeline = Pipeline(root, make_encoder(args.backend), reading=shipped_reading() if args.reader else None)
    asked = _bench.questions(args.data, args.questions + WARMUP)
    for question in asked[:WARMUP]:
        pipeline.ask(question)
    timings = measure(pipeline, asked[WARMUP:])
    labels = {"ask": "ask (total)", "embed": "embed question", "search": "search (all)",
              "faiss": "  FAISS passages", "lexical": "  BM25 (Tantivy; FTS5 without it)", "scoring": "scoring",
              "reading": "  reading"}
    rows = [{"stage": label, "p50 ms": _bench.percentile(timings[key], 50),
             "p95 ms": _bench.percentile(timings[key], 95), "mean ms": sum(timings[key]) / len(timings[key])}
            for key, label in labels.items() if timings[key]]
    total = timings["ask"]
    met = all(_bench.percentile(total, int(k[1:])) <= v for k, v in TARGETS_MS.items())
    _bench.emit("bench_latency", rows, args.json, backend=args.backend, reader=args.reader, index=str(root),
                sentences=pipeline.stats()["sentences"], passages=pipeline.stats()["passages"],
                questions=len(total), target="p50 <= 50 ms, p95 <= 120 ms", met=met)


if __name__ == "__main__":
    main()
