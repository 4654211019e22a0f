"""Build throughput: the whole `newsdesk index` pipeline against a bare encode of exactly the texts it embeds.

    python scripts/bench_build.py [--limit N] [--backend onnx|onnx-int8|torch] [--json]
    python scripts/bench_build.py --ray [--limit 1000]

The pipeline (reading, cleaning, splitting, embedding, FAISS, SQLite, the atomic write) runs in-process
with the model already loaded; then the same model encodes the very texts the pipeline embedded, in
one call. Target: pipeline time ≤ 1.1 × that raw encode. A first, unrecorded round warms the model up
(ONNX Runtime sizes its memory on first use, which would otherwise fall on the pipeline alone). The
index built here is kept in the benchmark cache, where bench_incremental/latency/coldstart/memory
reuse it.

With --ray: the same articles built by `newsdesk index` locally and through a Ray cluster on this machine's
loopback addresses (scripts/_ray_cluster.py) of 1, then 2 worker nodes of one CPU slot each (the head node
holds none: it only coordinates), each a fresh build in-process; then the fixed cost of a Ray run at sample
size (the bundled 15 articles), through that cluster and through a local Ray started for the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import _bench

from embeddings.encoder import make_encoder
from embeddings.indexer import Indexer
from embeddings.loaders import load_paths

TARGET = 1.1


class RecordingEncoder:
    """Passes encode() through to the real encoder, keeping the texts and the time spent in the model."""

    def __init__(self, encoder):
        self.encoder, self.texts, self.seconds = encoder, [], 0.0
        self.name, self.dim, self.backend = encoder.name, encoder.dim, encoder.backend

    def load(self) -> None:
        self.encoder.load()

    def encode(self, texts, progress=None):
        began = time.perf_counter()
        vectors = self.encoder.encode(texts, progress)
        self.seconds += time.perf_counter() - began
        self.texts.extend(texts)
        return vectors


def one_round(encoder, folder, root) -> dict:
    """One pipeline build and one raw encode of the texts it embedded: seconds of each, and counts."""
    recorder = RecordingEncoder(encoder)
    indexer = Indexer(root, recorder, show_progress=False)
    pipeline, report = _bench.timed(indexer.run, load_paths([folder]), prune=[folder], rebuild=True)
    rss = _bench.peak_rss_mb()
    raw, _ = _bench.timed(encoder.encode, recorder.texts)
    return {"pipeline": pipeline, "model": recorder.seconds, "raw": raw, "texts": len(recorder.texts),
            "articles": len(report.added), "rss": rss}


def build_seconds(folder: Path, root: Path, encoder, cluster=None) -> tuple[float, int]:
    """Seconds of one fresh `newsdesk index` of `folder` (embedding here, or on `cluster`), and its sentences."""
    indexer = Indexer(root, encoder, show_progress=False, cluster=cluster)
    seconds, report = _bench.timed(indexer.run, load_paths([folder]), prune=[folder], rebuild=True)
    return seconds, report.sentences


def ray_rows(folder: Path, backend: str) -> list[dict]:
    """Local against Ray builds of the same articles, then the fixed cost of a Ray run at sample size."""
    from _ray_cluster import LoopbackCluster

    from embeddings.ray_build import RayEmbedder

    encoder, sample = make_encoder(backend), _bench.REPO / "sample" / "articles"
    encoder.load()
    scratch, rows = Path(tempfile.mkdtemp(prefix="bench-ray-")), []

    def row(run: str, articles: Path, cluster=None) -> dict:
        seconds, sentences = build_seconds(articles, scratch / run.replace(" ", "-"), encoder, cluster)
        rows.append({"run": run, "seconds": round(seconds, 1), "sentences": sentences,
                     "sentences/s": round(sentences / seconds)})
        return rows[-1]

    row("local pipeline", folder)
    nodes = LoopbackCluster(cpus=0)
    os.environ.update(nodes.client_env)
    try:
        for count, ip in enumerate(["127.0.0.3", "127.0.0.4"], start=1):
            nodes.add_node(ip, cpus=1)
            row(f"ray, {count} worker node{'s' * (count > 1)}", folder, RayEmbedder(nodes.address, backend))
        local = row("sample, local", sample)["seconds"]
        through = row("sample, ray cluster", sample, RayEmbedder(nodes.address, backend))
        through["overhead s"] = round(through["seconds"] - local, 1)
    finally:
        nodes.stop()
    started = row("sample, ray started for the run", sample, RayEmbedder(None, backend))
    started["overhead s"] = round(started["seconds"] - local, 1)
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=1, help="rounds of pipeline + raw encode; medians are reported")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the unrecorded first round (its one-off costs are negligible on the full corpus)")
    p.add_argument("--ray", action="store_true", help="local against Ray builds (1 and 2 worker nodes on loopback)")
    args = p.parse_args()
    folder = _bench.corpus(args.data, args.limit)
    if args.ray:
        _bench.emit("bench_build --ray", ray_rows(folder, args.backend), args.json, backend=args.backend)
        return
    encoder = make_encoder(args.backend)
    encoder.load()
    root = _bench.index_dir(args.backend, args.limit)
    if not args.no_warmup:
        one_round(encoder, folder, root)  # unrecorded: the first use of the model pays one-off set-up costs
    rounds = [one_round(encoder, folder, root) for _ in range(args.repeat)]
    pipeline, model, raw = (_bench.median([r[key] for r in rounds]) for key in ("pipeline", "model", "raw"))
    count = rounds[0]["texts"]
    rows = [
        {"stage": "pipeline (newsdesk index)", "seconds": pipeline, "sentences/s": count / pipeline},
        {"stage": "  of which in the model", "seconds": model, "sentences/s": count / model},
        {"stage": "raw encode of the same texts", "seconds": raw, "sentences/s": count / raw},
    ]
    ratios = [r["pipeline"] / r["raw"] for r in rounds]
    _bench.emit("bench_build", rows, args.json, backend=args.backend, articles=rounds[0]["articles"],
                sentences=count, rounds=len(rounds), ratio=round(_bench.median(ratios), 3),
                ratios=[round(x, 3) for x in ratios], target=f"<= {TARGET}", met=_bench.median(ratios) <= TARGET,
                peak_rss_mb=round(rounds[0]["rss"]))

if __name__ == "__main__":
    main()
