"""bench_scale.py's serving process: opens the index as `newsdesk serve` does, asks the questions, and
prints its figures as one JSON object (a process of its own, so its peak memory is the server's)."""

from __future__ import annotations

import json
import sys
import time

import _bench

from embeddings.encoder import make_encoder
from retrieval.pipeline import Pipeline

WARM_UP = 10


def firsts(pipeline: Pipeline, questions: list[str]) -> list[str | None]:
    """The first quoted sentence of each answer (abstention off), or None."""
    return [next((s.text for s in pipeline.ask(q, abstain=False).sentences), None) for q in questions]


def timings(pipeline: Pipeline, questions: list[str]) -> dict:
    return _bench.p50_p95([_bench.timed(pipeline.ask, q)[0] * 1000 for q in questions])


def main() -> None:
    root, backend, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    encoder = make_encoder(backend)
    encoder.load()
    began = time.perf_counter()
    pipeline = Pipeline(root, encoder)
    pipeline.ask("what happened")  # opens the index and measures its level of chance
    opened = time.perf_counter() - began
    for question in questions["real"][:WARM_UP]:
        pipeline.ask(question)
    real, common = timings(pipeline, questions["real"]), timings(pipeline, questions["common"])
    searched = firsts(pipeline, questions["real"])
    peak, resident = _bench.peak_rss_mb(), _bench.resident_mb()  # before the exact searches, which touch every vector
    for part in pipeline.index.passage_vectors.parts:  # the same questions with every segment searched exactly
        part.graph = None
    exact = firsts(pipeline, questions["real"])
    print(json.dumps({"segments": pipeline.index.segments, "open s": round(opened, 1), "peak RSS MB": round(peak),
                      "RSS anon MB": resident["anon"], "RSS file MB": resident["file"],
                      "real p50 ms": real["p50 ms"], "real p95 ms": real["p95 ms"],
                      "common p50 ms": common["p50 ms"], "common p95 ms": common["p95 ms"],
                      "first sentence as exact": round(sum(a == b for a, b in zip(searched, exact)) / len(exact), 3)}))


if __name__ == "__main__":
    main()
