"""Serving at scale: an index of N articles measured as a user serves it.

    python scripts/bench_scale.py --articles N [--index DIR] [--questions 150] [--json]

The index holds the real BBC and Reuters articles (embedded for real) and, up to N, synthetic articles
(scripts/synthetic_corpus.py: real sentences recombined, each distinct sentence embedded once and its
vector reused with a small perturbation; it says so). With --index DIR the index is kept there, and anyone
can then ask it with the ordinary CLI (`newsdesk ask --index DIR`, `newsdesk serve --index DIR`).

Measured: the build time of each part; a serving process's open time, peak RSS and warm `ask` p50 / p95
over the chat questions about the real articles plus 50 questions of common words only; a cold one-shot
`newsdesk ask` (median of 3); and how often the first quoted sentence equals the one an exact passage
search gives (it differs only where a segment is searched through its HNSW graph).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _bench
import synthetic_corpus

COMMON = ["what did the government say about the economy", "what did the company say about the results",
          "what did the minister say", "how much will it cost", "what happened last year",
          "who said it would be a good year", "what are the plans for the future", "what did the report find",
          "why did the prices go up", "what will happen next"]
SUBJECTS = ["", " this week", " in the end", " after all", " now"]
SERVE = Path(__file__).with_name("_scale_serve.py")


def common_questions() -> list[str]:
    """50 questions of common words only: the worst case for lexical search."""
    return [q + s for q in COMMON for s in SUBJECTS]


def real_questions(count: int) -> list[str]:
    """Chat questions (both halves: nothing is fitted here) about the BBC and Reuters articles."""
    records = [json.loads(line) for half in ("fit", "test")
               for line in (_bench.REPO / "tests" / "data" / f"chat_questions.{half}.jsonl").read_text().splitlines()]
    about = [r["question"] for r in records if r["context_title"].startswith(("bbc-", "reuters"))]
    return about[:: max(len(about) // count, 1)][:count]


def build(root: Path, articles: int, encoder, data: Path, limit: int | None) -> dict:
    """The real corpus, then synthetic articles up to `articles`; each part's seconds (0 when kept)."""
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from embeddings.storage.reader import IndexReader

    times = {"real s": 0.0, "synthetic s": 0.0}
    if not (root / ".real").exists():
        folder = _bench.corpus(data, limit)
        times["real s"], _ = _bench.timed(Indexer(root, encoder).run, load_paths([folder]), [folder])
        (root / ".real").write_text("")
    reader = IndexReader.open(root)
    have, real = reader.stats()["articles"], int(reader.db.execute(
        "SELECT COUNT(*) FROM articles WHERE id NOT LIKE 'synthetic-%'").fetchone()[0])
    reader.close()
    if have < articles:
        began = time.perf_counter()
        synthetic_corpus.build(root, articles - have, encoder, data, first=have - real)
        times["synthetic s"] = time.perf_counter() - began
    return times


def cold_ask(root: Path, question: str, backend: str) -> float:
    """Seconds of one `newsdesk ask` process from start to answer, median of 3."""
    def once() -> float:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "ask", question, "--index", str(root)], cwd=_bench.REPO,
                       capture_output=True, check=True, env={**os.environ, "NEWSDESK_BACKEND": backend})
        return time.perf_counter() - began
    return _bench.median([once() for _ in range(3)])


def main() -> None:
    from embeddings.encoder import make_encoder

    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--articles", type=int, required=True, help="articles in the index (real ones included)")
    p.add_argument("--index", type=Path, help="build (or reuse) the index here and keep it")
    p.add_argument("--questions", type=int, default=150, help="chat questions about the real articles")
    args = p.parse_args()
    root = args.index or _bench.CACHE / f"scale-{args.backend}-{args.limit or 'all'}-{args.articles}"
    encoder = make_encoder(args.backend)
    encoder.load()
    times = build(root, args.articles, encoder, args.data, args.limit)
    questions = {"real": real_questions(args.questions), "common": common_questions()}
    served = subprocess.run([sys.executable, str(SERVE), str(root), args.backend, json.dumps(questions)],
                            capture_output=True, text=True, check=True)
    row = {"articles": args.articles, **{k: round(v, 1) for k, v in times.items()}, **json.loads(served.stdout),
           "cold ask s": round(cold_ask(root, questions["real"][0], args.backend), 2)}
    _bench.emit("bench_scale", [row], args.json, backend=args.backend, index=str(root), note=synthetic_corpus.NOTE)


if __name__ == "__main__":
    main()
