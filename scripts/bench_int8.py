"""int8 quantisation of the ONNX model ("onnx-int8") against fp32 ("onnx"): speed, answer quality, batch effects.

    python scripts/bench_int8.py [--limit ARTICLES] [--questions 2000] [--rounds 3] [--json]

Throughput on the sentences of a sample of news articles and time per question, alternating the two
models round by round; MRR and P@1 from `newsdesk eval` on the first SQuAD v1.1 dev questions
(ReQA-style: every sentence of the dev paragraphs is a candidate); and how far a sentence's vector
moves when it is embedded alone instead of in its batch (0 means an updated index can equal a fresh
build). Rule: keep int8 only if it is faster here and loses at most 1% MRR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import _bench
import numpy as np

from embeddings.encoder import make_encoder
from embeddings.loaders import load_paths
from embeddings.segment import split_sentences

BACKENDS = ("onnx", "onnx-int8")


def speed(texts: list[str], questions: list[str], rounds: int) -> dict[str, dict]:
    """Sentences/s and ms per question of each backend, alternating backends round by round (medians)."""
    encoders = {name: make_encoder(name) for name in BACKENDS}
    seen: dict[str, dict[str, list[float]]] = {name: {"batch": [], "query": []} for name in BACKENDS}
    for _ in range(rounds):
        for name, encoder in encoders.items():
            encoder.load()
            seen[name]["batch"].append(len(texts) / _bench.timed(encoder.encode, texts)[0])
            seen[name]["query"] += [_bench.timed(encoder.encode, [q])[0] * 1000 for q in questions]
    return {name: {"sentences/s": _bench.median(s["batch"]), "query ms": _bench.median(s["query"])}
            for name, s in seen.items()}


def batch_effect(backend: str, texts: list[str]) -> float:
    """The largest change in any vector component when each of `texts` is embedded alone, not in a batch."""
    encoder = make_encoder(backend)
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    return float(np.abs(together - alone).max())


def quality(backend: str, data, questions: int) -> dict:
    """P@1 and MRR of `newsdesk eval` on the first SQuAD v1.1 dev questions with `backend`."""
    files = sorted(str(f) for f in (data / "qa").glob("squad_v1.1_dev.part*.jsonl"))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "eval", *files, "--limit", str(questions), "--json"],
                            env={**os.environ, "NEWSDESK_BACKEND": backend}, cwd=_bench.REPO,
                            capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        sys.exit(f"newsdesk eval failed: {result.stderr[-2000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"P@1": report["P@1"], "MRR": report["MRR"]}


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "articles whose sentences are timed (default 300)")
    p.add_argument("--questions", type=int, default=2000, help="SQuAD questions for MRR (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (default 3)")
    args = p.parse_args()
    articles = [a for a in load_paths([_bench.corpus(args.data, args.limit or 300)]) if hasattr(a, "text")]
    texts = [s.text for a in articles for s in split_sentences(a)]
    timing = speed(texts, _bench.questions(args.data, 50), args.rounds)
    rows = [{"backend": name, **timing[name], **quality(name, args.data, args.questions),
             "batch effect": batch_effect(name, texts[:200])} for name in BACKENDS]
    _bench.emit("bench_int8", rows, args.json, sentences=len(texts), questions=args.questions,
                rule="keep int8 only if faster and MRR loss <= 1%")


if __name__ == "__main__":
    main()
