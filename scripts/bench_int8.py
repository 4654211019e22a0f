"""int8 dynamic quantisation of the ONNX model: throughput, query time and answer quality against fp32.

    python scripts/bench_int8.py [--limit ARTICLES] [--questions 2000] [--rounds 3] [--json]

The int8 model is made with onnxruntime's quantize_dynamic from the cached fp32 export and put in a
cache of its own, so `newsdesk eval` (MRR on SQuAD v1.1 dev, ReQA-style) runs on it unchanged through
XDG_CACHE_HOME. Rule: keep int8 only if it is faster here and loses at most 1% MRR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _bench

from embeddings.encoder import packaged_model_path
from embeddings.loaders import load_paths
from embeddings.onnx_encoder import OnnxEncoder, cache_dir, exported_model
from embeddings.segment import split_sentences

INT8_HOME = _bench.CACHE / "int8-cache-home"


def int8_model(fp32: Path) -> Path:
    """The int8 copy of the fp32 model, under a cache home of its own with the file name OnnxEncoder expects."""
    target = INT8_HOME / "newsdesk" / "onnx" / fp32.name
    if not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        target.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
    return target


def speed(caches: dict[str, Path], texts: list[str], questions: list[str], rounds: int) -> dict[str, dict]:
    """Sentences/s and ms per question of each variant, alternating variants round by round (medians)."""
    encoders = {name: OnnxEncoder(cache=cache) for name, cache in caches.items()}
    seen: dict[str, dict[str, list[float]]] = {name: {"batch": [], "query": []} for name in caches}
    for _ in range(rounds):
        for name, encoder in encoders.items():
            encoder.load()
            seen[name]["batch"].append(len(texts) / _bench.timed(encoder.encode, texts)[0])
            seen[name]["query"] += [_bench.timed(encoder.encode, [q])[0] * 1000 for q in questions]
    return {name: {"sentences/s": _bench.median(s["batch"]), "query ms": _bench.median(s["query"])}
            for name, s in seen.items()}


def mrr(cache_home: Path | None, data: Path, questions: int) -> dict:
    """P@1 and MRR of `newsdesk eval` on the first SQuAD v1.1 dev questions, with the model from `cache_home`."""
    env = {**os.environ, "NEWSDESK_BACKEND": "onnx"} | ({"XDG_CACHE_HOME": str(cache_home)} if cache_home else {})
    files = sorted(str(f) for f in (data / "qa").glob("squad_v1.1_dev.part*.jsonl"))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "eval", *files, "--limit", str(questions), "--json"],
                            env=env, cwd=_bench.REPO, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        sys.exit(f"newsdesk eval failed: {result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {key: value for key, value in report.items() if key.lower() in ("mrr", "p@1", "p_at_1", "precision@1")}


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "articles whose sentences are timed (default 300)")
    p.add_argument("--questions", type=int, default=2000, help="SQuAD questions for MRR (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (default 3)")
    args = p.parse_args()
    fp32 = exported_model(Path(packaged_model_path()))
    caches = {"fp32": cache_dir(), "int8": int8_model(fp32).parent}
    articles = [a for a in load_paths([_bench.corpus(args.data, args.limit or 300)]) if hasattr(a, "text")]
    texts = [s.text for a in articles for s in split_sentences(a)]
    timing = speed(caches, texts, _bench.questions(args.data, 50), args.rounds)
    rows = []
    for name, home in (("fp32", None), ("int8", INT8_HOME)):
        model = caches[name] / fp32.name
        rows.append({"model": name, "MB": model.stat().st_size / 2**20, **timing[name],
                     **mrr(home, args.data, args.questions)})
    _bench.emit("bench_int8", rows, args.json, sentences=len(texts), questions=args.questions,
                rule="keep int8 only if faster and MRR loss <= 1%")


if __name__ == "__main__":
    main()
